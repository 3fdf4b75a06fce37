"""Per-row computations in blocks: one progress bar, optional MPI split of the rows.

The kernel sums themselves are the core's :func:`lammps_quests.core.delta_entropy`
(or the neighbour sums of :mod:`._approx`); this module only decides which rows each call,
and each MPI rank, handles.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from lammps_quests.core._information import delta_entropy

from ._parallel import gather_rows, rank_of, row_range
from ._progress import progress_bar, wants_progress

# Rows per call: large enough to amortise the call, small enough for a smooth bar.
BLOCK_ROWS = 4096


def map_rows(
    compute: Callable[[int, int], np.ndarray],
    n_rows: int,
    comm=None,
    progress: bool | None = None,
    description: str = "",
) -> np.ndarray:
    """Evaluate ``compute(first, last)`` (a 1-d float64 block) over all rows, gathered in order.

    With an MPI communicator each rank evaluates one contiguous block of rows and every rank
    receives the whole (n_rows,) result.
    """
    start, stop = row_range(n_rows, comm)
    rank = rank_of(comm)
    enabled = wants_progress(rank) if progress is None else bool(progress) and rank == 0
    local = np.empty(stop - start, dtype=np.float64)
    with progress_bar(stop - start, description, enabled=enabled) as bar:
        for first in range(start, stop, BLOCK_ROWS):
            last = min(first + BLOCK_ROWS, stop)
            local[first - start : last - start] = compute(first, last)
            bar.update(last - first)
    return gather_rows(local, comm)


def delta_entropy_rows(
    Y: np.ndarray,
    X: np.ndarray,
    bandwidth: float,
    comm=None,
    progress: bool | None = None,
    description: str = "dH",
    y_labels: np.ndarray | None = None,
    x_labels: np.ndarray | None = None,
    elements=(),
) -> np.ndarray:
    """dH(y | X) in nats for every row of ``Y`` (Å^-1 descriptors) against ``X``; h in Å^-1.

    Species-aware descriptors (``species`` non-empty): each row only against the rows of X
    centred on its own species (``y_labels``, ``x_labels``: centre species numbers).
    """
    if elements:
        if y_labels is None or x_labels is None:
            raise ValueError("species-aware dH needs the centre species of the rows of Y and X")

        def compute(first, last):
            return delta_entropy(Y[first:last], X, bandwidth, y_labels=y_labels[first:last], x_labels=x_labels,
                                 elements=elements)
        return map_rows(compute, len(Y), comm, progress, description)
    return map_rows(lambda first, last: delta_entropy(Y[first:last], X, bandwidth), len(Y), comm, progress, description)
