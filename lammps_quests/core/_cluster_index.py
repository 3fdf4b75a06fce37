"""Clusters of a reference set with distance bounds: the data behind the pruned kernel sums.

The reference descriptors X (Å^-1) are split into clusters by k-means. For each cluster c the
index keeps its centroid mu_c, its members (a copy of their rows, centred, stored cluster by
cluster so a cluster is one contiguous block for a matrix product) and rings: the members
sorted by their distance rho = |x - mu_c| and cut into ``RINGS`` groups of equal size, each
with its smallest and largest rho and its count. For any query y with D = |y - mu_c| the
triangle inequality gives, for every member x of a ring [rho_lo, rho_hi],

    |y - x| >= max(0, D - rho_hi, rho_lo - D),

so the ring's kernel sum is at most count * exp(-that^2 / (2 h^2)); see
:mod:`lammps_quests.core._pruned_sums`. Rings make the bound follow the radial spread of the
cluster instead of its single farthest member.

Inside a cluster the index also keeps ``AXES`` principal axes (orthonormal rows of V_c, the
leading right singular vectors of the centred members) and cuts the members into leaves of at
most ``LEAF_SIZE`` rows by a k-d split in the coordinates (a, rho_perp) of a member x:
a = V_c (x - mu_c) (Å^-1, p values) and rho_perp = |(x - mu_c) - V_c^T a| (the part off the
axes). Each leaf is a contiguous run of rows with a box [lo, hi] in these p + 1 coordinates.
For a query y with b = V_c (y - mu_c) and sigma = |(y - mu_c) - V_c^T b|,

    |y - x|^2 = |b - a|^2 + |t_y - t_x|^2 >= sum_k gap(b_k, [lo_k, hi_k])^2 + gap(sigma, [lo_p, hi_p])^2

(t the parts off the axes, |t_y - t_x| >= |sigma - rho_perp|; gap(v, [lo, hi]) = max(0, lo - v,
v - hi)), so a leaf's kernel sum is at most count * exp(-that / (2 h^2)): a box bound in the
cluster's own frame, far tighter than a sphere for the flat clusters descriptors form.
Rounding (V_c orthonormal only to ``AXES_ORTHO_TOLERANCE``) is handled in
:mod:`lammps_quests.core._pruned_sums`.

The clustering only affects speed, never the result: bounds are computed from the final
assignment, whatever k-means converged to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lammps_quests.errors import QuestsInputError

RINGS = 8  # radial groups per cluster
AXES = 8  # principal axes per cluster for the leaf boxes (fewer if the descriptor is narrower)
LEAF_SIZE = 64  # most rows per leaf: the unit the tolerance step sums or skips
# |V_c V_c^T - I| (largest entry) of the stored axes, checked at build time; the leaf bounds'
# proof uses it (pruned_sums: the distances are shrunk by a relative LEAF_SLACK that covers it).
AXES_ORTHO_TOLERANCE = 1e-12
DEFAULT_CLUSTER_SIZE = 512  # mean members per cluster, most (references of >= ~10^5 rows)
MIN_CLUSTER_SIZE = 32  # fewest mean members per cluster chosen by default
KMEANS_ITERATIONS = 8
_CHUNK = 16384  # rows per assignment product: 16384 x clusters float32 stays ~64 MiB at 1000
# rho is computed in float64 from centred rows: its rounding error is far below 1e-12
# relative; rings are widened by this much so the bounds stay valid despite it.
RHO_SLACK = 1e-12


@dataclass(frozen=True)
class ClusterIndex:
    """Clusters of a reference: arrays in Å^-1 unless stated (see module docstring).

    Attributes:
        center: (d,) mean of the reference; every stored row and centroid is relative to it.
        centroids: (C, d) cluster centres (centred).
        offsets: (C + 1,) int64; members of cluster c are rows offsets[c]:offsets[c+1] of ``rows``.
        order: (n,) int64; row i of ``rows`` is row order[i] of the reference.
        columns: (d, n) float64 reference rows, centred, cluster by cluster, stored transposed
            (column i is one row) so a cluster's dot products with a query vectorise.
        row_norm2: (n,) ``|rows[i]|^2``, Å^-2.
        ring_lo, ring_hi: (C, RINGS) smallest / largest distance of a ring's members to the centroid.
        ring_count: (C, RINGS) int64 members per ring (0 for rings of small clusters left empty).
        axes: (C, p, d) orthonormal principal axes of each cluster (dimensionless), p = min(AXES, d).
        cluster_leaves: (C + 1,) int64; leaves of cluster c are cluster_leaves[c]:cluster_leaves[c+1].
        leaf_offsets: (L + 1,) int64; leaf l is rows leaf_offsets[l]:leaf_offsets[l+1] of ``rows``.
        leaf_lo, leaf_hi: (L, p + 1) box of a leaf's members in (a_1..a_p, rho_perp), Å^-1.
    """

    center: np.ndarray
    centroids: np.ndarray
    offsets: np.ndarray
    order: np.ndarray
    columns: np.ndarray
    row_norm2: np.ndarray
    ring_lo: np.ndarray
    ring_hi: np.ndarray
    ring_count: np.ndarray
    axes: np.ndarray
    cluster_leaves: np.ndarray
    leaf_offsets: np.ndarray
    leaf_lo: np.ndarray
    leaf_hi: np.ndarray

    @property
    def n_clusters(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def n_rows(self) -> int:
        return int(self.columns.shape[1])

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name (what a file stores)."""
        return {name: getattr(self, name) for name in ARRAY_NAMES}


