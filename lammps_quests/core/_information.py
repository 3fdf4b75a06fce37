"""Information quantities of descriptor sets (paper Eq. 5-8, SI A.2-A.7), in nats.

All use the Gaussian kernel K(x, y) = exp(-|x - y|^2 / (2 h^2)) with h = ``bandwidth`` in Å^-1
(default 0.015 Å^-1, the paper's choice). Any function taking ``bandwidth`` also accepts a
sequence of bandwidths and then returns one result per bandwidth (stacked along the first axis).

* ``entropy(X)``:        H = -(1/n) sum_i log((1/n) sum_j K(x_i, x_j)),  0 <= H <= log n
* ``delta_entropy(Y, X)``: dH(y|X) = -log sum_i K(y, x_i),  >= -log n; dH > 0 is extrapolation
* ``diversity(X)``:      D = log sum_i 1 / sum_j K(x_i, x_j) = log sum_i exp(dH(x_i|X))
* ``overlap(Y, X)``:     fraction of rows of Y with dH <= 0;  ``novelty`` = 1 - overlap

Species are a parameter, not a second set of functions. Species-aware descriptors
(:mod:`lammps_quests.core._species`) carry a centre species label (0..S-1) per row; given the
labels (``labels``, or ``y_labels`` and ``x_labels``; ``elements``, the ordered element symbols,
only name them in messages) every function uses the kernel

    K_s(x, y) = K(x, y) if x and y are centred on the same species, else 0,

so an atom of species A is compared with the rows centred on A only (exactly, not through a
large distance). Entropy with this kernel splits into the species' own entropies plus the
mixing entropy of the labels: H(X) = sum_s p_s H(X_s) - sum_s p_s log p_s, p_s = n_s / n.
Without labels (or with all labels 0) the numbers are the plain QUESTS ones, bit for bit.

Identity used in tests: H(X) = log n + mean_i dH(x_i | X) (the paper's Eq. 26 prints the sign of
the mean as minus, which contradicts Eq. 5 and Eq. 7; e.g. n copies of one point give
dH = -log n and H = 0).
"""

from __future__ import annotations

import numpy as np

from lammps_quests.errors import QuestsInputError, SpeciesMismatchError
from ._defaults import DEFAULT_BANDWIDTH
from ._kernel_sums import log_kernel_sums, log_kernel_sums_self
from ._defaults import DEFAULT_FAST_TOLERANCE
from ._mixed_sums import mixed_log_kernel_sums, prepared
from ._pruned_sums import pruned_log_kernel_sums
from ._species_index import SpeciesClusterIndex, check_part, missing_species_error
from ._validation import check_bandwidths, check_descriptors, check_fast, check_same_width


def _inv_2h2(h) -> tuple[np.ndarray, bool]:
    values, scalar = check_bandwidths(h)
    return 1.0 / (2.0 * values * values), scalar


def _per_bandwidth(values: np.ndarray, scalar: bool):
    """(..., nh) results -> nh leading axis, or the bare result for a single bandwidth."""
    values = np.moveaxis(values, -1, 0)
    return values[0] if scalar else values


def species_groups(labels: np.ndarray, n_species: int) -> list:
    """Rows of each species: a slice when ``labels`` are sorted (no copy of X), else indices."""
    labels = np.asarray(labels)
    if labels.size < 2 or bool(np.all(labels[1:] >= labels[:-1])):
        edges = np.searchsorted(labels, np.arange(n_species + 1), side="left")
        return [slice(int(edges[s]), int(edges[s + 1])) for s in range(n_species)]
    return [np.flatnonzero(labels == s) for s in range(n_species)]


def _count(rows, n: int) -> int:
    return len(range(*rows.indices(n))) if isinstance(rows, slice) else len(rows)


def _labels(labels, n: int, name: str) -> np.ndarray:
    """``labels`` as (n,) int64 species numbers >= 0."""
    array = np.asarray(labels)
    if array.shape != (n,) or (n and not np.issubdtype(array.dtype, np.integer)):
        raise QuestsInputError(f"{name} must be one integer species number per row ({n}), got "
                               f"shape {array.shape} of {array.dtype}")
    array = array.astype(np.int64, copy=False)
    if n and array.min() < 0:
        raise QuestsInputError(f"{name} must be species numbers >= 0, found {int(array.min())}")
    return array


def _n_species(elements, *label_arrays) -> int:
    """S: the length of ``elements`` (ordered element symbols), else the largest label + 1."""
    top = max((int(a.max()) + 1 for a in label_arrays if a.size), default=1)
    if elements is None:
        return top
    if top > len(elements):
        raise SpeciesMismatchError(f"species labels go up to {top - 1}, but only {len(elements)} elements "
                         f"({', '.join(elements)}) are named")
    return len(elements)


