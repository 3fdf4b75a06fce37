"""Find the newest complete frame of a LAMMPS text dump that may still be growing.

LAMMPS appends one frame per dump step and flushes its buffer whenever it likes, so a
reader that looks at the file while a run is going can meet a last frame cut anywhere:
in the header, between atom lines, in the middle of a line. This module searches the file
backwards from its end for ``ITEM: TIMESTEP`` lines and returns the byte span of the last
frame whose header is whole and whose ``NUMBER OF ATOMS`` atom lines are all there and
newline-terminated. It reads only the tail of the file (about one frame), so polling a
multi-gigabyte dump costs the size of one frame, not of the file.

Gzip-compressed text dumps (``dump custom ... file.gz``) cannot be searched from the end;
:func:`gzip_frames` streams through them instead. Binary dumps are not read here.
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from typing import Iterator

from lammps_quests.errors import DumpChanged

FRAME_MARKER = b"ITEM: TIMESTEP"
_ATOMS_HEADER = b"ITEM: ATOMS"
_MAX_HEADER_LINES = 32  # TIMESTEP, NUMBER OF ATOMS, BOX BOUNDS (+3-4 lines), ATOMS, spare
_BLOCK_BYTES = 1 << 20
_HEADER_READ_BYTES = 1 << 16


@dataclass(frozen=True)
class FrameSpan:
    """Where one complete frame sits in a dump file.

    ``start`` is the byte offset of its ``ITEM: TIMESTEP`` line, ``end`` the offset just
    after the newline of its last atom line, so ``file[start:end]`` is a valid one-frame dump.
    """

    timestep: int
    natoms: int
    start: int
    end: int


def dump_kind(path: str | os.PathLike) -> str:
    """``"text"``, ``"gzip"`` or ``"other"``, from the first bytes of the file.

    An empty file counts as text: LAMMPS has opened the dump but not written to it yet.
    """
    with open(path, "rb") as stream:
        start = stream.read(5)
    if start == b"ITEM:" or start == b"":
        return "text"
    return "gzip" if start.startswith(b"\x1f\x8b") else "other"


def gzip_frames(path: str | os.PathLike) -> Iterator[tuple[int, bytes]]:
    """(timestep, bytes of the frame) for each complete frame of a gzip-compressed text dump.

    Decompresses as it goes (memory: one frame). Stops quietly at a frame cut short, also
    inside the compressed stream (a dump LAMMPS is still writing).
    """
    with gzip.open(path, "rb") as stream:
        try:
            while (frame := _next_streamed_frame(stream)) is not None:
                yield frame
        except (EOFError, zlib.error):  # compressed stream ends mid-block
            return


def _next_streamed_frame(stream) -> tuple[int, bytes] | None:
    line = stream.readline()
    while line and not line.startswith(FRAME_MARKER):  # ITEM: UNITS / TIME lines
        line = stream.readline()
    lines = [line]
    while line.endswith(b"\n") and not line.startswith(_ATOMS_HEADER):
        if len(lines) == _MAX_HEADER_LINES:
            return None
        line = stream.readline()
        lines.append(line)
    header = _parse_header(b"".join(lines))
    if header is None:
        return None
    timestep, natoms, _ = header
    for _ in range(natoms):
        line = stream.readline()
        if not line.endswith(b"\n"):
            return None
        lines.append(line)
    return timestep, b"".join(lines)


def newest_complete_frame(path: str | os.PathLike) -> FrameSpan | None:
    """Return the last complete frame of the text dump at ``path``, or None if it has none yet.

    Raises FileNotFoundError if the file does not exist and ValueError if the file holds
    data but no LAMMPS frame header at all (not a text dump).
    """
    with open(path, "rb") as stream:
        size = stream.seek(0, os.SEEK_END)
        limit = size
        seen_marker = False
        for start in _marker_offsets_backward(stream, size):
            seen_marker = True
            stream.seek(start)
            span = _complete_frame(stream.read(limit - start), start)
            if span is not None:
                return span
            limit = start  # the frame before this one ends where this one starts
        if size > len(FRAME_MARKER) and not seen_marker:
            raise ValueError(
                f"{os.fspath(path)!r} contains no 'ITEM: TIMESTEP' line: it is not a LAMMPS "
                "text dump (write it with `dump ID group custom N file.dump id type x y z ...`; "
                "gzipped and binary dumps cannot be followed)"
            )
    return None


def complete_frames(path: str | os.PathLike) -> list[FrameSpan]:
    """All complete frames of the text dump at ``path``, first to last.

    Reads the whole file once, in blocks (memory: about one block plus one header); a
    partly written last frame is left out. Lines before a frame's ``ITEM: TIMESTEP`` (such
    as ``ITEM: UNITS`` / ``ITEM: TIME`` from dump_modify) are skipped.
    """
    spans: list[FrameSpan] = []
    with open(path, "rb") as stream:
        offset = 0
        while True:
            stream.seek(offset)
            head = stream.read(_HEADER_READ_BYTES)
            start = _first_marker(head)
            if start is None:
                return spans
            header = _parse_header(head[start:])
            if header is None:
                return spans
            timestep, natoms, atoms_start = header
            end = _skip_lines(stream, offset + start + atoms_start, natoms)
            if end is None:
                return spans
            spans.append(FrameSpan(timestep, natoms, offset + start, end))
            offset = end


def _first_marker(data: bytes) -> int | None:
    """Offset of the first ``ITEM: TIMESTEP`` line start in ``data``, or None."""
    if data.startswith(FRAME_MARKER):
        return 0
    found = data.find(b"\n" + FRAME_MARKER)
    return None if found < 0 else found + 1


def _skip_lines(stream, position: int, count: int) -> int | None:
    """File offset just past ``count`` newline-terminated lines from ``position``, or None."""
    stream.seek(position)
    while count > 0:
        block = stream.read(_BLOCK_BYTES)
        if not block:
            return None
        in_block = block.count(b"\n")
        if in_block < count:
            count -= in_block
            position += len(block)
            continue
        newline = -1
        for _ in range(count):
            newline = block.find(b"\n", newline + 1)
        return position + newline + 1
    return position


def read_frame(path: str | os.PathLike, span: FrameSpan) -> bytes:
    """Return the bytes of one frame: a valid single-frame LAMMPS dump."""
    with open(path, "rb") as stream:
        stream.seek(span.start)
        data = stream.read(span.end - span.start)
    if len(data) != span.end - span.start or not data.startswith(FRAME_MARKER):
        raise DumpChanged(
            f"{os.fspath(path)!r} changed while it was read (frame at byte {span.start} is "
            "gone); was the dump file overwritten by a new run?"
        )
    return data


def _marker_offsets_backward(stream, size: int):
    """Yield byte offsets of ``ITEM: TIMESTEP`` lines, last one first.

    The stream is read in blocks from the end; the caller may seek between yields.
    """
    window_end = size  # every marker starting at or after this offset was yielded already
    while window_end > 0:
        window_start = max(0, window_end - _BLOCK_BYTES)
        stream.seek(window_start)
        # Read up to len(marker) - 1 bytes past the window: a marker straddling its end is
        # then found whole, and one starting at window_end (yielded before) cannot fit.
        block = stream.read(min(size, window_end + len(FRAME_MARKER) - 1) - window_start)
        preceding = b"\n"  # start of file counts as a line start
        if window_start > 0:
            stream.seek(window_start - 1)
            preceding = stream.read(1)
        search_end = len(block)
        while (found := block.rfind(FRAME_MARKER, 0, search_end)) >= 0:
            before = block[found - 1 : found] if found > 0 else preceding
            if before == b"\n":
                yield window_start + found
            search_end = found + len(FRAME_MARKER) - 1  # next hit must start before found
        window_end = window_start


def _complete_frame(data: bytes, offset: int) -> FrameSpan | None:
    """Parse the frame at the start of ``data``; None if it is cut short or malformed."""
    header = _parse_header(data)
    if header is None:
        return None
    timestep, natoms, atoms_start = header
    end = _end_of_lines(data, atoms_start, natoms)
    if end is None:
        return None
    return FrameSpan(timestep=timestep, natoms=natoms, start=offset, end=offset + end)


def _parse_header(data: bytes) -> tuple[int, int, int] | None:
    """(timestep, natoms, offset of the first atom line) of the header that starts ``data``.

    None if the header is cut short or is not a LAMMPS dump header.
    """
    lines: list[bytes] = []
    position = 0
    while not (lines and lines[-1].startswith(_ATOMS_HEADER)):
        newline = data.find(b"\n", position)
        if newline < 0 or len(lines) == _MAX_HEADER_LINES:
            return None
        lines.append(data[position:newline])
        position = newline + 1
    # TIMESTEP, its value, NUMBER OF ATOMS, its value, BOX BOUNDS + its lines, ATOMS
    if len(lines) < 6 or lines[0] != FRAME_MARKER or lines[2] != b"ITEM: NUMBER OF ATOMS":
        return None
    try:
        return int(lines[1]), int(lines[3]), position
    except ValueError:
        return None


def _end_of_lines(data: bytes, position: int, count: int) -> int | None:
    """Offset just past the ``count``-th newline at or after ``position``, or None."""
    available = data.count(b"\n", position)
    if available < count:
        return None
    if count == 0:
        return position
    # Usually only the next frame's partial header (or its ITEM: TIME lines) follows the
    # atom lines, so stepping back from the last newline over the surplus is short.
    newline = data.rfind(b"\n", position)
    for _ in range(available - count):
        newline = data.rfind(b"\n", position, newline)
    return newline + 1
