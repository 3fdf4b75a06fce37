"""Commands that write files: never over an input, never over an existing file without
--force, nothing claimed that was not written; stale indexes removed; clear messages for a
reference given as structures, a stale index, same-named files; progress on a terminal; no
stray colour codes at exit."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import ase.io
import pytest
from click.testing import CliRunner

from crystals import rattled_frames
from lammps_quests.cli import main
from lammps_quests.formats._reference import Reference

BIN_DIR = Path(sys.executable).parent


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    directory = tmp_path_factory.mktemp("safety_cli")
    Reference.build(rattled_frames("fcc", 3.615, 2, 0.03, 1), k=32, cutoff=5.0).save(directory / "ref.qref")
    ase.io.write(directory / "pool.xyz", rattled_frames("fcc", 3.615, 4, 0.3, 2))
    return directory


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_select_never_overwrites_its_pool_or_an_existing_file(case, tmp_path):
    pool, ref = case / "pool.xyz", case / "ref.qref"
    before = pool.read_bytes()
    onto_input = run("select", pool, "-r", ref, "-o", pool, "--force")
    assert onto_input.exit_code == 2 and "is also an input" in onto_input.output
    assert pool.read_bytes() == before
    existing = tmp_path / "picked.xyz"
    existing.write_text("keep me\n")
    refused = run("select", pool, "-r", ref, "-o", existing)
    assert refused.exit_code == 2 and "pass --force" in refused.output
    assert existing.read_text() == "keep me\n"
    forced = run("select", pool, "-r", ref, "-o", existing, "--force", "--max", "1")
    assert forced.exit_code == 0, forced.output
    assert len(ase.io.read(existing, ":")) == 1


def test_select_with_no_pick_writes_nothing_and_says_so(case, tmp_path):
    out = tmp_path / "none.xyz"
    result = run("select", case / "pool.xyz", "-r", case / "ref.qref", "-o", out, "--until", "1000")
    assert result.exit_code == 0, result.output
    assert "0 pick(s)" in result.output and "nothing written" in result.output
    assert "written to" not in result.output and not out.exists()


@pytest.mark.parametrize("command", [
    ["compress", "POOL", "--fraction", "0.5", "-o", "OUT"],
    ["dh", "POOL", "-r", "REF", "-o", "OUT"],
    ["clusters", "POOL", "-r", "REF", "--csv", "OUT"],
])
def test_writing_commands_need_force(case, tmp_path, command):
    out = tmp_path / ("out.csv" if "--csv" in command else "out.xyz")
    out.write_text("keep me\n")
    args = [{"POOL": case / "pool.xyz", "REF": case / "ref.qref", "OUT": out}.get(a, a) for a in command]
    refused = run(*args)
    assert refused.exit_code == 2 and "pass --force" in refused.output, refused.output
    assert out.read_text() == "keep me\n"
    onto_input = run(*[case / "pool.xyz" if a == out else a for a in args], "--force")
    assert onto_input.exit_code == 2 and "is also an input" in onto_input.output
    assert run(*args, "--force").exit_code == 0


def test_reference_build_force_removes_the_old_fast_index(case, tmp_path):
    out = tmp_path / "r.qref"
    assert run("reference", "build", out, case / "pool.xyz", "--fast-index").exit_code == 0
    index = Path(str(out) + ".qidx")
    assert index.exists()
    again = run("reference", "build", out, case / "pool.xyz", "--index", "0", "--force")
    assert again.exit_code == 0, again.output
    assert not index.exists() and f"removed {index}" in again.output


def test_stale_fast_index_exits_1_without_usage(case, tmp_path):
    out = tmp_path / "r.qref"
    assert run("reference", "build", out, case / "pool.xyz", "--fast-index").exit_code == 0
    index = Path(str(out) + ".qidx")
    kept = index.read_bytes()
    assert run("reference", "build", out, case / "pool.xyz", "--index", "0", "--force").exit_code == 0
    index.write_bytes(kept)  # the index of the previous reference, now stale
    result = run("dh", case / "pool.xyz", "-r", out, "--fast")
    assert result.exit_code == 1, result.output
    assert "Usage:" not in result.output and "reference index" in result.output


def test_entropy_of_a_reference_file_says_what_to_pass(case):
    result = run("entropy", case / "ref.qref")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "is a reference file (.qref), not structures" in result.output
    assert "reference info" in result.output and "UnknownFileTypeError" not in result.output


def test_entropy_labels_same_named_files_by_path(case, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        ase.io.write(tmp_path / folder / "x.xyz", rattled_frames("fcc", 3.615, 1, 0.1, ord(folder)))
    result = run("entropy", tmp_path / "a" / "x.xyz", tmp_path / "b" / "x.xyz", "--json")
    assert result.exit_code == 0, result.output
    import json

    names = [row["name"] for row in json.loads(result.output)["datasets"]]
    assert len(set(names)) == 2 and names[0].endswith("a/x.xyz") and names[1].endswith("b/x.xyz")


def terminal_output(args, cwd) -> str:
    """Everything a command writes to a terminal (a pseudo-terminal on stdout and stderr)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    env = dict(os.environ, TERM="xterm", OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    process = subprocess.Popen([str(BIN_DIR / "lammps-quests"), *map(str, args)], cwd=cwd, env=env,
                               stdout=follower, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=300)
    os.close(leader)
    assert process.returncode == 0, b"".join(chunks)[-2000:]
    return b"".join(chunks).decode("utf-8", "replace")


def test_terminal_output_has_no_stray_colour_code_and_build_shows_progress(case, tmp_path):
    text = terminal_output(["entropy", case / "pool.xyz"], tmp_path)
    assert "\x1b[0m" not in text and text.rstrip().endswith(text.rstrip().splitlines()[-1])
    assert "\x1b" not in text.splitlines()[-1]
    built = terminal_output(["reference", "build", tmp_path / "p.qref", case / "pool.xyz"], tmp_path)
    assert "descriptors:" in built and "atom" in built  # the tqdm bar on the terminal
    assert "\x1b[0m" not in built


def test_build_reports_progress_through_its_callback():
    frames = rattled_frames("fcc", 3.615, 3, 0.05, 4)
    done = []
    Reference.build(frames, k=32, cutoff=5.0, progress=done.append)
    assert sum(done) == sum(len(frame) for frame in frames) and len(done) >= 1
