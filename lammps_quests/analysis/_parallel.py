"""MPI helpers (mpi4py): split rows of a computation over ranks, gather the results.

Every rank reads the inputs and computes the descriptors; each then evaluates its own
contiguous block of rows, and the blocks are gathered in rank order, so the result is the
same array as one process computes (row values do not depend on how rows are split).

mpi4py is imported only when the process was started by an MPI launcher with more than one
rank, so serial use never initialises MPI.
"""

from __future__ import annotations

import os

import numpy as np

# Environment variables set by MPI launchers (MPICH/Hydra, Open MPI, Slurm's PMI) holding the
# number of processes of the job.
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "PMIX_SIZE")


def launched_with_mpi() -> bool:
    """True when an MPI launcher started this process as one of several ranks."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name)
        if value and value.isdigit() and int(value) > 1:
            return True
    return False


def world():
    """The MPI world communicator when running on several ranks, else None."""
    if not launched_with_mpi():
        return None
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    return comm if comm.Get_size() > 1 else None


def rank_of(comm) -> int:
    """Rank of this process (0 without MPI)."""
    return 0 if comm is None else comm.Get_rank()


def row_range(n_rows: int, comm) -> tuple[int, int]:
    """Contiguous block [start, stop) of ``n_rows`` owned by this rank (balanced to one row)."""
    if comm is None:
        return 0, n_rows
    size, rank = comm.Get_size(), comm.Get_rank()
    base, extra = divmod(n_rows, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def gather_rows(local: np.ndarray, comm) -> np.ndarray:
    """Concatenate every rank's 1-d float64 block in rank order; all ranks get the result."""
    local = np.ascontiguousarray(local, dtype=np.float64)
    if comm is None:
        return local
    from mpi4py import MPI

    counts = np.array(comm.allgather(local.size), dtype=np.int64)
    result = np.empty(int(counts.sum()), dtype=np.float64)
    displacements = np.concatenate([[0], np.cumsum(counts)[:-1]])
    comm.Allgatherv(local, [result, counts, displacements, MPI.DOUBLE])
    return result


def gather_row_blocks(local: np.ndarray, comm) -> np.ndarray:
    """Concatenate every rank's (rows, width) float64 block in rank order on all ranks."""
    local = np.ascontiguousarray(local, dtype=np.float64)
    if comm is None:
        return local
    width = local.shape[1]
    return gather_rows(local.ravel(), comm).reshape(-1, width)


def first_error(error: BaseException | None, comm) -> None:
    """Raise the same error on every rank if any rank failed (so no rank hangs in a collective)."""
    if comm is None:
        if error is not None:
            raise error
        return
    messages = comm.allgather(None if error is None else f"{type(error).__name__}: {error}")
    for rank, message in enumerate(messages):
        if message is not None:
            if error is not None:
                raise error
            raise ValueError(f"MPI rank {rank} failed: {message}")