def _pair_labels(Y, X, y_labels, x_labels, elements):
    """Checked (y_labels, x_labels, S); (None, None, 0) for species-agnostic rows."""
    if y_labels is None and x_labels is None:
        return None, None, 0
    if y_labels is None or x_labels is None:
        raise QuestsInputError("species-aware dH needs the centre species of the rows of both Y and X: "
                               "give y_labels and x_labels (or neither, for species-agnostic descriptors)")
    y_labels = _labels(y_labels, len(Y), "y_labels")
    x_labels = _labels(x_labels, len(X), "x_labels")
    return y_labels, x_labels, _n_species(elements, y_labels, x_labels)


PRECISIONS = ("mixed", "float64")


def delta_entropy(Y, X, bandwidth=DEFAULT_BANDWIDTH, *, y_labels=None, x_labels=None, elements=None,
                  precision: str = "float64", tolerance: float = DEFAULT_FAST_TOLERANCE,
                  stats: dict | None = None) -> np.ndarray:
    """Differential entropy dH(y | X) in nats for each row of Y: shape (ny,), or (nh, ny).

    Stays finite however far y lies from X (log-sum-exp), unlike a direct sum that underflows
    to dH = inf.

    Args:
        Y: descriptors (rows = environments, Å^-1).
        X: reference descriptors of the same width, or a :class:`CheckedReference` made once
            with :func:`prepare_reference` (then trusted: not validated again).
        bandwidth: Å^-1, one or several.
        y_labels, x_labels: centre species numbers (0..S-1) of the rows of Y and X for
            species-aware descriptors (each y then only against the rows of X of its species);
            None for species-agnostic ones.
        elements: optional ordered element symbols (S of them), naming species in messages.
        precision: "float64" (default): the float64 kernel (compared with the published code
            to 1e-9); "mixed": the mixed float32/float64 kernel of
            :mod:`lammps_quests.core._mixed_sums`, every value proven within ``tolerance`` nats
            of the float64 kernel's (not the default: measured slower than float64,
            docs/performance.md#performance-mixed).
        tolerance: nats, the mixed kernel's guarantee (default 1e-6); ignored for "float64".
        stats: if a dict and precision is "mixed", receives the kernel's counters.

    Returns:
        dH in nats. A species present in Y but absent from X is a ValueError naming it (there
        is nothing to compare those atoms with).
    """
    if precision not in PRECISIONS:
        raise QuestsInputError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if y_labels is not None or x_labels is not None:
        trusted = isinstance(X, CheckedReference)
        X = X.X if trusted else X
        y_labels, x_labels, n_species = _pair_labels(Y, X, y_labels, x_labels, elements)
        return _delta_entropy_grouped(np.asarray(Y), np.asarray(X), bandwidth, y_labels, x_labels, n_species,
                                      elements, trusted, precision=precision, tolerance=tolerance)
    Y = check_descriptors(Y, "Y")
    checked = X if isinstance(X, CheckedReference) else None
    X = checked.X if checked is not None else check_descriptors(X, "X")
    check_same_width(Y, X)
    inv, scalar = _inv_2h2(bandwidth)
    if precision == "float64":
        return _per_bandwidth(-log_kernel_sums(Y, X, inv), scalar)
    tolerance = check_fast(tolerance, "tolerance")
    ref = checked.mixed() if checked is not None else prepared(X)
    return _per_bandwidth(-mixed_log_kernel_sums(Y, ref, inv, tolerance, stats), scalar)


class CheckedReference:
    """Reference descriptors (Å^-1) validated once, for :func:`delta_entropy` calls that
    repeat against the same reference (a monitor evaluating every N steps): passed as X, they
    are not checked again (the finiteness check reads the whole reference). The array must
    not change afterwards. The mixed kernel's rotation is made on its first use and kept.
    """

    def __init__(self, X):
        self.X = check_descriptors(X, "X")
        self._mixed = None

    @classmethod
    def trusted(cls, X) -> CheckedReference:
        """Rows of a reference already checked (e.g. one species' slice): not checked again."""
        checked = cls.__new__(cls)
        checked.X, checked._mixed = X, None
        return checked

    def mixed(self):
        """The :class:`~lammps_quests.core._mixed_sums.MixedReference` of X (made once)."""
        if self._mixed is None:
            from ._mixed_sums import prepare_reference as prepare

            self._mixed = prepare(self.X)
        return self._mixed


def prepare_reference(X) -> CheckedReference:
    """Validate reference descriptors (Å^-1) once: pass the result as X to
    :func:`delta_entropy` to skip the checks (and the mixed kernel's preparation) at every call."""
    return CheckedReference(X)


