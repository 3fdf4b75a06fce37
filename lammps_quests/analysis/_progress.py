"""Progress bars for long analyses: shown on a terminal, silent in pipes, logs and MPI ranks > 0."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def wants_progress(rank: int = 0, stream=None) -> bool:
    """True when a bar is useful: rank 0 and standard error is a terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return rank == 0 and bool(isatty and isatty())


def progress_bar(total: int, description: str, enabled: bool | None = None, unit: str = "env"):
    """A tqdm bar over ``total`` items; ``enabled=None`` decides with :func:`wants_progress`.

    A disabled bar keeps the same interface (``update``, ``close``, context manager), so
    callers never branch on it.
    """
    if enabled is None:
        enabled = wants_progress()
    return tqdm(
        total=total,
        desc=description,
        unit=unit,
        unit_scale=True,
        disable=not enabled,
        leave=False,
        file=sys.stderr,
        dynamic_ncols=True,
    )
