"""Information quantities of descriptor sets (paper Eq. 5-8, SI A.2-A.7), in nats.

All use the Gaussian kernel K(x, y) = exp(-|x - y|^2 / (2 h^2)) with bandwidth h in Å^-1
(default 0.015 Å^-1, the paper's choice). Any function taking ``h`` also accepts a sequence of
bandwidths and then returns one result per bandwidth (stacked along the first axis).

* ``entropy(X)``:        H = -(1/n) sum_i log((1/n) sum_j K(x_i, x_j)),  0 <= H <= log n
* ``delta_entropy(Y, X)``: dH(y|X) = -log sum_i K(y, x_i),  >= -log n; dH > 0 is extrapolation
* ``diversity(X)``:      D = log sum_i 1 / sum_j K(x_i, x_j) = log sum_i exp(dH(x_i|X))
* ``overlap(Y, X)``:     fraction of rows of Y with dH <= 0;  ``novelty`` = 1 - overlap

Species are a parameter, not a second set of functions. Species-aware descriptors
(:mod:`lammps_quests.core._species`) carry a centre species label (0..S-1) per row; given the
labels (``labels``, or ``y_labels`` and ``x_labels``) every function uses the kernel

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

from ._defaults import DEFAULT_BANDWIDTH
from ._kernel_sums import log_kernel_sums, log_kernel_sums_self
from ._mixed_sums import DEFAULT_TOLERANCE as MIXED_TOLERANCE
from ._mixed_sums import mixed_log_kernel_sums, prepared
from ._pruned_sums import DEFAULT_TOLERANCE, pruned_log_kernel_sums
from ._species_index import SpeciesClusterIndex, check_part, missing_species_error
from ._validation import check_bandwidths, check_descriptors, check_same_width


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
        raise ValueError(f"{name} must be one integer species number per row ({n}), got "
                         f"shape {array.shape} of {array.dtype}")
    array = array.astype(np.int64, copy=False)
    if n and array.min() < 0:
        raise ValueError(f"{name} must be species numbers >= 0, found {int(array.min())}")
    return array


def _n_species(species, *label_arrays) -> int:
    """S: the length of ``species`` (element names), else the largest label + 1."""
    top = max((int(a.max()) + 1 for a in label_arrays if a.size), default=1)
    if species is None:
        return top
    if top > len(species):
        raise ValueError(f"species labels go up to {top - 1}, but only {len(species)} species "
                         f"({', '.join(species)}) are named")
    return len(species)


def _pair_labels(Y, X, y_labels, x_labels, species):
    """Checked (y_labels, x_labels, S); (None, None, 0) for species-agnostic rows."""
    if y_labels is None and x_labels is None:
        return None, None, 0
    if y_labels is None or x_labels is None:
        raise ValueError("species-aware dH needs the centre species of the rows of both Y and X: "
                         "give y_labels and x_labels (or neither, for species-agnostic descriptors)")
    y_labels = _labels(y_labels, len(Y), "y_labels")
    x_labels = _labels(x_labels, len(X), "x_labels")
    return y_labels, x_labels, _n_species(species, y_labels, x_labels)


PRECISIONS = ("mixed", "float64")


def delta_entropy(Y, X, h=DEFAULT_BANDWIDTH, *, y_labels=None, x_labels=None, species=None,
                  precision: str = "float64", tol: float = MIXED_TOLERANCE, stats: dict | None = None) -> np.ndarray:
    """Differential entropy dH(y | X) in nats for each row of Y: shape (ny,), or (nh, ny).

    Stays finite however far y lies from X (log-sum-exp), unlike a direct sum that underflows
    to dH = inf.

    Args:
        Y: descriptors (rows = environments, Å^-1).
        X: reference descriptors of the same width, or a :class:`CheckedReference` made once
            with :func:`prepare_reference` (then trusted: not validated again).
        h: bandwidth(s), Å^-1.
        y_labels, x_labels: centre species numbers (0..S-1) of the rows of Y and X for
            species-aware descriptors (each y then only against the rows of X of its species);
            None for species-agnostic ones.
        species: optional element names (S of them) for error messages.
        precision: "float64" (default): the float64 kernel (compared with the published code
            to 1e-9); "mixed": the mixed float32/float64 kernel of
            :mod:`lammps_quests.core._mixed_sums`, every value proven within ``tol`` nats of the
            float64 kernel's (not the default: measured no faster on 2-core EPYC, see README).
        tol: nats, the mixed kernel's guarantee (default 1e-6); ignored for "float64".
        stats: if a dict and precision is "mixed", receives the kernel's counters.

    Returns:
        dH in nats. A species present in Y but absent from X is a ValueError naming it (there
        is nothing to compare those atoms with).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if y_labels is not None or x_labels is not None:
        trusted = isinstance(X, CheckedReference)
        X = X.X if trusted else X
        y_labels, x_labels, n_species = _pair_labels(Y, X, y_labels, x_labels, species)
        return _delta_entropy_grouped(np.asarray(Y), np.asarray(X), h, y_labels, x_labels, n_species, species,
                                      trusted, precision=precision, tol=tol)
    Y = check_descriptors(Y, "Y")
    checked = X if isinstance(X, CheckedReference) else None
    X = checked.X if checked is not None else check_descriptors(X, "X")
    check_same_width(Y, X)
    inv, scalar = _inv_2h2(h)
    if precision == "float64":
        return _per_bandwidth(-log_kernel_sums(Y, X, inv), scalar)
    tol = float(tol)
    if not (np.isfinite(tol) and tol > 0.0):
        raise ValueError(f"tol must be a number of nats > 0 (e.g. 1e-6), got {tol!r}; "
                         "use precision='float64' for the float64 kernel")
    ref = checked.mixed() if checked is not None else prepared(X)
    return _per_bandwidth(-mixed_log_kernel_sums(Y, ref, inv, tol, stats), scalar)


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


