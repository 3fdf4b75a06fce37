"""One error format: every keyword error reads ``ERROR: Fix quests ID: <message>``
with the same message on the plugin (the wheel's lmp) and on python/invoke (Debian's
/usr/bin/lmp); no exception class names, no misleading prefix. Also on python/invoke: the save
file checked at setup and the hard halt standing alone after the save lines."""

from __future__ import annotations

import re

import pytest

from fix_support import cu_crystal
from test_invoke_route import cu_case, md_deck, route_lines, run_debian  # noqa: F401 (fixtures)

KEYWORD_ERRORS = [
    ("thresh 0", "unknown keyword 'thresh'; valid keywords are bandwidth, threshold, halt, save"),
    ("bandwidth -0.1", "bandwidth must lie between 0.0001 and 10 Å^-1, got -0.1"),
    ("threshold abc", "keyword threshold expects a value in nats: threshold t, got 'abc'"),
    ("halt 1.0 maybe", "halt mode must be 'soft' or 'hard', got 'maybe'"),
    ("halt 1 soft halt 2 hard", "keyword halt is given twice; give it once"),
    ("save 1.0", "keyword save expects a threshold in nats and a file name"),
    ("save 0 s.xyz cut 0", "cut must be a radius > 0 Å, e.g. 6.5; got 0.0"),
    ("save 0 s.xyz seed maybe", "save ... seed expects yes or no, got 'maybe'"),
    ("k 1", "k must be an integer >= 2 (neighbours per descriptor), got 1"),
    ("cutoff -1", "cutoff must be a distance > 0 Å, e.g. 5.0; got -1.0"),
    ("elements Xx", "keyword elements: Xx is not an element symbol"),
    ("fast 2", "fast must be a number of nats between 0 and 1 (exclusive)"),
]


def plugin_message(result) -> str:
    lines = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert result.returncode != 0 and len(lines) == 1, result.stdout[-3000:]
    return re.sub(r" \([^()]*fix_quests\.cpp:\d+\)$", "", lines[0])


