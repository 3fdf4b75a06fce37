"""Output safety without LAMMPS: save targets checked at setup, earlier saves seed restarts,
crash-safe appends, keyword repeats, no pickle read outside the checked cache, index permissions,
the threshold-guidance cache of Reference.build, dump timesteps and the ASE monitor's steps. (The
private cache of the --approx neighbour index: test_analysis_approx.py, with the other tests that
build one.)"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import bulk

from crystals import rattled_frames, saved_cu_reference
from lammps_quests.active import Saver, Structure
from lammps_quests.formats._reference import Reference
from lammps_quests.lammps._keywords import parse_keywords
from lammps_quests.errors import KeywordError


@pytest.fixture(scope="module")
def cu(tmp_path_factory):
    """A small Cu reference (2x2x2 cubic cells, 3 rattled frames) saved to a file."""
    return saved_cu_reference(tmp_path_factory.mktemp("safety_ref"))


def hot_frame(seed: int = 3, amplitude: float = 0.35) -> Structure:
    """A strongly rattled Cu frame: many atoms with dH > 0 against the reference."""
    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    atoms.rattle(amplitude, seed=seed)
    return Structure(atoms.get_chemical_symbols(), atoms.positions.copy(), np.array(atoms.cell),
                     np.array(atoms.pbc), {"id": np.arange(1, len(atoms) + 1)}, {"step": seed})


# ---- item 3 and "What save writes to": the save path is checked at setup --------------------

@pytest.mark.parametrize("name, message", [
    ("missing_dir/s.xyz", "does not exist"),
    ("adir", "is a directory"),
    ("saved.txt", "must be an extended-XYZ file"),
    ("cu.qref", "must be an extended-XYZ file"),
])
def test_bad_save_paths_are_refused_at_setup(cu, tmp_path, name, message):
    from lammps_quests.active._save_target import check_save_target

    (tmp_path / "adir").mkdir()
    with pytest.raises(ValueError, match=message):
        check_save_target(tmp_path / name, cu)


def test_the_reference_itself_is_refused_even_named_xyz(cu, tmp_path):
    from lammps_quests.active._save_target import check_save_target

    alias = tmp_path / "ref.xyz"
    os.link(cu.path, alias)  # the same file under an extended-XYZ name
    with pytest.raises(ValueError, match="an input of this run"):
        check_save_target(alias, cu)


def test_a_file_holding_something_else_is_never_appended_to(cu, tmp_path):
    from lammps_quests.active._save_target import check_save_target

    other = tmp_path / "notes.xyz"
    other.write_text("these are my notes\nnot structures\n")
    with pytest.raises(ValueError, match="not an extended-XYZ file"):
        check_save_target(other, cu)
    assert other.read_text() == "these are my notes\nnot structures\n"


def test_unwritable_save_file_is_refused(cu, tmp_path):
    """As a user: a read-only file; as root (who writes those anyway): a read-only mount,
    named as such rather than as a permission problem."""
    from lammps_quests.active._save_target import check_save_target

    if os.getuid() != 0:
        target = tmp_path / "ro.xyz"
        target.write_text("")
        target.chmod(0o444)
        with pytest.raises(ValueError, match=r"cannot be written \(permission denied\)"):
            check_save_target(target, cu)
        return
    from mounts import tmpfs

    with tmpfs(tmp_path / "ro", files={"old.xyz": ""}, read_only=True) as directory:
        for name in ("old.xyz", "new.xyz"):
            with pytest.raises(ValueError, match=r"cannot be written \(read-only file system\)"):
                check_save_target(directory / name, cu)


# ---- one writer per save file, enforced by a lock ------------------

def test_a_second_writer_in_one_process_is_refused_until_the_first_lets_go(cu, tmp_path):
    from lammps_quests.active._save_target import check_save_target

    path = tmp_path / "saved.xyz"
    first = check_save_target(path, cu)
    with pytest.raises(ValueError, match=rf"save file {path} is already being saved to by another fix.*"
                                         rf"pid {os.getpid()} on host {socket.gethostname()}"):
        check_save_target(path, cu)
    # the ranks that do not write take no lock (MPI: only rank 0 appends)
    assert check_save_target(path, cu, repair=False).lock is None
    first.release()
    second = check_save_target(path, cu)
    assert second.lock.held
    second.release()
    assert not Path(str(path) + ".lock").exists()


HOLDER = """
import sys, time
from lammps_quests.formats._save_lock import acquire_save_lock
lock = acquire_save_lock(sys.argv[1])
with open(sys.argv[1], "a") as handle:  # a frame half written, as by a run still writing
    handle.write(sys.argv[2])