def _delta_entropy_grouped(Y, X, h, y_labels, x_labels, n_species, species, trusted=False,
                           **kernel) -> np.ndarray:
    y_groups = species_groups(y_labels, n_species)
    x_groups = species_groups(x_labels, n_species)
    out, scalar = _output(len(Y), h)
    for s in range(n_species):
        if _count(y_groups[s], len(Y)) == 0:
            continue
        if _count(x_groups[s], len(X)) == 0:
            raise missing_species_error(s, species)
        rows = CheckedReference.trusted(X[x_groups[s]]) if trusted else X[x_groups[s]]
        out[:, y_groups[s]] = np.atleast_2d(delta_entropy(Y[y_groups[s]], rows, h, **kernel))
    return out[0] if scalar else out


def _output(n: int, h) -> tuple[np.ndarray, bool]:
    values, scalar = check_bandwidths(h)
    return np.empty((len(values), n)), scalar


def self_delta_entropy(X, h=DEFAULT_BANDWIDTH, *, labels=None) -> np.ndarray:
    """dH(x_i | X) for every row of X against X itself (self term included): (n,) or (nh, n).

    ``labels``: centre species numbers of species-aware rows (each row then only against the
    rows of its own species), or None.
    """
    X = check_descriptors(X, "X")
    if labels is not None:
        labels = _labels(labels, len(X), "labels")
        out, scalar = _output(len(X), h)
        for rows in species_groups(labels, _n_species(None, labels)):
            if _count(rows, len(X)):
                out[:, rows] = np.atleast_2d(self_delta_entropy(X[rows], h))
        return out[0] if scalar else out
    inv, scalar = _inv_2h2(h)
    return _per_bandwidth(-log_kernel_sums_self(X, inv), scalar)


def entropy(X, h=DEFAULT_BANDWIDTH, *, labels=None):
    """Information entropy H(X) in nats (float, or (nh,) array for several bandwidths).

    With species ``labels`` the species kernel's entropy: sum_s p_s H(X_s) - sum_s p_s log p_s.
    """
    dh = np.atleast_2d(self_delta_entropy(X, h, labels=labels))
    n = dh.shape[1]
    values = np.log(n) + dh.mean(axis=1)
    return float(values[0]) if np.ndim(h) == 0 else values


def diversity(X, h=DEFAULT_BANDWIDTH, *, labels=None):
    """Diversity D(X) = log sum_i exp(dH(x_i | X)) in nats (float or (nh,) array); ``labels``
    as for :func:`entropy`."""
    dh = np.atleast_2d(self_delta_entropy(X, h, labels=labels))
    top = dh.max(axis=1, keepdims=True)
    values = top[:, 0] + np.log(np.exp(dh - top).sum(axis=1))
    return float(values[0]) if np.ndim(h) == 0 else values


def overlap(Y, X, h=DEFAULT_BANDWIDTH, *, y_labels=None, x_labels=None, species=None):
    """Fraction of rows of Y with dH(y | X) <= 0: how much of Y the set X already covers
    (labels as for :func:`delta_entropy`)."""
    dh = np.atleast_2d(delta_entropy(Y, X, h, y_labels=y_labels, x_labels=x_labels, species=species))
    values = (dh <= 0.0).mean(axis=1)
    return float(values[0]) if np.ndim(h) == 0 else values


def novelty(Y, X, h=DEFAULT_BANDWIDTH, *, y_labels=None, x_labels=None, species=None):
    """Fraction of rows of Y with dH(y | X) > 0 (1 - overlap): what X lacks."""
    values = 1.0 - np.asarray(overlap(Y, X, h, y_labels=y_labels, x_labels=x_labels, species=species))
    return float(values) if np.ndim(h) == 0 else values


