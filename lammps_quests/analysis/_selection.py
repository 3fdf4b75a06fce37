"""Greedy selection of the structures that add the most information to a reference, for any
reference: species-agnostic, or species-aware (then every kernel sum runs over environments
centred on one species only, the species kernel of :mod:`lammps_quests.core._information`).

Start from U = reference. At each step every remaining candidate c (the descriptors of one
structure's atoms, Å^-1) is scored by the entropy it would add, H(U ∪ c) - H(U) in nats, among
the candidates that still hold a new atom: dH(atom | U) > t and not covered by the picks,
dH(atom | picked) > 0 (the rule of de-duplicated saves, :mod:`lammps_quests.core._novelty`;
for t >= 0 the first condition implies the second). The best one (lowest pool index on ties)
joins U. It stops after ``max_picks``, when no atom of the pool is new, or when the
best gain is <= 0 (a structure whose few new atoms come with many that repeat dense regions of U
lowers the entropy: it adds no information).

The entropy of U ∪ c needs, for every point, its kernel sum over U ∪ c (paper Eq. 5):
H(U ∪ c) = log(N + m) - [L(U) + sum_u log1p(S_uc / S_U(u)) + sum_a log(S_aU + S_ac)] / (N + m),
with L(U) = sum_u log S_U(u) = N (log N - H(U)) carried as one number. This holds for the
species kernel too (H = log n + mean dH for any kernel), so labels only restrict each sum to
one species. Only points u with S_uc > e^-40 change L (S_U(u) >= 1), so per candidate only
those rows and their current sums S_U(u) are kept, and S_aU is updated after each pick: after
the first pass over the reference (pool x N pairs, twice) each step costs pool x (atoms
picked) pairs.

Under MPI (``comm``) the passes over the reference split its rows or the pool's rows over
ranks; every rank then holds the same numbers and takes the same picks. Without labels it
is the species-agnostic selection (``lammps_quests.analysis._selection`` re-exports it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lammps_quests.errors import QuestsInputError
from lammps_quests.core._information import entropy, species_groups
from lammps_quests.core._kernel_sums import log_kernel_sums, log_kernel_sums_self
from lammps_quests.core._novelty import new_atoms
from lammps_quests.core._validation import check_bandwidths

from ._parallel import gather_rows, row_range

#: reference rows whose log kernel sum over a candidate is below this are left out of the
#: entropy of the union: each changes the sum of logs by less than e^-40 (S_U(u) >= 1)
NEGLIGIBLE_LOG_SUM = -40.0


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


class _Kernel:
    """Log kernel sums at one bandwidth, restricted to equal labels when labels are given."""

    def __init__(self, h: float, n_species: int):
        values, scalar = check_bandwidths(h)
        if not scalar:
            raise QuestsInputError(f"one bandwidth (Å^-1) is needed here, got {h!r}")
        self.inv = 1.0 / (2.0 * values * values)
        self.n_species = n_species

    def sums(self, Y, y_labels, X, x_labels) -> np.ndarray:
        """log sum_x K(y, x) per row of Y (over the rows of X of y's species); -inf if none."""
        if y_labels is None:
            return log_kernel_sums(np.ascontiguousarray(Y), np.ascontiguousarray(X), self.inv)[:, 0]
        out = np.full(len(Y), -np.inf)
        for y_rows, x_rows in zip(species_groups(y_labels, self.n_species), species_groups(x_labels, self.n_species)):
            if len(Y[y_rows]) and len(X[x_rows]):
                out[y_rows] = log_kernel_sums(np.ascontiguousarray(Y[y_rows]), np.ascontiguousarray(X[x_rows]),
                                              self.inv)[:, 0]
        return out

    def self_sums(self, Y, labels) -> np.ndarray:
        """log sum over the rows of Y (of each row's species) of K, self term included."""
        if labels is None:
            return log_kernel_sums_self(Y, self.inv)[:, 0]
        out = np.empty(len(Y))
        for rows in species_groups(labels, self.n_species):
            if len(Y[rows]):
                out[rows] = log_kernel_sums_self(np.ascontiguousarray(Y[rows]), self.inv)[:, 0]
        return out

    def split_sums(self, Y, y_labels, X, x_labels, comm=None) -> np.ndarray:
        """:meth:`sums` with the rows of Y split over the ranks of ``comm``."""
        start, stop = row_range(len(Y), comm)
        local = np.full(stop - start, -np.inf)
        if stop > start and len(X):
            local = self.sums(Y[start:stop], None if y_labels is None else y_labels[start:stop], X, x_labels)
        return gather_rows(local, comm)


def _take(labels, rows):
    return None if labels is None else labels[rows]


def select(candidates, reference, bandwidth: float, max_picks: int | None = None, until: float = 0.0,
           reference_entropy: float | None = None, comm=None, progress=None, *, candidate_labels=None,
           reference_labels=None, n_species: int | None = None) -> Selection:
    """Greedy picks from ``candidates`` against ``reference`` (see the module docstring).

    Args:
        candidates: list of (m_c, d) descriptor arrays, Å^-1 (one per structure).
        reference: (N, d) reference descriptors, Å^-1.
        h: bandwidth, Å^-1.
        max_picks: stop after this many picks (None: no limit).
        until: t in nats; only candidates with a new atom are picked: dH > t against U and
            > 0 against the picked atoms alone (the second follows from the first for t >= 0).
        reference_entropy: H(reference) at h in nats (with the species kernel when labelled),
            if known; else computed (N^2 / 2 pairs).
        comm: MPI communicator, or None.
        progress: None, or called with 1 after each candidate's pass over the reference (e.g. a
            progress bar's update).
        candidate_labels: for species-aware descriptors, the centre species of each candidate's
            rows (a list like ``candidates``); None for species-agnostic ones.
        reference_labels: the centre species of the reference rows (with ``candidate_labels``).
        n_species: S (default: the largest label + 1).

    Returns:
        The :class:`Selection`: the picks in order, H(reference) and why it stopped.
    """
    if (candidate_labels is None) != (reference_labels is None):
        raise QuestsInputError("give the centre species of both the candidates and the reference, or neither")
    labelled = reference_labels is not None
    X = np.asarray(reference)
    x_labels = np.asarray(reference_labels, dtype=np.int64) if labelled else None
    blocks = [np.ascontiguousarray(c, dtype=np.float64) for c in candidates]
    block_labels = [np.asarray(lab, dtype=np.int64) for lab in candidate_labels] if labelled else [None] * len(blocks)
    if labelled:
        top = max([int(x_labels.max(initial=0))] + [int(lab.max(initial=0)) for lab in block_labels]) + 1
        n_species = top if n_species is None else int(n_species)
    kernel = _Kernel(bandwidth, n_species or 1)
    n_ref = len(X)
    h_ref = float(entropy(X, bandwidth, labels=x_labels)) if reference_entropy is None else float(reference_entropy)
    bounds = np.cumsum([0] + [len(b) for b in blocks])
    pool = np.concatenate(blocks) if blocks else np.zeros((0, X.shape[1]))
    pool_labels = (np.concatenate(block_labels) if blocks else np.zeros(0, np.int64)) if labelled else None
    over_x = kernel.split_sums(pool, pool_labels, X, x_labels, comm)  # log S_aX per pool atom
    over_u = over_x.copy()  # log S_aU, U = reference ∪ picked
    over_p = np.full(len(pool), -np.inf)  # log S over the picked atoms only
    own = [kernel.self_sums(b, lab) if len(b) else np.zeros(0) for b, lab in zip(blocks, block_labels)]
    near = []  # per candidate: rows of U, log S_uc (one pass over the reference each)
    for block, labels in zip(blocks, block_labels):
        near.append(_near_rows(kernel, X, x_labels, block, labels, comm))
        if progress is not None:
            progress(1)
    tracked = np.unique(np.concatenate([rows for rows, _ in near] + [np.zeros(0, dtype=np.int64)]))
    tracked_sums = kernel.split_sums(X[tracked], _take(x_labels, tracked), X, x_labels, comm)  # log S_U(u)
    sums = dict(zip(tracked.tolist(), tracked_sums.tolist()))
    n_u, total = n_ref, n_ref * (np.log(n_ref) - h_ref)  # |U| and L(U)
    result = Selection(reference_entropy=h_ref)
    remaining = [c for c in range(len(blocks)) if len(blocks[c])]
    while True:
        if max_picks is not None and len(result.picks) >= max_picks:
            result.stopped = f"reached --max {max_picks}"
            break
        eligible = [c for c in remaining
                    if new_atoms(-over_x[bounds[c]:bounds[c + 1]], -over_p[bounds[c]:bounds[c + 1]], until).any()]
        if not eligible:
            covered = " that the picks do not cover" if until < 0 else ""
            result.stopped = f"no atom left with dH > {until:g} nats{covered}"
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
        if not gain > 0:  # its new atoms are outweighed by the ones it repeats: labelling it adds nothing
            result.stopped = (f"no structure adds information: the best of {len(eligible)} with a new atom above "
                              f"{until:g} nats would change the entropy by {gain:.3g} nats")
            break
        dh = -over_u[bounds[best]:bounds[best + 1]]
        result.picks.append(Pick(best, float(gain), float(h_new), len(blocks[best]),
                                 int(np.count_nonzero(dh > until)), float(dh.max())))
        # U grows by the pick: update L, the tracked sums, the pool's sums and the near rows
        chosen, chosen_labels = blocks[best], block_labels[best]
        rows, log_uc = near[best]
        for r, value in zip(rows.tolist(), log_uc.tolist()):
            sums[r] = float(np.logaddexp(sums[r], value))
        new_index = np.arange(n_u, n_u + len(chosen))
        for r, value in zip(new_index.tolist(), np.logaddexp(over_u[bounds[best]:bounds[best + 1]], own[best])):
            sums[r] = float(value)
        total += added
        n_u += len(chosen)
        remaining.remove(best)
        if remaining:
            from_chosen = kernel.split_sums(pool, pool_labels, chosen, chosen_labels)
            over_u = np.logaddexp(over_u, from_chosen)
            over_p = np.logaddexp(over_p, from_chosen)
            for c in remaining:
                values = kernel.sums(chosen, chosen_labels, blocks[c], block_labels[c])
                keep = values > NEGLIGIBLE_LOG_SUM
                near[c] = (np.concatenate([near[c][0], new_index[keep]]),
                           np.concatenate([near[c][1], values[keep]]))
    return result


def _near_rows(kernel: _Kernel, X, x_labels, candidate, labels, comm=None) -> tuple[np.ndarray, np.ndarray]:
    """(rows of X, log S_{x,c}) for the rows x whose kernel sum over ``candidate`` matters."""
    values = kernel.split_sums(X, x_labels, candidate, labels, comm)
    rows = np.flatnonzero(values > NEGLIGIBLE_LOG_SUM)
    return rows, values[rows]
