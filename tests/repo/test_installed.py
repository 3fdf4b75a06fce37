"""The suite tests the installed package: in the pytest process, in the Python subprocesses it
starts, and a run that would import the source tree stops (tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import lammps_quests

CHECKOUT = Path(__file__).resolve().parents[2]
SITE = Path(sysconfig.get_paths()["purelib"]).resolve()


def test_this_process_imports_the_installed_package():
    assert Path(lammps_quests.__file__).resolve().is_relative_to(SITE)
    assert not Path(lammps_quests.__file__).resolve().is_relative_to(CHECKOUT / "lammps_quests")


def test_a_python_subprocess_imports_the_installed_package():
    """Started as the tests start them (``python -c``, no working directory given), which puts the
    working directory first on sys.path."""
    result = subprocess.run([sys.executable, "-c", "import lammps_quests; print(lammps_quests.__file__)"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == lammps_quests.__file__


def test_a_run_that_imports_the_source_tree_stops_with_the_fix(tmp_path):
    """``python -m pytest`` in the checkout puts the checkout first on sys.path."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
                             "--collect-only", "-q", "tests/repo/test_installed.py", "--basetemp", str(tmp_path)],
                            cwd=CHECKOUT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
    message = " ".join((result.stdout + result.stderr).split())
    assert f"lammps_quests was imported from {CHECKOUT / 'lammps_quests'}" in message, message
    assert "Install it with `pip install .` (not editable) and run `pytest`" in message, message