ARRAY_NAMES = ("center", "centroids", "offsets", "order", "columns", "row_norm2", "ring_lo", "ring_hi",
               "ring_count", "axes", "cluster_leaves", "leaf_offsets", "leaf_lo", "leaf_hi")


def default_cluster_size(n: int) -> int:
    """Mean members per cluster for n reference rows: ~1.5 sqrt(n), between 32 and 512.

    A query's first exact sum is over its nearest cluster and its bounds are one per cluster,
    so both costs balance near sqrt(n) members. Measured (benchmarks/bench_fix_overhead.py,
    Cu, 5,376 rows, decisions only): 128 members 7 ms, 512 members 15 ms per 4,000 atoms; the
    512 cap is where the 5 x 10^5-row benchmark (benchmarks/bench_fast_dh.py) was tuned.
    """
    return int(min(DEFAULT_CLUSTER_SIZE, max(MIN_CLUSTER_SIZE, round(1.5 * math.sqrt(max(int(n), 1))))))


def build_cluster_index(X, cluster_size: int | None = None, iterations: int = KMEANS_ITERATIONS,
                        seed: int = 0, progress=None) -> ClusterIndex:
    """Cluster the reference descriptors into ~n / cluster_size groups.

    k-means (Lloyd) from ``seed``-chosen rows, assignments by float32 matrix products (only
    speed depends on them), ``iterations`` rounds; empty clusters are dropped.

    Args:
        X: (n, d) reference descriptors, Å^-1 (may be memory-mapped).
        cluster_size: mean members per cluster; None: :func:`default_cluster_size` of n.
        iterations: k-means rounds.
        seed: random seed of the initial centroids.
        progress: None, or called with n (the rows assigned) after each of the
            ``iterations + 1`` assignment rounds (e.g. a progress bar's ``update``).

    Returns:
        The :class:`ClusterIndex`.
    """
    X = np.asarray(X)
    if X.ndim != 2 or len(X) == 0:
        raise QuestsInputError(f"a cluster index needs a non-empty (n, d) descriptor array, got shape {X.shape}")
    if cluster_size is None:
        cluster_size = default_cluster_size(len(X))
    if int(cluster_size) < 1:
        raise QuestsInputError(f"cluster_size must be >= 1 (mean members per cluster), got {cluster_size!r}")
    n = len(X)
    center = np.asarray(X, dtype=np.float64).mean(axis=0)
    n_clusters = max(1, min(n, round(n / int(cluster_size))))
    rng = np.random.default_rng(seed)
    centroids = np.asarray(X[np.sort(rng.choice(n, n_clusters, replace=False))], dtype=np.float64) - center
    labels = _assign(X, center, centroids)
    if progress is not None:
        progress(n)
    for _ in range(int(iterations)):
        centroids = _means(X, center, labels, centroids)
        labels = _assign(X, center, centroids)
        if progress is not None:
            progress(n)
    return _finish(X, center, labels, n_clusters)