print("locked", flush=True)
time.sleep(60)
"""


def test_another_process_writing_is_refused_and_its_frame_never_cut(cu, tmp_path):
    """A run (here a process holding the lock) is appending a frame: a second run is refused
    at setup, naming the file and the holder, and leaves the frame being written alone."""
    import subprocess
    import sys

    from lammps_quests.active._save_target import check_save_target

    path = tmp_path / "saved.xyz"
    for structure in Saver(cu, cu.bandwidth, 0.0).structures(hot_frame(), _dh(cu, hot_frame())):
        structure.write(path)
    whole = path.read_text()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), whole[: len(whole) // 3]],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = path.read_bytes()
        with pytest.raises(ValueError, match=rf"{path} is already being saved to .*pid {holder.pid} on host "):
            check_save_target(path, cu)
        assert path.read_bytes() == before  # the other writer's frame in progress is not cut
    finally:
        holder.kill()
        holder.wait()
    # the holder died (SIGKILL): the kernel dropped its lock; its cut frame is repaired now
    target = check_save_target(path, cu)
    assert target.dropped_bytes == len(whole[: len(whole) // 3].encode()) > 0
    assert path.read_text() == whole
    target.release()


def test_tail_repair_never_reports_a_negative_size(tmp_path, monkeypatch):
    """Another writer appends a whole frame while the repair looks at the file (here: right
    after its size is taken, where the repair used to take it): the repair must report 0
    bytes removed, not a negative size, and keep both frames."""
    import lammps_quests.formats._append as append

    path = tmp_path / "s.xyz"
    ase.io.write(path, bulk("Cu", "fcc", a=3.615, cubic=True), format="extxyz")
    frame = path.read_bytes()
    real_getsize = os.path.getsize

    def size_then_append(name):
        size = real_getsize(name)
        with open(path, "ab") as handle:
            handle.write(frame)
        return size

    monkeypatch.setattr(os.path, "getsize", size_then_append)
    removed = append.drop_incomplete_tail(path)
    monkeypatch.undo()
    assert removed == 0
    assert path.read_bytes().startswith(frame) and complete_frames(path) == len(path.read_bytes())


def complete_frames(path) -> int:
    from lammps_quests.formats._append import complete_length

    return complete_length(path)


def test_monitor_holds_its_save_file_until_closed(cu, tmp_path):
    from lammps_quests.ase import QuestsMonitor

    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    first = QuestsMonitor(atoms, cu, save=(0.0, tmp_path / "s.xyz"))
    with pytest.raises(ValueError, match="already being saved to"):
        QuestsMonitor(atoms, cu, save=(0.0, tmp_path / "s.xyz"))
    first.close()
    QuestsMonitor(atoms, cu, save=(0.0, tmp_path / "s.xyz")).close()


# ---- a full disk during a save --------------------------------------------

def test_full_disk_cuts_the_file_back_and_names_it(tmp_path):
    """On a 64 KiB tmpfs, appends run until the disk is full: the error names the file and the
    file still reads, made of complete structures only."""
    from lammps_quests.errors import AppendFailed
    from lammps_quests.formats._append import append_record
    from mounts import tmpfs

    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(3)
    atoms.rattle(0.1, seed=1)
    text = Path(tmp_path / "frame.xyz")
    ase.io.write(text, atoms, format="extxyz")
    record = text.read_text()
    with tmpfs(tmp_path / "disk", size="64k") as disk:
        path = disk / "saved.xyz"
        appended = 0
        with pytest.raises(AppendFailed) as failed:
            for _ in range(1000):
                append_record(path, record)
                appended += 1
        assert str(path) in str(failed.value) and "No space left on device" in str(failed.value)
        assert "cut back to its last complete structure" in str(failed.value)
        assert appended >= 1
        frames = ase.io.read(path, ":")
        assert len(frames) == appended and all(len(f) == len(atoms) for f in frames)
        assert path.stat().st_size == appended * len(record.encode())


# ---- items 4 and 10: the reference's sha256 in each structure; restarts seed the extension ----

def test_saved_structures_record_the_reference_and_seed_a_restart(cu, tmp_path):
    from lammps_quests.active._save_target import REFERENCE_KEY, check_save_target

    path = tmp_path / "saved.xyz"
    first = Saver(cu, cu.bandwidth, 0.0)
    for structure in first.structures(hot_frame(), np.full(32, 0.0) + _dh(cu, hot_frame())):
        structure.write(path)
    assert first.counts.new > 0
    written = ase.io.read(path, ":")
    assert all(atoms.info[REFERENCE_KEY] == cu.sha256 for atoms in written)
    # a restart: the same frame again saves nothing once the file seeds the new saver
    target = check_save_target(path, cu)
    again = Saver(cu, cu.bandwidth, 0.0)
    assert target.seed(again) == first.counts.new
    assert "environments from earlier saves in" in target.log("fix quests q", first.counts.new)
    assert again.structures(hot_frame(), _dh(cu, hot_frame())) == []
    # without seeding (seed no) the same environments would be saved again
    fresh = Saver(cu, cu.bandwidth, 0.0)
    assert len(fresh.structures(hot_frame(), _dh(cu, hot_frame()))) == 1


def test_a_file_judged_by_another_reference_is_refused(cu, tmp_path):
    from lammps_quests.active._save_target import check_save_target

    other = Reference.build(rattled_frames("bcc", 3.316, 2, 0.03, 5), k=32, cutoff=5.0)
    path = tmp_path / "ta.xyz"
    for structure in Saver(other, other.bandwidth, 0.0).structures(hot_frame(), _dh(other, hot_frame())):
        structure.write(path)
    with pytest.raises(ValueError, match="judged against another reference"):
        check_save_target(path, cu)


def test_saved_command_refuses_another_reference(cu, tmp_path):
    from click.testing import CliRunner

    from lammps_quests.cli import main

    other = Reference.build(rattled_frames("bcc", 3.316, 2, 0.03, 5), k=32, cutoff=5.0)
    other.save(tmp_path / "ta.qref")
    path = tmp_path / "ta.xyz"
    for structure in Saver(other, other.bandwidth, 0.0).structures(hot_frame(), _dh(other, hot_frame())):
        structure.write(path)
    result = CliRunner().invoke(main, ["saved", str(path), "-r", str(cu.path)])
    assert result.exit_code == 1 and "judged against another reference" in result.output
    ok = CliRunner().invoke(main, ["saved", str(path), "-r", str(tmp_path / "ta.qref")])
    assert ok.exit_code == 0 and "new environment(s)" in ok.output


def _dh(reference, structure: Structure) -> np.ndarray:
    from lammps_quests.core._information import delta_entropy

    Y = structure.descriptors(np.arange(len(structure)), reference.k, reference.cutoff)
    return delta_entropy(Y, reference.descriptors, reference.bandwidth)


# ---- item 5: appends are whole records; a cut tail is found and removed ---------------------

def test_append_is_one_whole_record_and_a_cut_tail_is_removed(tmp_path):
    from lammps_quests.formats._append import append_record, complete_length, drop_incomplete_tail

    path = tmp_path / "s.xyz"
    atoms = bulk("Cu", "fcc", a=3.615, cubic=True)
    ase.io.write(path, atoms, format="extxyz")
    whole = path.read_text()
    append_record(path, whole)
    assert len(ase.io.read(path, ":")) == 2
    assert complete_length(path) == path.stat().st_size
    with open(path, "a") as handle:  # what a write cut by SIGKILL at a page boundary leaves
        handle.write(whole[: len(whole) // 2])
    assert drop_incomplete_tail(path) == len(whole[: len(whole) // 2].encode())
    assert len(ase.io.read(path, ":")) == 2


# ---- item 20 and the seed keyword ----------------------------------------------------------

def test_repeated_keywords_are_errors_and_seed_parses():
    with pytest.raises(KeywordError, match="keyword halt is given twice"):
        parse_keywords("halt 1 soft halt 3 hard".split())
    assert parse_keywords("save 0 s.xyz seed no".split()).save_seed is False
    assert parse_keywords("save 0 s.xyz every seed yes".split()).save_seed is True
    with pytest.raises(KeywordError, match="seed expects yes or no"):
        parse_keywords("save 0 s.xyz seed maybe".split())


# ---- items 6 and 7: no pickle beside a reference; the index has the reference's mode ---------

def test_no_pickle_load_outside_the_checked_cache():
    root = Path(__file__).resolve().parents[2] / "lammps_quests"
    hits = [str(path.relative_to(root)) for path in root.rglob("*.py") if "pickle.load" in path.read_text()]
    assert hits == ["analysis/_approx.py"]
    text = (root / "analysis" / "_approx.py").read_text()
    assert "safe_to_load(path)" in text and ".nnd-" not in text.split("def ann_index_path")[1].split("def ")[0]


def test_fast_index_gets_the_reference_permissions(tmp_path):
    from lammps_quests.formats._fast_index import build_fast_index, save_fast_index

    reference = Reference.build(rattled_frames("fcc", 3.615, 2, 0.03, 9), k=32, cutoff=5.0)
    reference.save(tmp_path / "r.qref")
    os.chmod(tmp_path / "r.qref", 0o644)
    path = save_fast_index(build_fast_index(reference, cluster_size=64), reference)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# ---- item 12: Reference.build(...).save() keeps the threshold guidance ---------------------

def test_built_references_carry_the_threshold_cache(tmp_path):
    from click.testing import CliRunner

    from lammps_quests.cli import main

    Reference.build(rattled_frames("fcc", 3.615, 2, 0.03, 9), k=32, cutoff=5.0).save(tmp_path / "r.qref")
    loaded = Reference.load(tmp_path / "r.qref")
    assert loaded.extra["self_information"]["entropy"] is not None
    info = CliRunner().invoke(main, ["reference", "info", str(tmp_path / "r.qref")])
    assert info.exit_code == 0 and "computed now" not in info.output and "threshold guidance:" in info.output


# ---- item 14: dumps keep the frames' own steps ---------------------------------------------

def test_dump_output_keeps_saved_steps(tmp_path):
    from lammps_quests.formats._lammps_dump import write_lammps_dump

    frames = [bulk("Cu", "fcc", a=3.615, cubic=True) for _ in range(3)]
    for frame, step in zip(frames, (120, 340, 560)):
        frame.info["step"] = step
    write_lammps_dump(tmp_path / "x.lammpstrj", frames, {"dH": [np.zeros(4)] * 3})
    lines = (tmp_path / "x.lammpstrj").read_text().splitlines()
    assert [lines[i + 1] for i, line in enumerate(lines) if line == "ITEM: TIMESTEP"] == ["120", "340", "560"]


# ---- item 11: the ASE monitor labels MD steps and validates its interval ------------------

def test_monitor_attached_by_ase_counts_steps_and_checks_interval(cu):
    from ase.calculators.emt import EMT
    from ase.md.verlet import VelocityVerlet

    from lammps_quests.ase import QuestsMonitor

    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    atoms.calc = EMT()
    dyn = VelocityVerlet(atoms, timestep=1.0 * 1e-15 * 1e15 * 0.0982269)  # ~1 fs in ASE units
    monitor = QuestsMonitor(atoms, cu)
    dyn.attach(monitor, interval=10)
    dyn.run(20)
    assert [record.step for record in monitor.history] == [0, 10, 20]
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="interval must be a whole number of MD steps"):
            QuestsMonitor(atoms, cu).attach(dyn, interval=bad)


def test_monitor_save_checks_its_file_at_construction(cu, tmp_path):
    from lammps_quests.ase import QuestsMonitor

    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    with pytest.raises(ValueError, match="is a directory"):
        QuestsMonitor(atoms, cu, save=(0.0, tmp_path))


def test_a_file_system_without_locks_saves_and_says_so(cu, tmp_path, monkeypatch):
    """Lustre mounted noflock answers flock with ENOSYS: the save goes ahead, unenforced, and
    the setup log says that one writer per save file is then up to the user."""
    import errno
    import fcntl

    from lammps_quests.active._save_target import check_save_target

    def no_flock(fd, operation):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    target = check_save_target(tmp_path / "s.xyz", cu)
    assert not target.lock.enforced and not Path(str(tmp_path / "s.xyz") + ".lock").exists()
    assert "gives no file locks" in target.log("fix quests q", None)
    target.release()
