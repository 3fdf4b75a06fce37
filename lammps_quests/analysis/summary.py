"""Entropy table of a dataset: H, log n, efficiency H / log n, diversity D, n (paper Eq. 5-7).

One pass of the core's dH gives both quantities:
``H(X) = log n + mean_j dH(x_j | X)`` (n copies: dH = -log n, so H = 0; GUIDE section 2
prints the sign of the mean as minus, which is a typo) and
``D(X) = log sum_j exp(dH(x_j | X))``. Computing them from per-row dH is what lets MPI
ranks split the rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import logsumexp

from lammps_quests.core.defaults import DEFAULT_BANDWIDTH
from .rows import delta_entropy_rows

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

    def as_dict(self) -> dict:
        return asdict(self)


def summarize_from_dh(dh_self: np.ndarray, name: str, h: float) -> EntropySummary:
    """Entropy summary from dH(x_j | X) of every row of X against X itself (nats)."""
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


def entropy_summary(X: np.ndarray, h: float = DEFAULT_BANDWIDTH, name: str = "", comm=None, progress=None) -> EntropySummary:
    """Entropy, log n, efficiency and diversity of descriptors ``X`` (n, 2k-1) in Å^-1."""
    dh_self = delta_entropy_rows(X, X, h, comm=comm, progress=progress, description=f"entropy {name}".strip())
    return summarize_from_dh(dh_self, name, h)
