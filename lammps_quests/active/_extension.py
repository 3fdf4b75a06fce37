"""The reference extended in memory by saved environments, and the entropy they add.

An :class:`Extension` holds the descriptors (Å^-1) of environments saved during a run next to
the reference's. dH against reference ∪ saved needs no second kernel: the kernel sum over the
union is the sum over the reference plus the sum over the saved rows, so with
``dH_ref = -log S_ref`` already known (``fix quests`` computes it for every atom)

    dH(y | ref ∪ saved) = -log(S_ref(y) + S_saved(y)) = -logaddexp(-dH_ref(y), log S_saved(y))

and only ``log S_saved`` (ny x n_saved pairs) is new work.

The entropy of the union (paper Eq. 5) is H(X ∪ S) = log(N+M) - (1/(N+M)) [sum over all points
of their log kernel sum over the union]. For reference rows x, log(S_XX + S_XS) = log S_XX +
log1p(S_XS / S_XX); sum_x log S_XX = N (log N - H(X)) is known from H(X), and S_XX >= 1 (the
self term), so rows with S_XS(x) < e^-40 change the sum by less than e^-40 each and are left
out. The remaining rows need their own reference sums: the work is N x M pairs plus
(rows near S) x N, not N^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lammps_quests.core._information import entropy
from lammps_quests.core._kernel_sums import log_kernel_sums, log_kernel_sums_self
from lammps_quests.core._species_information import species_groups
from lammps_quests.core._validation import check_bandwidths, check_descriptors

#: reference rows whose log kernel sum over the added rows is below this are left out of the
#: entropy of the union: each changes the sum of logs by less than e^-40 (S_XX >= 1)
NEGLIGIBLE_LOG_SUM = -40.0


def _inv_2h2(h: float) -> np.ndarray:
    values, scalar = check_bandwidths(h)
    if not scalar:
        raise ValueError(f"one bandwidth (Å^-1) is needed here, got {h!r}")
    return 1.0 / (2.0 * values * values)


def log_sums(Y: np.ndarray, X: np.ndarray, h: float) -> np.ndarray:
    """log sum_i K(y, x_i) (nats) per row of Y; -inf for every row when X is empty."""
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    if len(X) == 0 or len(Y) == 0:
        return np.full(len(Y), -np.inf)
    X = np.ascontiguousarray(X, dtype=np.float64)
    return log_kernel_sums(Y, X, _inv_2h2(h))[:, 0]


def cached_entropy(reference, bandwidth: float) -> float | None:
    """H(reference) in nats cached in the reference's header for ``bandwidth``, else None."""
    extra = getattr(reference, "extra", None) or {}
    info = extra.get("self_information")
    if isinstance(info, dict) and info.get("entropy") is not None and \
            np.isclose(float(info.get("bandwidth", -1.0)), bandwidth, rtol=1e-12, atol=0.0):
        return float(info["entropy"])
    return None


@dataclass(frozen=True)
class EntropyGain:
    """Entropy of the reference and of reference ∪ added environments (nats)."""

    reference: float  # H(X)
    union: float  # H(X ∪ S)
    n_reference: int
    n_added: int

    @property
    def added(self) -> float:
        """H(X ∪ S) - H(X), nats."""
        return self.union - self.reference


def union_entropy(X: np.ndarray, S: np.ndarray, h: float, reference_entropy: float | None = None) -> EntropyGain:
    """H(X ∪ S) and H(X) in nats without the N x N sums over X (see the module docstring).

    X : (N, d) reference descriptors (Å^-1); S : (M, d) added descriptors; h : bandwidth Å^-1.
    reference_entropy : H(X) at bandwidth h if known (a reference may cache it), else computed
    here (N^2 / 2 pairs).
    """
    X = check_descriptors(X, "reference descriptors")
    h_ref = float(entropy(X, h)) if reference_entropy is None else float(reference_entropy)
    n, m = len(X), len(S)
    if m == 0:
        return EntropyGain(h_ref, h_ref, n, 0)
    S = check_descriptors(S, "added descriptors")
    inv = _inv_2h2(h)
    log_xs = log_kernel_sums(X, S, inv)[:, 0]
    near = np.flatnonzero(log_xs > NEGLIGIBLE_LOG_SUM)
    total = n * (np.log(n) - h_ref)  # sum over X of log S_XX
    if len(near):
        log_xx = log_kernel_sums(np.ascontiguousarray(X[near]), X, inv)[:, 0]
        total += float(np.sum(np.log1p(np.exp(log_xs[near] - log_xx))))
    log_s = np.logaddexp(log_kernel_sums(S, X, inv)[:, 0], log_kernel_sums_self(S, inv)[:, 0])
    total += float(np.sum(log_s))
    return EntropyGain(h_ref, float(np.log(n + m) - total / (n + m)), n, m)