def _assign(X, center, centroids) -> np.ndarray:
    """Label of the nearest centroid of every row (float32 products; ties arbitrary)."""
    c32 = centroids.astype(np.float32)
    c_norm2 = np.einsum("ij,ij->i", c32, c32)
    labels = np.empty(len(X), dtype=np.int64)
    for start in range(0, len(X), _CHUNK):
        block = (np.asarray(X[start:start + _CHUNK], dtype=np.float64) - center).astype(np.float32)
        labels[start:start + len(block)] = np.argmin(c_norm2[None, :] - 2.0 * (block @ c32.T), axis=1)
    return labels


def _means(X, center, labels, previous) -> np.ndarray:
    """Member means per label; a label without members keeps its previous centroid."""
    sums = np.zeros_like(previous)
    for start in range(0, len(X), _CHUNK):
        block = np.asarray(X[start:start + _CHUNK], dtype=np.float64) - center
        _add_rows(sums, labels[start:start + len(block)], block)
    counts = np.bincount(labels, minlength=len(previous)).astype(np.float64)
    means = previous.copy()
    filled = counts > 0
    means[filled] = sums[filled] / counts[filled, None]
    return means


def _add_rows(sums, labels, block) -> None:
    """sums[labels[i]] += block[i] for every i (sorted segments: faster than np.add.at)."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    sums[sorted_labels[starts]] += np.add.reduceat(block[order], starts, axis=0)


def _finish(X, center, labels, n_clusters) -> ClusterIndex:
    """Sort rows by cluster and within it by leaf; exact centroids, rings, axes and leaf boxes."""
    counts = np.bincount(labels, minlength=n_clusters)
    keep = np.flatnonzero(counts)
    relabel = np.full(n_clusters, -1, dtype=np.int64)
    relabel[keep] = np.arange(len(keep))
    labels = relabel[labels]
    counts = counts[keep]
    offsets = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    order = np.argsort(labels, kind="stable")
    rows = np.empty((len(order), X.shape[1]), dtype=np.float64)
    for start in range(0, len(order), _CHUNK):
        rows[start:start + _CHUNK] = np.asarray(X[order[start:start + _CHUNK]], dtype=np.float64) - center
    centroids = np.add.reduceat(rows, offsets[:-1], axis=0) / counts[:, None]
    ring_lo = np.zeros((len(keep), RINGS))
    ring_hi = np.zeros((len(keep), RINGS))
    ring_count = np.zeros((len(keep), RINGS), dtype=np.int64)
    p = min(AXES, rows.shape[1])
    axes = np.zeros((len(keep), p, rows.shape[1]))
    leaf_sizes, leaf_lo, leaf_hi = [], [], []
    cluster_leaves = np.zeros(len(keep) + 1, dtype=np.int64)
    for c in range(len(keep)):
        a, b = offsets[c], offsets[c + 1]
        axes[c] = _principal_axes(rows[a:b] - centroids[c], p)
        coords = leaf_coordinates(rows[a:b] - centroids[c], axes[c])
        within, sizes = _kd_leaves(coords)
        rows[a:b] = rows[a:b][within]  # members leaf by leaf
        order[a:b] = order[a:b][within]
        coords = coords[within]
        for start, stop in zip(np.r_[0, np.cumsum(sizes)[:-1]], np.cumsum(sizes)):
            leaf_lo.append(coords[start:stop].min(axis=0))
            leaf_hi.append(coords[start:stop].max(axis=0))
        leaf_sizes += list(sizes)
        cluster_leaves[c + 1] = cluster_leaves[c] + len(sizes)
        rho = np.sort(np.sqrt(((rows[a:b] - centroids[c]) ** 2).sum(axis=1)))
        for r, part in enumerate(np.array_split(np.arange(b - a), RINGS)):
            if len(part):
                ring_lo[c, r] = rho[part[0]] * (1.0 - RHO_SLACK)
                ring_hi[c, r] = rho[part[-1]] * (1.0 + RHO_SLACK) + RHO_SLACK
                ring_count[c, r] = len(part)
    row_norm2 = np.einsum("ij,ij->i", rows, rows)
    leaf_offsets = np.zeros(len(leaf_sizes) + 1, dtype=np.int64)
    np.cumsum(leaf_sizes, out=leaf_offsets[1:])
    return ClusterIndex(center=center, centroids=centroids, offsets=offsets, order=order,
                        columns=np.ascontiguousarray(rows.T),
                        row_norm2=row_norm2, ring_lo=ring_lo, ring_hi=ring_hi, ring_count=ring_count,
                        axes=axes, cluster_leaves=cluster_leaves, leaf_offsets=leaf_offsets,
                        leaf_lo=np.array(leaf_lo).reshape(-1, p + 1), leaf_hi=np.array(leaf_hi).reshape(-1, p + 1))


def _principal_axes(Z, p: int) -> np.ndarray:
    """(p, d) orthonormal rows: the leading right singular vectors of the centred members Z,
    completed to p rows (clusters with fewer members or rank) and re-orthonormalised by QR, so
    |V V^T - I| <= AXES_ORTHO_TOLERANCE (checked: the leaf bounds' proof relies on it)."""
    d = Z.shape[1]
    _, _, vt = np.linalg.svd(Z, full_matrices=False)
    filler = np.eye(d)[np.argsort(-np.abs(vt).sum(axis=0))] if len(vt) < p else np.empty((0, d))
    q, _ = np.linalg.qr(np.vstack([vt[:p], filler])[:p].T)
    axes = np.ascontiguousarray(q.T)
    if np.abs(axes @ axes.T - np.eye(p)).max() > AXES_ORTHO_TOLERANCE:
        raise ArithmeticError("principal axes of a cluster are not orthonormal to 1e-12")
    return axes


def leaf_coordinates(Z, axes) -> np.ndarray:
    """(m, p + 1) coordinates of the rows Z (relative to the centroid, Å^-1) in a cluster's
    frame: a = axes Z_i and rho_perp = |Z_i - axes^T a| (the residual taken explicitly, not as
    sqrt(|Z|^2 - |a|^2), which would lose half the digits)."""
    a = Z @ axes.T
    perp = np.sqrt(((Z - a @ axes) ** 2).sum(axis=1))
    return np.c_[a, perp]


def _kd_leaves(coords) -> tuple[np.ndarray, list]:
    """Order of the rows and sizes of leaves of <= LEAF_SIZE rows: median splits along the
    coordinate of widest spread, so each leaf's box is small."""
    order, sizes = [], []
    stack = [np.arange(len(coords))]
    while stack:
        group = stack.pop()
        if len(group) <= LEAF_SIZE:
            order.append(group)
            sizes.append(len(group))
            continue
        part = coords[group]
        k = int(np.argmax(part.max(axis=0) - part.min(axis=0)))
        group = group[np.argsort(part[:, k], kind="stable")]
        stack += [group[len(group) // 2:], group[:len(group) // 2]]
    return np.concatenate(order), sizes
