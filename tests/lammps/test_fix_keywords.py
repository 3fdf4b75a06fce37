"""The keywords of fix quests are parsed on the Python side, one table for both routes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fix_support import cu_crystal, requires_plugin
from lammps_quests.lammps._keywords import parse_keywords
from lammps_quests.errors import KeywordError, OptionError

SRC = Path(__file__).resolve().parents[2] / "src"


def test_all_keywords_fill_the_options():
    options = parse_keywords("bandwidth 0.02 threshold 1.5 halt 3 hard save 0.5 new.xyz k 32 cutoff 5".split())
    shared = options.monitor
    assert (shared.bandwidth, shared.threshold) == (0.02, 1.5)
    assert (shared.halt_threshold, options.halt_mode) == (3.0, "hard")
    assert (shared.save_threshold, shared.save_path) == (0.5, "new.xyz")
    assert (shared.k, shared.cutoff) == (32, 5.0)


def test_save_takes_every_and_cut_in_any_order_before_the_next_keyword():
    options = parse_keywords("save 2 out.xyz cut 6.5 every halt 9 soft".split())
    shared = options.monitor
    assert (shared.save_threshold, shared.save_path, shared.save_cut) == (2.0, "out.xyz", 6.5)
    assert shared.deduplicate is False and options.halt_mode == "soft"
    plain = parse_keywords("save 2 out.xyz threshold 1".split()).monitor
    assert plain.deduplicate is True and plain.save_cut is None and plain.threshold == 1.0
    with pytest.raises(OptionError, match="radius > 0"):
        parse_keywords("save 2 out.xyz cut -1".split())


def test_defaults_without_keywords():
    options = parse_keywords([])
    assert options.monitor.bandwidth is None and options.halt_mode is None and options.monitor.save_path is None
    assert options.monitor.threshold == 0.0


@pytest.mark.parametrize("words, error, phrase", [
    ("threshold nan", OptionError, "threshold must be a finite number in nats"),
    ("threshold", KeywordError, "keyword threshold expects a value in nats"),
    ("k 2.5", KeywordError, "keyword k expects"),
    ("cutoff 0", OptionError, "cutoff must be a distance > 0"),
    ("save 1.0", KeywordError, "save t file"),
])
def test_bad_keywords_name_the_syntax(words, error, phrase):
    with pytest.raises(error, match=re.escape(phrase)):
        parse_keywords(words.split())


def test_the_fix_itself_includes_no_python_header():
    """The C++ fix talks to Python only through the typed calls of python_bridge.h."""
    for name in ("fix_quests.cpp", "fix_quests.h", "python_bridge.h"):
        text = (SRC / name).read_text()
        assert "Python.h" not in text and "PyObject" not in text, name


@requires_plugin
def test_empty_group_warns_once_and_reports_zeros(run_lmp, cu_reference, tmp_path):
    deck = cu_crystal(2) + f"""group nobody empty
fix q nobody quests 5 {cu_reference}
thermo_style custom step f_q[1] f_q[2] f_q[3] f_q[4]
thermo 5
run 10
"""
    result = run_lmp(deck, tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARNING") and "nobody" in line]
    assert len(warnings) == 1, result.stdout[-2000:]
    assert "has no atoms" in warnings[0]


@requires_plugin
def test_wrong_interpreter_is_named_with_the_way_to_choose_another(run_lmp, tmp_path):
    deck = cu_crystal(2) + "fix q all quests 5 any.qref\nrun 0\n"
    result = run_lmp(deck, tmp_path, timeout=120, extra_env={"QUESTS_PYTHON": "/nonexistent/python"})
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert result.returncode != 0 and len(errors) == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "/nonexistent/python" in errors[0] and "QUESTS_PYTHON" in errors[0], errors[0]
