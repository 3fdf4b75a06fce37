"""Entropy table of a dataset: H, log n, efficiency H / log n, diversity D, n (paper Eq. 5-7).

One pass of the core's symmetric self-sum (the one :func:`lammps_quests.entropy` uses, which
computes each pair of environments once) gives dH(x_j | X) of every row, and from it both
``H(X) = log n + mean_j dH(x_j | X)`` (n copies: dH = -log n, so H = 0; the paper's Eq. 26
prints the sign of the mean as minus, a typo) and ``D(X) = log sum_j exp(dH(x_j | X))``.
MPI ranks share out the chunks of the sum and add them in a fixed order, so any number of
ranks prints the same numbers.

Species-aware descriptors are compared only with environments centred on the same species, so
the self-sum runs over each centre element's rows separately and the entropy of the whole set
splits as ``H = sum_s p_s H_s - sum_s p_s log p_s`` (p_s: fraction of environments centred on
element s); ``per_species`` holds the H_s of each centre element.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace

import numpy as np

import lammps_quests.core._kernel_sums as kernel_sums
from lammps_quests.core._defaults import DEFAULT_BANDWIDTH
from lammps_quests.core._validation import check_bandwidths, check_descriptors

from ._progress import progress_bar, wants_progress

_ROUNDING = 1e-9  # nats


@dataclass(frozen=True)
class EntropySummary:
    """Information content of one set of environments (all in nats, h in Å^-1)."""

    name: str
    n: int
    entropy: float
    log_n: float
    efficiency: float | None  # H / log n; None for n = 1 (log n = 0)
    diversity: float
    bandwidth: float
    per_species: tuple = ()  # EntropySummary of the environments centred on each element

    def as_dict(self) -> dict:
        return asdict(self)


def summarize_from_dh(dh_self: np.ndarray, name: str, h: float) -> EntropySummary:
    """Entropy summary from dH(x_j | X) of every row of X against X itself (nats)."""
    # imported here, not at module level: every LAMMPS rank that runs the monitor imports this
    # package, and scipy's sub-packages cost ~0.3 s of CPU there for nothing
    from scipy.special import logsumexp

    n = int(dh_self.size)
    log_n = float(np.log(n))
    entropy = float(log_n + np.mean(dh_self))
    # 0 <= H <= log n exactly; excursions below 1e-9 nats are rounding of the kernel sums
    # (e.g. -1e-16 for a set of copies). Larger ones are left visible: they would be a bug.
    if -_ROUNDING < entropy < 0.0:
        entropy = 0.0
    elif log_n < entropy < log_n + _ROUNDING:
        entropy = log_n
    return EntropySummary(
        name=name,
        n=n,
        entropy=entropy,
        log_n=log_n,
        efficiency=entropy / log_n if n > 1 else None,
        diversity=float(logsumexp(dh_self)),
        bandwidth=float(h),
    )


def entropy_summary(X: np.ndarray, h: float = DEFAULT_BANDWIDTH, name: str = "", comm=None,
                    progress=None, labels: np.ndarray | None = None, species=()) -> EntropySummary:
    """Entropy, log n, efficiency and diversity of descriptors ``X`` (n, 2k-1) in Å^-1.

    Species-aware descriptors: ``species`` (element symbols) and ``labels`` (centre species of
    each row); each row is compared with its own element's rows only, and the summary also holds
    one summary per centre element.
    """
    X = check_descriptors(X, "X")
    (value,), _ = check_bandwidths(h)
    description = f"entropy {name}".strip()
    if not species:
        return summarize_from_dh(self_delta_entropy_split(X, float(value), comm, progress, description), name, h)
    dh_self = np.empty(len(X))
    parts = []
    for number, symbol in enumerate(species):
        rows = np.flatnonzero(np.asarray(labels) == number)
        if rows.size:
            dh_self[rows] = self_delta_entropy_split(np.ascontiguousarray(X[rows]), float(value), comm, progress,
                                                     f"{description} [{symbol}]")
            parts.append(summarize_from_dh(dh_self[rows], symbol, h))
    return replace(summarize_from_dh(dh_self, name, h), per_species=tuple(parts))


def self_delta_entropy_split(X: np.ndarray, h: float, comm=None, progress=None,
                             description: str = "entropy") -> np.ndarray:
    """dH(x_j | X) in nats of every row of X (Å^-1) against X, h in Å^-1: the core's symmetric
    self-sum, its chunks shared out over the ranks of ``comm`` (every rank gets the result)."""
    n, n_chunks = len(X), kernel_sums.self_sum_chunks(len(X))
    size, rank = (1, 0) if comm is None else (comm.Get_size(), comm.Get_rank())
    mine = list(range(rank, n_chunks, size))
    tasks = kernel_sums.self_sum_tasks(n)
    block = kernel_sums.SELF_BLOCK
    pairs = sum((min(a + block, n) - a) * (min(b + block, n) - b) for c in mine for a, b in tasks[c::n_chunks])
    enabled = wants_progress(rank) if progress is None else bool(progress) and rank == 0
    lock = threading.Lock()
    with progress_bar(pairs, description, enabled=enabled, unit="pair") as bar:
        def tick(count):
            with lock:
                bar.update(count)

        parts = kernel_sums.kernel_sums_self_chunks(X, np.array([1.0 / (2.0 * h * h)]), mine, tick)
    if comm is not None:
        parts = {chunk: array for gathered in comm.allgather(parts) for chunk, array in gathered.items()}
    return -kernel_sums.combine_self_chunks(parts)[:, 0]
