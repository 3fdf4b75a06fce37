"""Information quantities of descriptor sets (paper Eq. 5-8, SI A.2-A.7), in nats.

All use the Gaussian kernel K(x, y) = exp(-|x - y|^2 / (2 h^2)) with bandwidth h in Å^-1
(default 0.015 Å^-1, the paper's choice). Any function taking ``h`` also accepts a sequence of
bandwidths and then returns one result per bandwidth (stacked along the first axis).

* ``entropy(X)``:        H = -(1/n) sum_i log((1/n) sum_j K(x_i, x_j)),  0 <= H <= log n
* ``delta_entropy(Y, X)``: dH(y|X) = -log sum_i K(y, x_i),  >= -log n; dH > 0 is extrapolation
* ``diversity(X)``:      D = log sum_i 1 / sum_j K(x_i, x_j) = log sum_i exp(dH(x_i|X))
* ``overlap(Y, X)``:     fraction of rows of Y with dH <= 0;  ``novelty`` = 1 - overlap

Identity used in tests: H(X) = log n + mean_i dH(x_i | X) (the paper's Eq. 26 prints the sign of
the mean as minus, which contradicts Eq. 5 and Eq. 7; e.g. n copies of one point give
dH = -log n and H = 0).
"""

from __future__ import annotations

import numpy as np

from .defaults import DEFAULT_BANDWIDTH
from .kernel_sums import log_kernel_sums, log_kernel_sums_self
from .mixed_sums import DEFAULT_TOLERANCE as MIXED_TOLERANCE
from .mixed_sums import mixed_log_kernel_sums, prepared
from .pruned_sums import DEFAULT_TOLERANCE, pruned_log_kernel_sums
from .validation import check_bandwidths, check_descriptors, check_same_width


def _inv_2h2(h) -> tuple[np.ndarray, bool]:
    values, scalar = check_bandwidths(h)
    return 1.0 / (2.0 * values * values), scalar


def _per_bandwidth(values: np.ndarray, scalar: bool):
    """(..., nh) results -> nh leading axis, or the bare result for a single bandwidth."""
    values = np.moveaxis(values, -1, 0)
    return values[0] if scalar else values


PRECISIONS = ("mixed", "float64")


def delta_entropy(Y, X, h=DEFAULT_BANDWIDTH, *, precision: str = "float64", tol: float = MIXED_TOLERANCE,
                  stats: dict | None = None) -> np.ndarray:
    """Differential entropy dH(y | X) in nats for each row y of Y: shape (ny,), or (nh, ny).

    Stays finite however far y lies from X (log-sum-exp), unlike a direct sum that underflows
    to dH = inf.

    Args:
        Y: descriptors (rows = environments, Å^-1).
        X: reference descriptors of the same width, or a :class:`CheckedReference` made once
            with :func:`prepare_reference` (then trusted: not validated again).
        h: bandwidth(s), Å^-1.
        precision: "float64" (default): the float64 kernel (compared with the published code
            to 1e-9); "mixed": the mixed float32/float64 kernel of
            :mod:`lammps_quests.core.mixed_sums`, every value proven within ``tol`` nats of the
            float64 kernel's (not the default: measured no faster on 2-core EPYC, see README).
        tol: nats, the mixed kernel's guarantee (default 1e-6); ignored for "float64".
        stats: if a dict and precision is "mixed", receives the kernel's counters.

    Returns:
        dH in nats.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
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

    def mixed(self):
        """The :class:`~lammps_quests.core.mixed_sums.MixedReference` of X (made once)."""
        if self._mixed is None:
            from .mixed_sums import prepare_reference as prepare

            self._mixed = prepare(self.X)
        return self._mixed


def prepare_reference(X) -> CheckedReference:
    """Validate reference descriptors (Å^-1) once: pass the result as X to
    :func:`delta_entropy` to skip the checks (and the mixed kernel's preparation) at every call."""
    return CheckedReference(X)


def self_delta_entropy(X, h=DEFAULT_BANDWIDTH) -> np.ndarray:
    """dH(x_i | X) for every row of X against X itself (self term included): (n,) or (nh, n)."""
    X = check_descriptors(X, "X")
    inv, scalar = _inv_2h2(h)
    return _per_bandwidth(-log_kernel_sums_self(X, inv), scalar)


def entropy(X, h=DEFAULT_BANDWIDTH):
    """Information entropy H(X) in nats (float, or (nh,) array for several bandwidths)."""
    dh = np.atleast_2d(self_delta_entropy(X, h))
    n = dh.shape[1]
    values = np.log(n) + dh.mean(axis=1)
    return float(values[0]) if np.ndim(h) == 0 else values


def diversity(X, h=DEFAULT_BANDWIDTH):
    """Diversity D(X) = log sum_i exp(dH(x_i | X)) in nats (float or (nh,) array)."""
    dh = np.atleast_2d(self_delta_entropy(X, h))
    top = dh.max(axis=1, keepdims=True)
    values = top[:, 0] + np.log(np.exp(dh - top).sum(axis=1))
    return float(values[0]) if np.ndim(h) == 0 else values


def overlap(Y, X, h=DEFAULT_BANDWIDTH):
    """Fraction of rows of Y with dH(y | X) <= 0: how much of Y the set X already covers."""
    dh = np.atleast_2d(delta_entropy(Y, X, h))
    values = (dh <= 0.0).mean(axis=1)
    return float(values[0]) if np.ndim(h) == 0 else values


def novelty(Y, X, h=DEFAULT_BANDWIDTH):
    """Fraction of rows of Y with dH(y | X) > 0 (1 - overlap): what X lacks."""
    values = 1.0 - np.asarray(overlap(Y, X, h))
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
                       threshold: float | None = None, stats: dict | None = None) -> np.ndarray:
    """dH(y | X) in nats against a clustered reference (a ``ClusterIndex`` of X), skipping
    clusters that provably do not matter (:mod:`lammps_quests.core.pruned_sums`).

    Guarantee: exact dH <= result <= exact dH + ``tol`` (nats; plus ~1e-9 of rounding).
    With ``threshold`` t (or several) only the decisions dH > t are certified: every result is
    >= the exact dH, so a result <= t means exact dH <= t; a result > t means exact dH > t - tol.
    """
    Y = check_descriptors(Y, "Y")
    if Y.shape[1] != index.centroids.shape[1]:
        raise ValueError(f"descriptor width {Y.shape[1]} does not match the indexed reference's "
                         f"{index.centroids.shape[1]}; compute them with the reference's k")
    (inv,), scalar = _inv_2h2(h)
    if not scalar:
        raise ValueError(f"the fast dH takes one bandwidth (Å^-1), got {h!r}")
    if threshold is not None:
        threshold = np.atleast_1d(np.asarray(threshold, dtype=np.float64))
        if threshold.ndim != 1 or not np.isfinite(threshold).all():
            raise ValueError(f"fast dH thresholds must be finite numbers of nats, got {threshold!r}")
    return -pruned_log_kernel_sums(Y, index, inv, tol, threshold, stats)
