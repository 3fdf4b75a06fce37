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

The clustering only affects speed, never the result: bounds are computed from the final
assignment, whatever k-means converged to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lammps_quests.errors import QuestsInputError

# Radial groups per cluster. Measured on benchmarks/bench_fast_dh.py's data at 10^5 rows, tol 1e-6:
# 32 rings evaluate 39.1 % of the kernel terms where 8 evaluate 40.1 % (decisions: 7.4 % vs 7.7 %).
RINGS = 32
DEFAULT_CLUSTER_SIZE = 1024  # mean members per cluster, most (references of >= ~4.7 x 10^5 rows)
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
        ring_lo, ring_hi: (C, R) smallest / largest distance of a ring's members to the centroid;
            R = RINGS when built here, and whatever a .qidx file holds when loaded (the bounds take R
            from the arrays, so files written with 8 rings keep working).
        ring_count: (C, R) int64 members per ring (0 for rings of small clusters left empty).
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
               "ring_count")


def default_cluster_size(n: int) -> int:
    """Mean members per cluster for n reference rows: ~1.5 sqrt(n), between 32 and 1024.

    A query's first exact sum is over its nearest cluster and its bounds are one per cluster,
    so both costs balance near sqrt(n) members. Measured (benchmarks/bench_fix_overhead.py,
    Cu, 5,376 rows, decisions only): 128 members 7 ms, 512 members 15 ms per 4,000 atoms. At
    5 x 10^5 rows (benchmarks/bench_cluster_size.py, one thread, 4,000 queries, tol 1e-6,
    medians of 3 side by side, 2026-12-07, load 1.0): 512, 768, 1024 and 1536 members take 968,
    937, 906 and 1003 us per atom, summing 35.6, 36.9, 37.8 and 39.5 % of the kernel terms
    (larger clusters sum more terms, but in fewer, larger matrix products, with fewer bounds per
    query); decisions at t = 0: 190 us at 512, 184 us at 1024; on two threads the tolerance mode
    gains 1 % (565 and 559 us). At 10^5 rows 474 and 1024 members tie (203 us), 256 and 128 are
    slower (236 and 307 us).
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
    """Sort rows by cluster, recompute exact centroids, rho and the rings."""
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
    for c in range(len(keep)):
        a, b = offsets[c], offsets[c + 1]
        rho = np.sqrt(((rows[a:b] - centroids[c]) ** 2).sum(axis=1))
        within = np.argsort(rho, kind="stable")
        rows[a:b] = rows[a:b][within]  # members by distance to the centroid
        order[a:b] = order[a:b][within]
        rho = rho[within]
        for r, part in enumerate(np.array_split(np.arange(b - a), RINGS)):
            if len(part):
                ring_lo[c, r] = rho[part[0]] * (1.0 - RHO_SLACK)
                ring_hi[c, r] = rho[part[-1]] * (1.0 + RHO_SLACK) + RHO_SLACK
                ring_count[c, r] = len(part)
    row_norm2 = np.einsum("ij,ij->i", rows, rows)
    return ClusterIndex(center=center, centroids=centroids, offsets=offsets, order=order,
                        columns=np.ascontiguousarray(rows.T),
                        row_norm2=row_norm2, ring_lo=ring_lo, ring_hi=ring_hi, ring_count=ring_count)