def _delta_entropy_grouped(Y, X, bandwidth, y_labels, x_labels, n_species, elements, trusted=False,
                           **kernel) -> np.ndarray:
    y_groups = species_groups(y_labels, n_species)
    x_groups = species_groups(x_labels, n_species)
    out, scalar = _output(len(Y), bandwidth)
    for s in range(n_species):
        if _count(y_groups[s], len(Y)) == 0:
            continue
        if _count(x_groups[s], len(X)) == 0:
            raise missing_species_error(s, elements)
        rows = CheckedReference.trusted(X[x_groups[s]]) if trusted else X[x_groups[s]]
        out[:, y_groups[s]] = np.atleast_2d(delta_entropy(Y[y_groups[s]], rows, bandwidth, **kernel))
    return out[0] if scalar else out


def _output(n: int, bandwidth) -> tuple[np.ndarray, bool]:
    values, scalar = check_bandwidths(bandwidth)
    return np.empty((len(values), n)), scalar


def self_delta_entropy(X, bandwidth=DEFAULT_BANDWIDTH, *, labels=None) -> np.ndarray:
    """dH(x_i | X) for every row of X against X itself (self term included): (n,) or (nh, n).

    ``labels``: centre species numbers of species-aware rows (each row then only against the
    rows of its own species), or None.
    """
    X = check_descriptors(X, "X")
    if labels is not None:
        labels = _labels(labels, len(X), "labels")
        out, scalar = _output(len(X), bandwidth)
        for rows in species_groups(labels, _n_species(None, labels)):
            if _count(rows, len(X)):
                out[:, rows] = np.atleast_2d(self_delta_entropy(X[rows], bandwidth))
        return out[0] if scalar else out
    inv, scalar = _inv_2h2(bandwidth)
    return _per_bandwidth(-log_kernel_sums_self(X, inv), scalar)


def entropy(X, bandwidth=DEFAULT_BANDWIDTH, *, labels=None):
    """Information entropy H(X) in nats (float, or (nh,) array for several bandwidths).

    With species ``labels`` the species kernel's entropy: sum_s p_s H(X_s) - sum_s p_s log p_s.
    """
    dh = np.atleast_2d(self_delta_entropy(X, bandwidth, labels=labels))
    n = dh.shape[1]
    values = np.log(n) + dh.mean(axis=1)
    return float(values[0]) if np.ndim(bandwidth) == 0 else values


def diversity(X, bandwidth=DEFAULT_BANDWIDTH, *, labels=None):
    """Diversity D(X) = log sum_i exp(dH(x_i | X)) in nats (float or (nh,) array); ``labels``
    as for :func:`entropy`."""
    dh = np.atleast_2d(self_delta_entropy(X, bandwidth, labels=labels))
    top = dh.max(axis=1, keepdims=True)
    values = top[:, 0] + np.log(np.exp(dh - top).sum(axis=1))
    return float(values[0]) if np.ndim(bandwidth) == 0 else values


def overlap(Y, X, bandwidth=DEFAULT_BANDWIDTH, *, y_labels=None, x_labels=None, elements=None):
    """Fraction of rows of Y with dH(y | X) <= 0: how much of Y the set X already covers
    (labels as for :func:`delta_entropy`)."""
    dh = np.atleast_2d(delta_entropy(Y, X, bandwidth, y_labels=y_labels, x_labels=x_labels, elements=elements))
    values = (dh <= 0.0).mean(axis=1)
    return float(values[0]) if np.ndim(bandwidth) == 0 else values


def novelty(Y, X, bandwidth=DEFAULT_BANDWIDTH, *, y_labels=None, x_labels=None, elements=None):
    """Fraction of rows of Y with dH(y | X) > 0 (1 - overlap): what X lacks."""
    values = 1.0 - np.asarray(overlap(Y, X, bandwidth, y_labels=y_labels, x_labels=x_labels, elements=elements))
    return float(values) if np.ndim(bandwidth) == 0 else values


