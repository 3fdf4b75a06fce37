"""Every writing command checks its output before the work:
nothing a user owns is overwritten without --force (invoke-script, demo --dir), outputs named
for another format are refused with the accepted names, and an output on a read-only file
system (root: a read-only tmpfs; others: a directory without write permission) gives one
clear error that names the cause, with no traceback and nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import ase.io
import pytest

from cli_support import invoke
from crystals import rattled_frames
from lammps_quests.formats._reference import Reference


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    directory = tmp_path_factory.mktemp("outputs_cli")
    Reference.build(rattled_frames("fcc", 3.615, 2, 0.03, 1), k=32, cutoff=5.0).save(directory / "ref.qref")
    ase.io.write(directory / "pool.xyz", rattled_frames("fcc", 3.615, 3, 0.3, 2))
    (directory / "dump.lammpstrj").write_text(DUMP)
    return directory


DUMP = """ITEM: TIMESTEP
0
ITEM: NUMBER OF ATOMS
1
ITEM: BOX BOUNDS pp pp pp
0 3.615
0 3.615
0 3.615
ITEM: ATOMS id type x y z f_q
1 1 0 0 0 0.5
"""


def refused(result, *phrases):
    """One clear error: non-zero exit, no traceback, the phrases in the message."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.output, result.output
    return result


# ---- items 1 and 13: invoke-script -------------------------------------------------------------

def test_invoke_script_never_replaces_a_reference_or_an_existing_file(case, tmp_path):
    reference = tmp_path / "cu_fcc.qref"
    reference.write_bytes((case / "ref.qref").read_bytes())
    before = reference.read_bytes()
    for force in ([], ["--force"]):
        refused(invoke("invoke-script", reference, *force, cwd=tmp_path), "name it *.py")
    assert reference.read_bytes() == before
    mine = tmp_path / "mine.py"
    mine.write_text("print('mine')\n")
    refused(invoke("invoke-script", mine, cwd=tmp_path), "mine.py exists; pass --force")
    assert mine.read_text() == "print('mine')\n"
    assert invoke("invoke-script", mine, "--force", cwd=tmp_path).exit_code == 0
    assert "QUESTS_ENV" in mine.read_text()


def test_invoke_script_into_a_missing_directory_is_a_clear_error(tmp_path):
    refused(invoke("invoke-script", "nodir/q.py", cwd=tmp_path), "nodir/q.py", "directory does not exist")
    assert not (tmp_path / "nodir").exists()


# ---- item 2: demo --dir ------------------------------------------------------------------------

@pytest.mark.lammps  # were the check gone, the demo would run LAMMPS
def test_demo_keeps_a_users_files_in_its_directory(tmp_path):
    deck = tmp_path / "in.cu_melt"
    deck.write_text("# my edited deck\n")
    (tmp_path / "cu_fcc.qref").write_text("my reference\n")
    result = refused(invoke("demo", "--dir", tmp_path, cwd=tmp_path), "already holds cu_fcc.qref, in.cu_melt",
                     "--force")
    assert "lmp -in" not in result.output  # refused before any work
    assert deck.read_text() == "# my edited deck\n" and (tmp_path / "cu_fcc.qref").read_text() == "my reference\n"


# ---- items 12 and 21: outputs named for another format ----------------------------------------

@pytest.mark.parametrize("command, accepted", [
    (["reference", "build", "new.xyz", "POOL"], "name it *.qref (got .xyz)"),
    (["dh", "POOL", "-r", "REF", "-o", "x.qref"], "name it *.xyz or *.extxyz or *.lammpstrj or *.dump or dump.*"),
    (["clusters", "POOL", "-r", "REF", "-o", "x.png"], "name it *.xyz or *.extxyz or *.lammpstrj"),
    (["select", "POOL", "-r", "REF", "-o", "x.qref"], "name it *.xyz or *.extxyz (got .qref)"),
    (["compress", "POOL", "-f", "0.5", "-o", "c.qref"], "a .qref is a reference file"),
    (["compress", "POOL", "-f", "0.5", "-o", "c.foo"], "no structure format is named by '.foo'"),
    (["compress", "POOL", "-f", "0.5", "-o", "c.png"], "holds one structure"),
    (["render", "DUMP", "-o", "x.xyz"], "must end in one of .png, .jpg, .jpeg"),
    (["overlap", "POOL", "POOL", "--csv", "o.xyz"], "the output is a CSV table; name it *.csv (got .xyz)"),
    (["learning-curve", "POOL", "--png", "l.jpg"], "the output is a PNG image; name it *.png (got .jpg)"),
    (["clusters", "POOL", "-r", "REF", "--distribution-csv", "d.txt"], "name it *.csv (got .txt)"),
])
def test_outputs_named_for_another_format_are_refused(case, tmp_path, command, accepted):
    args = [{"POOL": case / "pool.xyz", "REF": case / "ref.qref", "DUMP": case / "dump.lammpstrj"}.get(a, a)
            for a in command]
    result = refused(invoke(*args, cwd=tmp_path), accepted)
    assert "read " not in result.output  # before reading or computing anything
    assert sorted(os.listdir(tmp_path)) == []


