"""The command line tells the user's mistakes from bugs: a user error is one ``Error:`` line
without a traceback; a bug (any other exception) shows its traceback, then one line naming its
type, its raising line and where to report it."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest

from cli_support import invoke
from crystals import rattled_frames, saved_cu_reference
from lammps_quests.errors import BUG_REPORT


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bug_reports")
    saved_cu_reference(directory)
    ase.io.write(directory / "test.xyz", rattled_frames("fcc", 3.615, 1, 0.05, 11))
    return directory


def planted(self, Y, labels=None, **kwargs):
    return np.asarray(Y)[:, :0].reshape(3)  # a bug in numpy code: cannot reshape


def test_a_bug_shows_its_traceback_and_one_line_naming_it(case, monkeypatch):
    from lammps_quests.dh import ReferenceDh

    monkeypatch.setattr(ReferenceDh, "__call__", planted)
    result = invoke("dh", "test.xyz", "-r", "cu.qref", cwd=case)
    assert result.exit_code == 1, result.output
    assert "Traceback (most recent call last)" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ValueError: cannot reshape array of size 0 into shape (3,) (at "), last
    assert "test_bug_reports.py:" in last and "called from lammps_quests/" in last and last.endswith(BUG_REPORT)


@pytest.mark.parametrize("arguments, expected", [
    (("dh", "test.xyz", "-r", "missing.qref"), "missing.qref"),
    (("dh", "test.xyz", "-r", "cu.qref", "--bandwidth", "-1"), "bandwidth must lie between"),
])
def test_a_user_error_is_one_line_without_traceback(case, arguments, expected):
    result = invoke(*arguments, cwd=case)
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output and BUG_REPORT not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and expected in errors[0], result.stderr