def delta_entropy_of_neighbours(Y, X, neighbours, bandwidth: float = DEFAULT_BANDWIDTH) -> np.ndarray:
    """dH(y | X) in nats with the kernel sum restricted to chosen rows of X for each y.

    ``neighbours`` (ny, m) holds row indices of X per row of Y (-1 = none), e.g. the m nearest
    reference environments from an approximate nearest-neighbour index (paper SI A.5, A.12).
    Leaving terms out of the sum can only raise dH, so this is an upper bound of the exact dH:
    conservative for uncertainty. Distances are exact float64; only the choice of rows is free.
    """
    Y = check_descriptors(Y, "Y")
    X = check_descriptors(X, "X")
    check_same_width(Y, X)
    (inv,), _ = _inv_2h2(bandwidth)
    neighbours = np.asarray(neighbours)
    if neighbours.ndim != 2 or len(neighbours) != len(Y):
        raise QuestsInputError(f"neighbours must have one row per row of Y ({len(Y)}), got shape {neighbours.shape}")
    if neighbours.size and neighbours.max() >= len(X):
        raise QuestsInputError("neighbours name rows beyond the end of X")
    valid = neighbours >= 0
    rows = X[np.where(valid, neighbours, 0)]  # (ny, m, d)
    diff = rows - Y[:, None, :]
    z = np.where(valid, np.einsum("nmd,nmd->nm", diff, diff) * inv, np.inf)
    lowest = z.min(axis=1)
    if not np.isfinite(lowest).all():
        raise QuestsInputError("every row of Y needs at least one neighbour index >= 0")
    return lowest - np.log(np.exp(-(z - lowest[:, None])).sum(axis=1))


def delta_entropy_fast(Y, fast_index, bandwidth: float = DEFAULT_BANDWIDTH, fast: float = DEFAULT_FAST_TOLERANCE,
                       thresholds=None, stats: dict | None = None, *, labels=None,
                       elements=None) -> np.ndarray:
    """dH(y | X) in nats against a clustered reference, skipping clusters that provably do not
    matter (:mod:`lammps_quests.core._pruned_sums`).

    Args:
        Y: (n, d) descriptors, Å^-1.
        fast_index: a ``ClusterIndex`` of X, or for a species-aware reference a
            :class:`~lammps_quests.core._species_index.SpeciesClusterIndex` (one per element).
        bandwidth: one bandwidth, Å^-1.
        fast: the tolerance, nats (0 < fast < 1).
        thresholds: None, or t (nats; or several) whose decisions dH > t are certified (the
            decision mode, ``decide``).
        stats: if a dict, receives the kernel terms evaluated ("pairs"), "rows", "refined",
            "reference" and "clusters_summed" (summed over the elements).
        labels: centre species number of every row of Y; required with a per-element index.
        elements: optional ordered element symbols, naming species in messages.

    Returns:
        (n,) dH. Guarantee: exact dH <= result <= exact dH + ``fast`` (plus ~1e-9 of rounding).
        With ``thresholds`` only the decisions dH > t are certified: every result is >= the
        exact dH, so a result <= t means exact dH <= t; a result > t means exact dH > t - fast.
        Values are exact where they are flagged: with t0 the smallest threshold, a result
        > t0 is within ``fast`` of the exact dH, a result <= t0 only an upper bound.
        With a per-element index each row's value is its own element's pruned sum, so both hold
        row by row.
    """
    Y = check_descriptors(Y, "Y")
    index = fast_index
    width = index.width if isinstance(index, SpeciesClusterIndex) else index.centroids.shape[1]
    if Y.shape[1] != width:
        raise QuestsInputError(f"descriptor width {Y.shape[1]} does not match the indexed reference's "
                         f"{width}; compute them with the reference's k")
    (inv,), scalar = _inv_2h2(bandwidth)
    if not scalar:
        raise QuestsInputError(f"the fast dH takes one bandwidth (Å^-1), got {bandwidth!r}")
    fast = check_fast(fast)
    if thresholds is not None:
        thresholds = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
        if thresholds.ndim != 1 or not np.isfinite(thresholds).all():
            raise QuestsInputError(f"fast dH thresholds must be finite numbers of nats, got {thresholds!r}")
    if not isinstance(index, SpeciesClusterIndex):
        return -pruned_log_kernel_sums(Y, index, inv, fast, thresholds, stats)
    if labels is None:
        raise QuestsInputError("a per-element (species-aware) fast index needs the centre species of every row")
    labels = _labels(labels, len(Y), "labels")
    if labels.size and labels.max() >= index.n_species:
        raise SpeciesMismatchError(f"species labels go up to {int(labels.max())}, but the index has "
                                   f"{index.n_species} species")
    out = np.empty(len(Y))
    totals = dict.fromkeys(("pairs", "rows", "refined", "clusters_summed"), 0)
    for s, rows in enumerate(species_groups(labels, index.n_species)):
        if _count(rows, len(Y)) == 0:
            continue
        part = check_part(index, s, elements)
        mine = {}
        out[rows] = -pruned_log_kernel_sums(Y[rows], part, inv, fast, thresholds, mine)
        for key in totals:
            totals[key] += int(mine.get(key, 0))
    if stats is not None:
        stats.update(totals, reference=index.n_rows)
    return out