def species_union_entropy(X, x_labels, S, s_labels, n_species: int, h: float,
                          species_entropies=None) -> EntropyGain:
    """H(X) and H(X ∪ S) in nats with the species kernel (centres of one species only).

    With that kernel the entropy splits exactly into the species' own entropies plus the mixing
    entropy of the labels (:mod:`lammps_quests.core._species_information`):
    H = sum_s p_s H(X_s) - sum_s p_s log p_s, p_s = n_s / n. Each species' pair is
    :func:`union_entropy` of its own rows, so the gain is exact (to the e^-40 rule).

    Args:
        X, S: reference and added species-aware descriptors (Å^-1).
        x_labels, s_labels: centre species (0..n_species-1) of their rows.
        n_species: number of species.
        h: bandwidth, Å^-1.
        species_entropies: H(X_s) per species at ``h`` if known (nats; NaN for an absent one).

    Returns:
        EntropyGain with the species-kernel entropies.
    """
    s_labels = np.asarray(s_labels)
    groups = species_groups(x_labels, n_species)  # slices of a reference (rows grouped): no copy
    parts = []  # (n_s, m_s, H(X_s), H(X_s ∪ S_s))
    for s in range(n_species):
        rows, ss = X[groups[s]], np.flatnonzero(s_labels == s)
        if len(rows) == 0:
            if len(ss):
                raise ValueError(f"added environments centred on species {s} have no reference rows "
                                 "of that species to extend")
            continue
        known = None if species_entropies is None else float(species_entropies[s])
        gain = union_entropy(rows, np.asarray(S)[ss], h, known)
        parts.append((len(rows), len(ss), gain.reference, gain.union))
    counts = np.array([[n, n + m] for n, m, _, _ in parts], dtype=float)
    entropies = np.array([[a, b] for _, _, a, b in parts])
    p = counts / counts.sum(axis=0)
    mixed = (p * entropies).sum(axis=0) - (p * np.log(p)).sum(axis=0)
    n, total = counts.sum(axis=0)
    return EntropyGain(float(mixed[0]), float(mixed[1]), int(n), int(total - n))


