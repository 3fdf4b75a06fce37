"""Frame finding in LAMMPS text dumps that are still being written (lammps_quests.formats._growing_dump)."""

from __future__ import annotations

import pytest

import lammps_quests.formats._growing_dump as growing_dump
from dh_dumps import write_dh_dump
from lammps_quests.errors import DumpChanged
from lammps_quests.formats._growing_dump import (complete_frames, dump_kind, gzip_frames, newest_complete_frame,
                                                 read_frame)

TIMESTEPS = (0, 100, 250)

# the dumps come from real LAMMPS runs (tests/dh_dumps.py)
pytestmark = pytest.mark.lammps


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    """A real three-frame LAMMPS dump (256 atoms each)."""
    path = tmp_path_factory.mktemp("dump") / "three.dump"
    return write_dh_dump(path, [(step, f"{step}*0.01 + x*0.1") for step in TIMESTEPS])


def frame_ends(data: bytes) -> list[int]:
    """Byte offsets where each frame of a well-formed dump ends (next TIMESTEP or EOF)."""
    starts = [i for i in range(len(data)) if data.startswith(b"ITEM: TIMESTEP", i)]
    return starts[1:] + [len(data)]


def test_whole_file_frames_match_lammps_output(dump):
    data = dump.read_bytes()
    spans = complete_frames(dump)
    assert [s.timestep for s in spans] == list(TIMESTEPS)
    assert [s.natoms for s in spans] == [256, 256, 256]
    assert [s.end for s in spans] == frame_ends(data)
    assert spans[0].start == 0
    assert newest_complete_frame(dump) == spans[-1]
    # each span is a one-frame dump: header, 256 atom lines, nothing of the next frame
    one = read_frame(dump, spans[1]).decode()
    assert one.startswith("ITEM: TIMESTEP\n100\n") and one.count("\n") == 9 + 256


def test_every_truncation_gives_the_last_complete_frame(dump, tmp_path):
    """Cut the file at many byte offsets (mid-header, mid-line, at line ends, at frame ends):
    only frames that are whole before the cut may be reported."""
    data = dump.read_bytes()
    ends = frame_ends(data)
    near_ends = {end + shift for end in ends for shift in (-2, -1, 0, 1, 15)}
    cuts = sorted(set(range(0, len(data) + 1, 97)) | near_ends)
    cut_file = tmp_path / "cut.dump"
    for cut in (c for c in cuts if 0 <= c <= len(data)):
        cut_file.write_bytes(data[:cut])
        whole = [step for step, end in zip(TIMESTEPS, ends) if end <= cut]
        assert [s.timestep for s in complete_frames(cut_file)] == whole, cut
        newest = newest_complete_frame(cut_file)
        assert (newest.timestep if newest else None) == (whole[-1] if whole else None), cut


def test_small_read_blocks_find_markers_across_block_boundaries(dump, monkeypatch):
    spans = complete_frames(dump)
    for block in (7, 13, 64, 1000):  # bytes; the marker itself is 14 bytes long
        monkeypatch.setattr(growing_dump, "_BLOCK_BYTES", block)
        assert complete_frames(dump) == spans
        assert newest_complete_frame(dump) == spans[-1]


def test_units_time_lines_and_triclinic_box(tmp_path):
    """dump_modify units/time put ITEM: UNITS / ITEM: TIME before each TIMESTEP; triclinic
    boxes have a longer BOX BOUNDS line."""
    path = write_dh_dump(tmp_path / "tri.dump", [(5, "1"), (7, "2")],
                         extra="change_box all triclinic\nchange_box all xy final 1.0",
                         dump_modify="units yes time yes")
    text = path.read_text()
    assert text.startswith("ITEM: UNITS") and "ITEM: TIME\n" in text and " xy xz yz " in text
    spans = complete_frames(path)
    assert [s.timestep for s in spans] == [5, 7]
    last = read_frame(path, newest_complete_frame(path)).decode()
    assert last.startswith("ITEM: TIMESTEP\n7\n") and last.endswith("\n")
    assert last.count("\n") == 9 + 256
    # a time header of the next frame written, its TIMESTEP not yet: still frame 7
    with open(path, "a") as stream:
        stream.write("ITEM: TIME\n0.009\nITEM: TIMES")
    assert newest_complete_frame(path).timestep == 7


def test_reading_a_frame_that_is_gone_says_so(dump, tmp_path):
    copy = tmp_path / "copy.dump"
    copy.write_bytes(dump.read_bytes())
    last = newest_complete_frame(copy)
    copy.write_bytes(dump.read_bytes()[: last.start + 100])  # a new run cut the file
    with pytest.raises(DumpChanged, match="changed while it was read"):
        read_frame(copy, last)


def test_gzip_frames_match_the_plain_dump_and_stop_at_a_cut(dump, tmp_path):
    import gzip

    data = dump.read_bytes()
    plain = [read_frame(dump, span) for span in complete_frames(dump)]
    packed = gzip.compress(data)
    path = tmp_path / "three.dump.gz"
    path.write_bytes(packed)
    assert dump_kind(path) == "gzip" and dump_kind(dump) == "text"
    assert list(gzip_frames(path)) == list(zip(TIMESTEPS, plain))
    # LAMMPS still writing: the uncompressed text cut mid-frame, or the gzip stream cut
    ends = frame_ends(data)
    for cut in (ends[0] - 1, ends[0], ends[1] + 200, len(data) - 1):
        path.write_bytes(gzip.compress(data[:cut]))
        whole = [step for step, end in zip(TIMESTEPS, ends) if end <= cut]
        assert [step for step, _ in gzip_frames(path)] == whole, cut
    for cut in (len(packed) // 3, 2 * len(packed) // 3):
        path.write_bytes(packed[:cut])
        got = [frame for frame in gzip_frames(path)]
        assert got == list(zip(TIMESTEPS, plain))[: len(got)] and len(got) < 3, cut


def test_empty_and_foreign_files(tmp_path):
    empty = tmp_path / "empty.dump"
    empty.write_bytes(b"")
    assert newest_complete_frame(empty) is None and complete_frames(empty) == []
    xyz = tmp_path / "atoms.xyz"
    xyz.write_text("2\ncomment\nCu 0 0 0\nCu 1 1 1\n")
    with pytest.raises(ValueError, match="not a LAMMPS text dump"):
        newest_complete_frame(xyz)
    with pytest.raises(FileNotFoundError):
        newest_complete_frame(tmp_path / "missing.dump")