# ---- item 11: read-only file systems and unwritable directories -------------------------------

COMMANDS = {
    "dh -o": ["dh", "POOL", "-r", "REF", "-o", "OUT/dh.xyz"],
    "reference build": ["reference", "build", "OUT/new.qref", "POOL"],
    "reference index": ["reference", "index", "OUT/ref.qref"],
    "select -o": ["select", "POOL", "-r", "REF", "-o", "OUT/picked.xyz"],
    "compress -o": ["compress", "POOL", "-f", "0.5", "-o", "OUT/c.xyz"],
    "render -o": ["render", "DUMP", "-o", "OUT/x.png"],
    "invoke-script": ["invoke-script", "OUT/quests.py"],
    "clusters --csv": ["clusters", "POOL", "-r", "REF", "--csv", "OUT/c.csv"],
    "overlap --csv": ["overlap", "POOL", "POOL", "--csv", "OUT/o.csv"],
    "learning-curve --csv": ["learning-curve", "POOL", "--csv", "OUT/l.csv"],
}


@pytest.fixture(scope="module")
def unwritable(case, tmp_path_factory):
    """(directory, cause): a read-only tmpfs holding a copy of the reference (as root, whom
    permissions do not stop), else a directory without write permission."""
    directory = tmp_path_factory.mktemp("unwritable") / "out"
    files = {"ref.qref": (case / "ref.qref").read_bytes()}
    if os.getuid() != 0:
        directory.mkdir()
        for name, content in files.items():
            (directory / name).write_bytes(content)
        directory.chmod(0o555)
        yield directory, "permission denied"
        directory.chmod(0o755)
        return
    from mounts import tmpfs

    with tmpfs(directory, files=files, read_only=True):
        yield directory, "read-only file system"


def refused_unwritable(case, unwritable, tmp_path, command):
    directory, cause = unwritable
    before = sorted(os.listdir(directory))
    args = [str(a).replace("OUT", str(directory)) for a in
            [{"POOL": case / "pool.xyz", "REF": case / "ref.qref", "DUMP": case / "dump.lammpstrj"}.get(a, a)
             for a in command]]
    result = refused(invoke(*args, cwd=tmp_path), cause)
    assert "Errno" not in result.output and "read " not in result.output and "lmp -in" not in result.output
    assert sorted(os.listdir(directory)) == before


@pytest.mark.parametrize("name", list(COMMANDS))
def test_unwritable_outputs_are_refused_before_the_work(case, unwritable, tmp_path, name):
    refused_unwritable(case, unwritable, tmp_path, COMMANDS[name])


@pytest.mark.lammps  # were the check gone, the demo would run LAMMPS
def test_demo_into_an_unwritable_directory_is_refused_before_the_work(case, unwritable, tmp_path):
    refused_unwritable(case, unwritable, tmp_path, ["demo", "--dir", "OUT/demo"])


def test_read_only_is_not_called_permission_denied(case, tmp_path):
    """A root user on a read-only mount: the cause is the mount, not permissions."""
    from mounts import tmpfs

    if os.getuid() != 0:
        pytest.skip("mounting needs root")
    with tmpfs(tmp_path / "ro", read_only=True) as directory:
        result = refused(invoke("dh", case / "pool.xyz", "-r", case / "ref.qref", "-o", directory / "x.xyz",
                                cwd=tmp_path), "read-only file system", "write it to another file system")
        assert "permission denied" not in result.output
    assert Path(tmp_path / "ro").is_dir()


# ---- a full disk while writing: one error, no partial output ----------------------------------

@pytest.mark.parametrize("command", [
    ["dh", "POOL", "-r", "REF", "-o", "OUT/dh.xyz"],
    ["reference", "build", "OUT/new.qref", "POOL"],
    ["compress", "POOL", "-f", "1", "-o", "OUT/c.xyz"],
    ["select", "POOL", "-r", "REF", "-o", "OUT/picked.xyz"],
])
def test_a_full_disk_is_one_error_and_leaves_no_partial_output(case, tmp_path, command):
    from mounts import tmpfs

    pool = tmp_path / "big_pool.xyz"  # every output of it is larger than the 4 KiB disk
    ase.io.write(pool, rattled_frames("fcc", 3.615, 10, 0.3, 5))
    with tmpfs(tmp_path / "disk", size="4k") as disk:
        args = [str({"POOL": pool, "REF": case / "ref.qref"}.get(a, a)).replace("OUT", str(disk))
                for a in command]
        result = refused(invoke(*args, cwd=tmp_path), "No space left on device while writing", str(disk))
        assert os.listdir(disk) == [], result.output