def invoke_message(result) -> str:
    lines = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert result.returncode != 0 and len(lines) == 1, result.stdout[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


@pytest.mark.parametrize("keywords, expected", KEYWORD_ERRORS, ids=[k for k, _ in KEYWORD_ERRORS])
def test_keyword_error_reads_the_same_on_both_routes(run_lmp, run_debian, cu_case, tmp_path,  # noqa: F811
                                                     keywords, expected):
    reference, data = cu_case
    (tmp_path / "plugin").mkdir()
    plugin = plugin_message(run_lmp(cu_crystal(2) + f"fix q all quests 10 {reference} {keywords}\nrun 0\n",
                                    tmp_path / "plugin", timeout=120))
    invoke = invoke_message(run_debian(md_deck(data, route_lines(reference, keywords), "d_dH"),
                                       tmp_path / "invoke"))
    for line in (plugin, invoke):
        assert line.startswith(f"ERROR: Fix quests q: {expected}"), line
        assert "Error" not in line and "failed" not in line and "reading reference" not in line, line
    assert plugin == invoke


def test_save_file_checked_at_setup_on_invoke(run_debian, cu_case, tmp_path):  # noqa: F811
    reference, data = cu_case
    result = run_debian(md_deck(data, route_lines(reference, "save 0 nowhere/s.xyz"), "d_dH"), tmp_path)
    line = invoke_message(result)
    assert line.startswith("ERROR: Fix quests q: save file nowhere/s.xyz: directory does not exist ("), line
    assert line.endswith("nowhere); create it first"), line


def test_hard_halt_after_save_lines_on_invoke(run_debian, cu_case, tmp_path):  # noqa: F811
    reference, data = cu_case
    deck = md_deck(data, "change_box all x scale 1.15 remap\n" + route_lines(reference, "save 0 s.xyz halt 0 hard"),
                   "d_dH")
    result = run_debian(deck, tmp_path)
    line = invoke_message(result)
    assert re.fullmatch(r"ERROR: Fix quests q: max dH = \S+ nats > halt threshold 0 at step 0; \d+ atoms "
                        r"with dH > 0", line), line
    before = result.stdout.split(line)[0]
    assert "appended to s.xyz" in before and "fix quests q: 1 structure(s) with" in before


# ---- python/invoke: one writer per save file; a full disk ---------

def two_fixes(reference, save: str) -> str:
    return ("fix dH all property/atom d_dH d_dH2\n"
            f'python quests input 2 SELF "q all 10 {reference} d_dH save 0 {save}" format ps file quests.py\n'
            "python quests invoke\n"
            f'python quests input 2 SELF "r all 10 {reference} d_dH2 save 0 {save}" format ps file quests.py\n'
            "python quests invoke\n")


@pytest.mark.parametrize("ranks", [1, 2])
def test_two_fixes_saving_into_one_file_are_refused_on_invoke(run_debian, cu_case, tmp_path, ranks):  # noqa: F811
    reference, data = cu_case
    deck = md_deck(data, "change_box all x scale 1.15 remap\n" + two_fixes(reference, "s.xyz"), "d_dH")
    result = run_debian(deck, tmp_path, np_ranks=ranks, timeout=120)
    line = invoke_message(result)
    where = "ERROR on proc 0" if ranks > 1 else "ERROR"
    assert line.startswith(f"{where}: Fix quests r: save file s.xyz is already being saved to by another fix, "
                           "monitor or run (held by pid "), line
    assert result.stdout.count("Loop time") == 1  # q's evaluation at setup; r stopped before any
    assert "Fix quests r" not in result.stdout.replace(line, "")


def test_a_full_disk_stops_the_invoke_run_naming_the_file(run_debian, cu_case, tmp_path):  # noqa: F811
    import ase.io

    from mounts import tmpfs

    reference, data = cu_case
    with tmpfs(tmp_path / "disk", size="64k") as disk:
        deck = md_deck(data, "change_box all x scale 1.15 remap\n" +
                       route_lines(reference, f"save 0 {disk}/s.xyz every"), "d_dH", steps=200)
        result = run_debian(deck, tmp_path / "run", timeout=300)
        lines = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
        assert result.returncode != 0 and lines, result.stdout[-3000:]
        assert f"{disk}/s.xyz: appending a structure failed (No space left on device)" in lines[0], lines
        assert "cut back to its last complete structure" in lines[0], lines
        frames = ase.io.read(disk / "s.xyz", ":")
        assert len(frames) >= 1 and all(len(atoms) == 256 for atoms in frames)


def test_quests_lammps_python_naming_no_package_stops_the_deck(run_debian, cu_case, tmp_path):  # noqa: F811
    reference, data = cu_case
    (tmp_path / "empty").mkdir()
    result = run_debian(md_deck(data, route_lines(reference), "d_dH"), tmp_path / "run",
                        extra_env={"QUESTS_LAMMPS_PYTHON": str(tmp_path / "empty")})
    line = invoke_message(result)
    assert line.startswith(f"ERROR: lammps-quests: QUESTS_LAMMPS_PYTHON={tmp_path / 'empty'} holds no `lammps` "
                           "Python package"), line


def test_a_save_file_on_a_read_only_file_system_is_refused_on_invoke(run_debian, cu_case, tmp_path):  # noqa: F811
    from mounts import tmpfs

    reference, data = cu_case
    with tmpfs(tmp_path / "ro", read_only=True) as directory:
        deck = md_deck(data, route_lines(reference, f"save 0 {directory}/s.xyz"), "d_dH")
        result = run_debian(deck, tmp_path / "run")
        line = invoke_message(result)
        assert line == f"ERROR: Fix quests q: save file {directory}/s.xyz cannot be written (read-only file system)"


def test_the_save_lock_goes_with_the_run_on_invoke(run_debian, cu_case, tmp_path):  # noqa: F811
    reference, data = cu_case
    deck = md_deck(data, "change_box all x scale 1.15 remap\n" + route_lines(reference, "save 0 s.xyz"), "d_dH")
    result = run_debian(deck, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "s.xyz").exists() and not (tmp_path / "s.xyz.lock").exists()
