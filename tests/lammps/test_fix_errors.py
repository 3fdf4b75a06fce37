"""Bad input to fix quests ends LAMMPS with one readable ERROR line (no Python traceback), on
one rank and on several, including a Python failure that happens on one rank only; a bug in
the Python side (any exception that is not a user error of lammps_quests.errors) ends it with
one ERROR line naming it a bug, with its type, message and raising line."""

from __future__ import annotations

from pathlib import Path

import pytest

from errors_support import planted_line
from fix_support import cu_crystal, requires_plugin

pytestmark = requires_plugin


def single_error(result) -> str:
    """The one ERROR line of a failed run; no traceback, no hang (run_lmp has a timeout)."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, output[-2000:]
    assert "Traceback" not in output
    return errors[0]


@pytest.mark.parametrize(
    "fix_args, expected",
    [
        ("10 missing.qref", ["missing.qref", "cannot be read", "lammps-quests reference build"]),
        ("10 garbage.qref", ["garbage.qref"]),
        ("0 REF", ["N must be a positive number of steps, got 0"]),
        ("-5 REF", ["N must be a positive number of steps, got -5"]),
        ("10 REF colour red", ["unknown keyword 'colour'", "valid keywords"]),
        ("10 REF halt 1.0 maybe", ["halt mode must be 'soft' or 'hard'", "'maybe'"]),
        ("10 REF halt 1.0", ["keyword halt expects", "halt t soft|hard"]),
        ("10 REF bandwidth -0.1", ["bandwidth must lie between 0.0001 and 10", "got -0.1"]),
        ("10 REF bandwidth 1e-300", ["bandwidth must lie between 0.0001 and 10", "got 1e-300"]),
        ("10 REF k 16", ["built with k = 32", "asks for k = 16", "--k 16"]),
        ("10 REF cutoff 4.0", ["built with cutoff = 5.0", "asks for cutoff = 4.0", "--cutoff 4.0"]),
        ("10", ["missing arguments", "usage: fix ID group-ID quests N reference-file"]),
        ("10 REF save 1.0 out.xyz cut 4.0", ["cut radius 4.0", "smaller than the descriptor cutoff 5.0",
                                             "use a radius >= 5.0"]),
        ("10 REF save 1.0 out.xyz cut", ["keyword save ... cut expects", "save t file cut R"]),
    ],
)
def test_bad_fix_arguments(run_lmp, cu_reference, tmp_path, fix_args, expected):
    (tmp_path / "garbage.qref").write_bytes(b"this is not a reference file\n" * 10)
    deck = cu_crystal(2) + f"fix q all quests {fix_args.replace('REF', str(cu_reference))}\nrun 0\n"
    error = single_error(run_lmp(deck, tmp_path, timeout=120))
    for phrase in expected:
        assert phrase in error, error


def test_units_must_be_angstrom(run_lmp, cu_reference, tmp_path):
    deck = f"""units lj
lattice fcc 0.8442
region box block 0 2 0 2 0 2
create_box 1 box
create_atoms 1 box
mass 1 1.0
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0
fix q all quests 10 {cu_reference}
run 0
"""
    error = single_error(run_lmp(deck, tmp_path))
    assert "units metal" in error and "units real" in error and "'lj'" in error


def test_failure_on_one_rank_stops_all(run_lmp, cu_reference, tmp_path):
    """Two coincident atoms on one rank: the neighbour kernel raises there only; every rank
    reports that rank's message and the job ends (no rank waits forever in a collective)."""
    deck = f"""units metal
lattice fcc 3.615
region box block 0 2 0 2 0 2
create_box 1 box
create_atoms 1 box
create_atoms 1 single 0 0 0 units box
pair_style eam/alloy
pair_coeff * * Cu_mishin1.eam.alloy Cu
fix q all quests 10 {cu_reference}
run 0
"""
    error = single_error(run_lmp(deck, tmp_path, np=2, timeout=120))
    assert error.startswith("ERROR: Fix quests q: atom at centre row")
    assert "two atoms coincide" in error and "(MPI rank " in error


# ---- a bug is not the user's mistake ------------------------------------------------------------

BUG_INJECTION = Path(__file__).resolve().parents[1] / "bug_injection"


def planted_bug_line() -> str:
    """``sitecustomize.py:N``: the line of tests/bug_injection/sitecustomize.py that raises."""
    return planted_line(BUG_INJECTION)


def assert_reported_as_bug(error: str) -> None:
    """The ERROR line of a bug: its type, numpy's message, the raising line, the package line
    that called it, and where to report it."""
    from lammps_quests.errors import BUG_REPORT

    assert "ValueError: cannot reshape array of size 0 into shape (3,)" in error, error
    assert planted_bug_line() in error, error
    assert "called from lammps_quests/" in error, error
    assert BUG_REPORT in error, error


@pytest.mark.parametrize("ranks", [1, 2])
def test_a_bug_in_an_evaluation_is_reported_as_a_bug(run_lmp, cu_reference, tmp_path, ranks):
    """A plain ValueError from numpy code inside the evaluation (planted by a test-only
    sitecustomize on PYTHONPATH) is not shown as an input error: LAMMPS's ERROR line names it a
    bug, with its type, message and line, and the job ends on every rank."""
    deck = cu_crystal(2) + f"fix q all quests 10 {cu_reference}\nrun 0\n"
    result = run_lmp(deck, tmp_path, np=ranks, timeout=120, extra_env={"PYTHONPATH": str(BUG_INJECTION)})
    error = single_error(result)
    assert error.startswith("ERROR: Fix quests q: computing dH failed"), error
    assert_reported_as_bug(error)


def test_a_user_error_is_not_reported_as_a_bug(run_lmp, cu_reference, tmp_path):
    """The converse, with the bug planted too (setup fails before any evaluation): a reference
    file that does not exist and a keyword value out of range are one clear message each."""
    from lammps_quests.errors import BUG_REPORT

    for fix_args, expected in [("10 missing.qref", "reference file missing.qref cannot be read"),
                               (f"10 {cu_reference} bandwidth -0.1", "bandwidth must lie between 0.0001 and 10")]:
        deck = cu_crystal(2) + f"fix q all quests {fix_args}\nrun 0\n"
        result = run_lmp(deck, tmp_path, timeout=120, extra_env={"PYTHONPATH": str(BUG_INJECTION)})
        error = single_error(result)
        assert error.startswith(f"ERROR: Fix quests q: {expected}"), error
        assert BUG_REPORT not in error and "failed" not in error, error
