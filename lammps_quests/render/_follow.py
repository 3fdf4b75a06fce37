"""Following a LAMMPS dump that is still being written: re-render its newest complete frame.

:func:`follow_dump` polls the dump; each new complete frame is copied to a one-frame file and
rendered as :func:`lammps_quests.render.render_dump` renders (:mod:`._render`), written to a
temporary file and renamed over the output, so a viewer never sees a half-written image.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Callable

from lammps_quests.formats._growing_dump import FrameSpan, newest_complete_frame
from lammps_quests.errors import DumpChanged
from lammps_quests.render._render import RenderedFrame, RenderStyle, check_output, copy_frame, import_ovito, render_file


def follow_dump(
    dump: str | os.PathLike,
    output: str | os.PathLike,
    style: RenderStyle | None = None,
    interval: float = 2.0,
    max_updates: int | None = None,
    timeout: float | None = None,
    on_update: Callable[[RenderedFrame], None] | None = None,
) -> int:
    """Keep ``output`` showing the newest complete frame of a text dump that is still growing.

    Polls the file every ``interval`` seconds; when a new complete frame has appeared it is
    rendered (frames that appeared and were superseded between two polls are skipped; a
    partly written last frame waits for the next poll). Stops after ``max_updates``
    pictures, after ``timeout`` seconds without a new frame, or on KeyboardInterrupt
    (Ctrl-C), which propagates to the caller. Returns the number of pictures written.
    The dump may not exist yet when following starts; a dump that is replaced (a new run
    writing the same file name) is followed from its new content.
    """
    style = style or RenderStyle()
    dump = os.fspath(dump)
    output = check_output(output)
    if not interval > 0:
        raise ValueError(f"polling interval must be > 0 seconds, got {interval}")
    if max_updates is not None and max_updates < 1:
        raise ValueError(f"max_updates must be >= 1, got {max_updates}")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    ovito = import_ovito()  # fail now, not after waiting for the first frame
    updates = 0
    last_state = last_frame = None
    last_change = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lammps-quests-follow-") as scratch:
        while True:
            state = _file_state(dump)
            if state is not None and state != last_state:
                last_state = state
                span = _newest_frame(dump)
                # a frame is identified by the file holding it, its place and its timestep
                key = None if span is None else (state[0], span.start, span.end, span.timestep)
                if key is not None and key != last_frame:
                    rendered = _render_span(ovito, dump, span, scratch, output, style)
                    if rendered is None:  # the file changed under us: look again next poll
                        last_state = None
                    else:
                        last_frame, updates = key, updates + 1
                        last_change = time.monotonic()
                        if on_update is not None:
                            on_update(rendered)
                        if max_updates is not None and updates >= max_updates:
                            return updates
            if timeout is not None and time.monotonic() - last_change > timeout:
                return updates
            time.sleep(interval)


def _newest_frame(dump: str) -> FrameSpan | None:
    try:
        return newest_complete_frame(dump)
    except FileNotFoundError:  # removed since it was looked at (a new run starting)
        return None


def _render_span(ovito, dump: str, span: FrameSpan, scratch: str, output: str,
                 style: RenderStyle) -> RenderedFrame | None:
    """Render one frame of a growing dump; None if the file was replaced or cut meanwhile."""
    try:
        frame_file = copy_frame(dump, span, scratch)
    except (DumpChanged, FileNotFoundError):
        return None
    try:
        return render_file(ovito, frame_file, output, style, dump)
    finally:
        os.unlink(frame_file)


def _file_state(path: str) -> tuple[int, int, int] | None:
    """(inode, size, mtime ns) of ``path``, or None while it does not exist."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