class Extension:
    """Reference descriptors plus environments saved since, for dH against their union.

    Args:
        reference: (N, width) reference descriptors (Å^-1), e.g. ``Reference.descriptors``
            (kept as given: a memory map stays mapped).
        bandwidth: kernel bandwidth h, Å^-1.
        reference_entropy: H(reference) in nats at this bandwidth, if cached; computed on the
            first call of :meth:`entropy_gain` otherwise (species-agnostic only: with labels the
            species' own entropies are computed, as a cached total cannot be split).
        labels: centre species (0..S-1) of every reference row for a species-aware reference,
            else None (the one-species case). With labels, an added row only meets reference
            and saved rows centred on its own species (the species kernel).
        n_species: S (with ``labels``).

    Every MPI rank that adds the same rows in the same order holds the same extension.
    """

    def __init__(self, reference: np.ndarray, bandwidth: float, reference_entropy: float | None = None,
                 *, labels=None, n_species: int = 1):
        self.reference = reference
        self.bandwidth = float(bandwidth)
        _inv_2h2(self.bandwidth)
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self.n_species = 1 if labels is None else int(n_species)
        if self.labels is not None and len(self.labels) != len(reference):
            raise ValueError(f"{len(self.labels)} labels for {len(reference)} reference rows")
        # rows of each species: slices when the rows are grouped (a Reference's are), so a
        # memory-mapped reference is never copied
        self._groups = None if labels is None else species_groups(self.labels, self.n_species)
        self.reference_entropy = reference_entropy if labels is None else None
        self._species_entropies = None
        self._saved = np.zeros((0, reference.shape[1]))
        self._saved_labels = np.zeros(0, dtype=np.int64)
        self._count = 0

    @property
    def saved(self) -> np.ndarray:
        """(n_saved, width) descriptors added so far (a view; do not modify)."""
        return self._saved[: self._count]

    @property
    def saved_labels(self) -> np.ndarray:
        """Centre species of the saved rows (all 0 for a species-agnostic reference)."""
        return self._saved_labels[: self._count]

    @property
    def n_saved(self) -> int:
        return self._count

    def add(self, descriptors, labels=None) -> None:
        """Append saved environments (rows of descriptors, Å^-1; ``labels``: their centre
        species, required with a species-aware reference). No rows (an empty selection such
        as ``Y[dh > t]`` where no atom is above t) add nothing."""
        given = np.asarray(descriptors)
        if given.ndim >= 1 and given.shape[0] == 0:
            return
        rows = check_descriptors(np.atleast_2d(descriptors), "saved descriptors")
        if rows.shape[1] != self.reference.shape[1]:
            raise ValueError(f"saved descriptors have width {rows.shape[1]}, the reference "
                             f"{self.reference.shape[1]}")
        labels = self._row_labels(labels, len(rows))
        need = self._count + len(rows)
        if need > len(self._saved):  # grow by doubling: adding stays O(rows) amortised
            size = max(need, 2 * len(self._saved), 64)
            grown = np.zeros((size, rows.shape[1]))
            grown[: self._count] = self._saved[: self._count]
            grown_labels = np.zeros(size, dtype=np.int64)
            grown_labels[: self._count] = self._saved_labels[: self._count]
            self._saved, self._saved_labels = grown, grown_labels
        self._saved[self._count : need] = rows
        self._saved_labels[self._count : need] = labels
        self._count = need

    def _row_labels(self, labels, n: int) -> np.ndarray:
        if self.labels is None:
            return np.zeros(n, dtype=np.int64)
        if labels is None:
            raise ValueError("a species-aware extension needs the centre species of every row")
        labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels for {n} rows")
        return labels

    def log_sums_saved(self, Y, labels=None) -> np.ndarray:
        """log sum over saved rows (of each row's own species) of K(y, s) per row of Y
        (-inf while nothing is saved)."""
        Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
        labels = self._row_labels(labels, len(Y))
        out = np.full(len(Y), -np.inf)
        saved, saved_labels = self.saved, self.saved_labels
        for s in np.unique(labels):
            rows = np.flatnonzero(labels == s)
            out[rows] = log_sums(Y[rows], saved[saved_labels == s], self.bandwidth)
        return out

    def delta_entropy(self, Y, dh_reference=None, labels=None) -> np.ndarray:
        """dH(y | reference ∪ saved) in nats per row of Y.

        ``dh_reference``: dH(y | reference) if already computed (saves the reference sums);
        ``labels``: centre species of the rows (species-aware references).
        """
        Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
        if dh_reference is None:
            dh_reference = self._dh_reference(Y, self._row_labels(labels, len(Y)))
        dh_reference = np.asarray(dh_reference, dtype=np.float64)
        if self._count == 0:
            return dh_reference.copy()
        return -np.logaddexp(-dh_reference, self.log_sums_saved(Y, labels))

    def _dh_reference(self, Y, labels) -> np.ndarray:
        if self.labels is None:
            return -log_sums(Y, self.reference, self.bandwidth)
        out = np.empty(len(Y))
        for s in np.unique(labels):
            rows = np.flatnonzero(labels == s)
            out[rows] = -log_sums(Y[rows], self.reference[self._groups[s]], self.bandwidth)
        return out

    def entropy_gain(self) -> EntropyGain:
        """H(reference) and H(reference ∪ saved), nats (H(reference), or with species the
        species' own entropies, computed once if needed)."""
        if self.labels is not None:
            if self._species_entropies is None:
                self._species_entropies = self._own_entropies()
            return species_union_entropy(self.reference, self.labels, self.saved, self.saved_labels,
                                         self.n_species, self.bandwidth, self._species_entropies)
        if self.reference_entropy is None:
            self.reference_entropy = float(entropy(np.asarray(self.reference), self.bandwidth))
        return union_entropy(self.reference, self.saved, self.bandwidth, self.reference_entropy)

    def _own_entropies(self) -> np.ndarray:
        """H(X_s) per species, nats (NaN for a species without reference rows)."""
        values = np.full(self.n_species, np.nan)
        for s in range(self.n_species):
            rows = self.reference[self._groups[s]]
            if len(rows):
                values[s] = float(entropy(rows, self.bandwidth))
        return values
