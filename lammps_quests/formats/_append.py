"""Crash-safe appending of whole records (one extended-XYZ structure) to a file.

A record is appended with ONE ``os.write`` of its complete text on a descriptor opened with
``O_APPEND``, then flushed to disk (``fsync``) before the call returns. Callers print their log
line only after :func:`append_record` returns, so a run killed at any moment leaves a file made
of complete records, holding at least every record whose log line was printed.

One caveat of the kernel: a write that a fatal signal interrupts may stop at a page boundary
(4 KiB). :func:`complete_length` finds such a cut tail (an incomplete last extended-XYZ frame)
and :func:`drop_incomplete_tail` removes it, which the ``save`` checks at setup do before
appending to the file again.
"""

from __future__ import annotations

import os
from pathlib import Path

from lammps_quests.errors import AppendFailed


def append_record(path, text: str, mode: int = 0o644) -> int:
    """Append ``text`` to ``path`` in one write and fsync it; returns the bytes written.

    If the write or the fsync fails (a full disk: ENOSPC), the file is cut back at once to the
    length it had before, so it still ends with a complete record, and :class:`AppendFailed`
    names the file and the cause.

    Args:
        path: the file (created with permissions ``mode`` minus the umask if missing).
        text: the whole record, ending with a newline.
        mode: permission bits of a new file.

    Returns:
        The number of bytes written (the whole record).
    """
    data = text.encode("utf-8")
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        start = os.fstat(fd).st_size  # one writer (the save lock): the record starts here
        try:
            written = os.write(fd, data)
            while written < len(data):  # short writes: a full disk raises, a signal may cut one
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except OSError as error:
            raise _cut_back(fd, start, path, error) from None
    finally:
        os.close(fd)
    return written


def _cut_back(fd: int, start: int, path, error: OSError) -> AppendFailed:
    """Truncate the file to ``start`` bytes after a failed append; the error to raise."""
    try:
        os.ftruncate(fd, start)
        os.fsync(fd)
        kept = f"cut back to its last complete structure ({start} bytes)"
    except OSError as again:
        kept = f"and could not be cut back to {start} bytes ({again.strerror})"
    return AppendFailed(error.errno, f"{path}: appending a structure failed ({error.strerror}); the file "
                        f"was {kept}. Free space (or fix the cause), then run again")


def complete_length(path) -> int:
    """Bytes of ``path`` that form complete extended-XYZ frames (the whole file if it ends
    with a complete frame; raises ValueError if the file is not made of such frames)."""
    return _complete_length(Path(path).read_bytes(), path)


def _complete_length(data: bytes, path) -> int:
    lines = data.split(b"\n")
    position, i = 0, 0
    ends = [0]
    while i < len(lines):
        if lines[i].strip() == b"" and i == len(lines) - 1:
            break
        try:
            count = int(lines[i].strip())
        except ValueError:
            raise ValueError(f"{path} is not an extended-XYZ file (line {i + 1} should be an atom "
                             f"count, got '{lines[i][:60].decode('utf-8', 'replace')}')") from None
        frame_lines = count + 2
        if i + frame_lines >= len(lines):  # the last frame misses lines or its final newline
            return ends[-1]
        for line in lines[i:i + frame_lines]:
            position += len(line) + 1
        ends.append(position)
        i += frame_lines
    return ends[-1]


def drop_incomplete_tail(path) -> int:
    """Cut an incomplete last frame (left by a killed write) from ``path``; returns the
    number of bytes removed (0 when the file ends with a complete frame; never negative).

    Call it only while holding the file's save lock (:mod:`._save_lock`): then no other writer
    can be appending the frame it would cut. The size and the frames come from one read.
    """
    data = Path(path).read_bytes()
    keep = _complete_length(data, path)
    if keep < len(data):
        os.truncate(path, keep)
    return len(data) - keep