def delta_entropy_of_neighbours(Y, X, neighbours, h: float = DEFAULT_BANDWIDTH) -> np.ndarray:
    """dH(y | X) in nats with the kernel sum restricted to chosen rows of X for each y.

    ``neighbours`` (ny, m) holds row indices of X per row of Y (-1 = none), e.g. the m nearest
    reference environments from an approximate nearest-neighbour index (paper SI A.5, A.12).
    Leaving terms out of the sum can only raise dH, so this is an upper bound of the exact dH:
    conservative for uncertainty. Distances are exact float64; only the choice of rows is free.
    """
    Y = check_descriptors(Y, "Y")
    X = check_descriptors(X, "X")
    check_same_width(Y, X)
    (inv,), _ = _inv_2h2(h)
    neighbours = np.asarray(neighbours)
    if neighbours.ndim != 2 or len(neighbours) != len(Y):
        raise ValueError(f"neighbours must have one row per row of Y ({len(Y)}), got shape {neighbours.shape}")
    if neighbours.size and neighbours.max() >= len(X):
        raise ValueError("neighbours name rows beyond the end of X")
    valid = neighbours >= 0
    rows = X[np.where(valid, neighbours, 0)]  # (ny, m, d)
    diff = rows - Y[:, None, :]
    z = np.where(valid, np.einsum("nmd,nmd->nm", diff, diff) * inv, np.inf)
    lowest = z.min(axis=1)
    if not np.isfinite(lowest).all():
        raise ValueError("every row of Y needs at least one neighbour index >= 0")
    return lowest - np.log(np.exp(-(z - lowest[:, None])).sum(axis=1))


def delta_entropy_fast(Y, index, h: float = DEFAULT_BANDWIDTH, tol: float = DEFAULT_TOLERANCE,
                       threshold: float | None = None, stats: dict | None = None, *, labels=None,
                       species=None) -> np.ndarray:
    """dH(y | X) in nats against a clustered reference, skipping clusters that provably do not
    matter (:mod:`lammps_quests.core._pruned_sums`).

    Args:
        Y: (n, d) descriptors, Å^-1.
        index: a ``ClusterIndex`` of X, or for a species-aware reference a
            :class:`~lammps_quests.core._species_index.SpeciesClusterIndex` (one per element).
        h: one bandwidth, Å^-1.
        tol: nats (0 < tol < 1).
        threshold: None, or t (nats; or several) whose decisions dH > t are certified.
        stats: if a dict, receives the kernel terms evaluated ("pairs"), "rows", "refined",
            "reference" and "clusters_summed" (summed over the elements).
        labels: centre species number of every row of Y; required with a per-element index.
        species: optional element names for error messages.

    Returns:
        (n,) dH. Guarantee: exact dH <= result <= exact dH + ``tol`` (plus ~1e-9 of rounding).
        With ``threshold`` only the decisions dH > t are certified: every result is >= the
        exact dH, so a result <= t means exact dH <= t; a result > t means exact dH > t - tol.
        Values are exact where they are flagged: with t0 the smallest threshold, a result
        > t0 is within ``tol`` of the exact dH, a result <= t0 only an upper bound.
        With a per-element index each row's value is its own element's pruned sum, so both hold
        row by row.
    """
    Y = check_descriptors(Y, "Y")
    width = index.width if isinstance(index, SpeciesClusterIndex) else index.centroids.shape[1]
    if Y.shape[1] != width:
        raise ValueError(f"descriptor width {Y.shape[1]} does not match the indexed reference's "
                         f"{width}; compute them with the reference's k")
    (inv,), scalar = _inv_2h2(h)
    if not scalar:
        raise ValueError(f"the fast dH takes one bandwidth (Å^-1), got {h!r}")
    if threshold is not None:
        threshold = np.atleast_1d(np.asarray(threshold, dtype=np.float64))
        if threshold.ndim != 1 or not np.isfinite(threshold).all():
            raise ValueError(f"fast dH thresholds must be finite numbers of nats, got {threshold!r}")
    if not isinstance(index, SpeciesClusterIndex):
        return -pruned_log_kernel_sums(Y, index, inv, tol, threshold, stats)
    if labels is None:
        raise ValueError("a per-element (species-aware) fast index needs the centre species of every row")
    labels = _labels(labels, len(Y), "labels")
    if labels.size and labels.max() >= index.n_species:
        raise ValueError(f"species labels go up to {int(labels.max())}, but the index has "
                         f"{index.n_species} species")
    out = np.empty(len(Y))
    totals = dict.fromkeys(("pairs", "rows", "refined", "clusters_summed"), 0)
    for s, rows in enumerate(species_groups(labels, index.n_species)):
        if _count(rows, len(Y)) == 0:
            continue
        part = check_part(index, s, species)
        mine = {}
        out[rows] = -pruned_log_kernel_sums(Y[rows], part, inv, tol, threshold, mine)
        for key in totals:
            totals[key] += int(mine.get(key, 0))
    if stats is not None:
        stats.update(totals, reference=index.n_rows)
    return out
