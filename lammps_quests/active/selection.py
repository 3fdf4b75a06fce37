"""Greedy selection of the structures that add the most information to a reference.

Start from U = reference. At each step every remaining candidate c (the descriptors of one
structure's atoms, Å^-1) is scored by the entropy it would add, H(U ∪ c) - H(U) in nats, among
the candidates that still hold an atom with dH(atom | U) > t; the best one (lowest pool index
on ties) joins U. It stops after ``max_picks`` or when no atom of the pool has dH > t.

The entropy of U ∪ c needs, for every point, its kernel sum over U ∪ c (paper Eq. 5):
H(U ∪ c) = log(N + m) - [L(U) + sum_u log1p(S_uc / S_U(u)) + sum_a log(S_aU + S_ac)] / (N + m),
with L(U) = sum_u log S_U(u) = N (log N - H(U)) carried as one number. Only points u with
S_uc > e^-40 change L (S_U(u) >= 1), so per candidate only those rows and their current sums
S_U(u) are kept, and S_aU is updated after each pick: after the first pass over the reference
(pool x N pairs, twice) each step costs pool x (atoms picked) pairs.

Under MPI (``comm``) the passes over the reference split its rows or the pool's rows over
ranks; every rank then holds the same numbers and takes the same picks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .extension import NEGLIGIBLE_LOG_SUM, _inv_2h2
from lammps_quests.core.information import entropy
from lammps_quests.core.kernel_sums import log_kernel_sums, log_kernel_sums_self


@dataclass
class Pick:
    """One selected structure."""

    candidate: int  # index in the pool
    gain: float  # H(U ∪ c) - H(U), nats
    entropy: float  # H(U ∪ c), nats
    atoms: int
    above: int  # atoms with dH(atom | U) > t before the pick
    max_dh: float  # nats, against U before the pick


@dataclass
class Selection:
    picks: list = field(default_factory=list)
    reference_entropy: float = 0.0
    stopped: str = ""


def _log_sums(Y, X, inv, comm=None):
    """log sum_x K(y, x) per row of Y (rows split over ranks when comm is given)."""
    from lammps_quests.analysis.parallel import gather_rows, row_range

    start, stop = row_range(len(Y), comm)
    local = np.full(stop - start, -np.inf)
    if stop > start and len(X):
        local = log_kernel_sums(np.ascontiguousarray(Y[start:stop]), np.ascontiguousarray(X), inv)[:, 0]
    return gather_rows(local, comm)


def _near_rows(X, candidate, inv, comm=None) -> tuple[np.ndarray, np.ndarray]:
    """(rows of X, log S_{x,c}) for the rows x whose kernel sum over ``candidate`` matters."""
    values = _log_sums(X, candidate, inv, comm)
    rows = np.flatnonzero(values > NEGLIGIBLE_LOG_SUM)
    return rows, values[rows]


def select(candidates, reference, h: float, max_picks: int | None = None, until: float = 0.0,
           reference_entropy: float | None = None, comm=None, progress=None) -> Selection:
    """Greedy picks from ``candidates`` (list of (m_c, d) descriptor arrays, Å^-1) against
    ``reference`` (N, d) at bandwidth h (Å^-1); see the module docstring. ``progress``: called
    with 1 after each candidate's pass over the reference (e.g. a progress bar's update)."""
    inv = _inv_2h2(h)
    X = np.asarray(reference)
    n_ref = len(X)
    h_ref = float(entropy(X, h)) if reference_entropy is None else float(reference_entropy)
    blocks = [np.ascontiguousarray(c, dtype=np.float64) for c in candidates]
    bounds = np.cumsum([0] + [len(b) for b in blocks])
    pool = np.concatenate(blocks) if blocks else np.zeros((0, X.shape[1]))
    over_u = _log_sums(pool, X, inv, comm)  # log S_aU per pool atom
    own = [log_kernel_sums_self(b, inv)[:, 0] if len(b) else np.zeros(0) for b in blocks]
    near = []  # per candidate: rows of U, log S_uc (one pass over the reference each)
    for block in blocks:
        near.append(_near_rows(X, block, inv, comm))
        if progress is not None:
            progress(1)
    tracked = np.unique(np.concatenate([rows for rows, _ in near] + [np.zeros(0, dtype=np.int64)]))
    tracked_sums = _log_sums(X[tracked], X, inv, comm)  # log S_U(u) of those reference rows
    sums = dict(zip(tracked.tolist(), tracked_sums.tolist()))
    picked_rows: list[np.ndarray] = []
    n_u, total = n_ref, n_ref * (np.log(n_ref) - h_ref)  # |U| and L(U)
    result = Selection(reference_entropy=h_ref)
    remaining = [c for c in range(len(blocks)) if len(blocks[c])]
    while True:
        if max_picks is not None and len(result.picks) >= max_picks:
            result.stopped = f"reached --max {max_picks}"
            break
        eligible = [c for c in remaining if (-over_u[bounds[c]:bounds[c + 1]] > until).any()]
        if not eligible:
            result.stopped = f"no atom left with dH > {until:g} nats"
            break
        h_u = np.log(n_u) - total / n_u
        scored = []
        for c in eligible:
            rows, log_uc = near[c]
            current = np.array([sums[int(r)] for r in rows])
            delta = float(np.sum(np.log1p(np.exp(log_uc - current)))) if len(rows) else 0.0
            mine = float(np.sum(np.logaddexp(over_u[bounds[c]:bounds[c + 1]], own[c])))
            m = len(blocks[c])
            h_new = np.log(n_u + m) - (total + delta + mine) / (n_u + m)
            scored.append((h_new - h_u, c, h_new, delta + mine))
        gain, best, h_new, added = max(scored, key=lambda item: (item[0], -item[1]))
        dh = -over_u[bounds[best]:bounds[best + 1]]
        result.picks.append(Pick(best, float(gain), float(h_new), len(blocks[best]),
                                 int(np.count_nonzero(dh > until)), float(dh.max())))
        # U grows by the pick: update L, the tracked sums, the pool's sums and the near rows
        chosen = blocks[best]
        rows, log_uc = near[best]
        for r, value in zip(rows.tolist(), log_uc.tolist()):
            sums[r] = float(np.logaddexp(sums[r], value))
        new_index = np.arange(n_u, n_u + len(chosen))
        for r, value in zip(new_index.tolist(), np.logaddexp(over_u[bounds[best]:bounds[best + 1]], own[best])):
            sums[r] = float(value)
        total += added
        n_u += len(chosen)
        picked_rows.append(chosen)
        remaining.remove(best)
        if remaining:
            over_u = np.logaddexp(over_u, _log_sums(pool, chosen, inv))
            for c in remaining:
                values = log_kernel_sums(chosen, blocks[c], inv)[:, 0]
                keep = values > NEGLIGIBLE_LOG_SUM
                near[c] = (np.concatenate([near[c][0], new_index[keep]]),
                           np.concatenate([near[c][1], values[keep]]))
    return result
