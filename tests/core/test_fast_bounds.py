"""The cluster bounds of the fast dH (rings around each centroid): each is an upper bound of its
cluster's kernel sum for adversarial queries (on members, duplicates, ring edges, centroids,
between clusters, far away) and tiny to huge bandwidths; the fast dH stays within tol of exact
with them, species-aware too; an index with another number of rings (files written with 8)
still gives results within tol."""

from __future__ import annotations

import numpy as np
import pytest

import lammps_quests.core._cluster_index as cluster_index
from lammps_quests.core._cluster_index import build_cluster_index
from lammps_quests.core._information import delta_entropy, delta_entropy_fast
from lammps_quests.core._pruned_sums import cluster_log_bounds
from lammps_quests.core._species_index import build_species_cluster_index

ROUNDING = 1e-9  # nats: the exact kernel's own rounding r at h = 0.015 Å^-1


def rounding(h):
    """r (nats) at bandwidth h: the rounding of |y|^2 + |x|^2 - 2 y.x (Å^-2) is multiplied by
    1 / (2 h^2), so r grows as h^-2 below 0.015 Å^-1 (both paths share this arithmetic)."""
    return ROUNDING * max(1.0, (0.015 / h) ** 2)
WIDTH = 21


def flat_blobs(rng, n_blobs=5, rows=300):
    """Anisotropic blobs (a few long axes, many short ones), like descriptors; plus duplicates."""
    parts = []
    for _ in range(n_blobs):
        spread = np.r_[rng.uniform(0.01, 0.05, 3), rng.uniform(1e-4, 2e-3, WIDTH - 3)]
        basis, _ = np.linalg.qr(rng.normal(size=(WIDTH, WIDTH)))
        parts.append(rng.uniform(0.1, 0.5, WIDTH) + (rng.normal(size=(rows, WIDTH)) * spread) @ basis)
    X = np.concatenate(parts)
    return np.concatenate([X, np.repeat(X[:4], 30, axis=0)])  # 30 exact copies of 4 rows


def adversarial_queries(rng, X, index):
    """Members, duplicates, centroids, points on ring edges (|y - mu| = rho_lo or rho_hi along a
    member's direction), between clusters, far away (Å^-1)."""
    queries = [X[rng.choice(len(X), 40)], X[:4], X[:4] + 1e-9]
    rows = index.columns.T + index.center
    centroids = index.centroids + index.center
    queries.append(centroids[rng.choice(index.n_clusters, min(10, index.n_clusters), replace=False)])
    for c in rng.choice(index.n_clusters, min(8, index.n_clusters), replace=False):
        member = rows[rng.integers(index.offsets[c], index.offsets[c + 1])]
        direction = member - centroids[c]
        norm = np.linalg.norm(direction)
        if norm == 0.0:
            continue
        for radius in np.r_[index.ring_lo[c], index.ring_hi[c]]:
            queries.append((centroids[c] + direction * (radius / norm))[None])  # on a ring's edge
    pairs = rng.choice(index.n_clusters, (20, 2))
    queries.append(0.5 * (centroids[pairs[:, 0]] + centroids[pairs[:, 1]]))  # between clusters
    queries.append(centroids[:3] + 0.3)  # far from everything
    return np.concatenate(queries)


def exact_log_cluster_sums(Y, index, scale):
    """(nq, C) log of each cluster's kernel sum, from plain differences (no norm expansion)."""
    rows = index.columns.T
    Yc = Y - index.center
    out = np.empty((len(Y), index.n_clusters))
    for c in range(index.n_clusters):
        block = rows[index.offsets[c]:index.offsets[c + 1]]
        d2 = ((Yc[:, None, :] - block[None, :, :]) ** 2).sum(axis=2) * scale
        low = d2.min(axis=1)
        out[:, c] = -low + np.log(np.exp(-(d2 - low[:, None])).sum(axis=1))
    return out


def ring_bounds(Y, index, scale):
    """(nq, C) log ring bounds as the pruned sums compute them."""
    Yc = Y - index.center
    centroids = index.centroids
    return cluster_log_bounds(Yc, (Yc ** 2).sum(axis=1), index, centroids, (centroids ** 2).sum(axis=1), scale)


@pytest.fixture(scope="module")
def reference():
    rng = np.random.default_rng(11)
    return flat_blobs(rng), rng


@pytest.mark.parametrize("cluster_size", [1, 24, 200])
@pytest.mark.parametrize("h", [1e-4, 0.015, 2.0])
def test_ring_bounds_are_upper_bounds(reference, cluster_size, h):
    X, rng = reference
    index = build_cluster_index(X, cluster_size=cluster_size, seed=2)
    Y = adversarial_queries(rng, X, index)
    scale = 1.0 / (2.0 * h * h)
    exact = exact_log_cluster_sums(Y, index, scale)
    bounds = ring_bounds(Y, index, scale)
    finite = np.isfinite(exact)
    assert np.all(bounds[finite] >= exact[finite] - 1e-12 * np.maximum(1.0, np.abs(exact[finite])))
    if cluster_size > 1 and h == 0.015:
        assert (bounds - exact)[finite].min() < 1.0  # some within a factor e: a wrong bound fails above


@pytest.mark.parametrize("h", [1e-3, 0.015, 0.5])
@pytest.mark.parametrize("tol", [1e-6, 1e-2])
def test_fast_dh_within_tol_on_adversarial_queries(reference, h, tol):
    X, rng = reference
    index = build_cluster_index(X, cluster_size=64, seed=3)
    Y = adversarial_queries(rng, X, index)
    stats = {}
    excess = delta_entropy_fast(Y, index, h, fast=tol, stats=stats) - delta_entropy(Y, X, h)
    assert excess.min() >= -rounding(h) and excess.max() <= tol + rounding(h)
    if h == 0.015:
        assert stats["pairs"] < 0.8 * len(Y) * len(X)  # clusters were skipped: the bounds were used


def test_reference_of_duplicates_only():
    """Clusters of identical rows: zero radius, axes of a zero matrix, boxes of one point."""
    rng = np.random.default_rng(5)
    X = np.repeat(rng.uniform(0.1, 0.3, (3, WIDTH)), 200, axis=0)
    index = build_cluster_index(X, cluster_size=50, seed=0)
    Y = np.concatenate([X[::100], X[::100] + 1e-7, X[::150] + rng.normal(0, 0.01, (4, WIDTH))])
    for h in (1e-4, 0.015):
        excess = delta_entropy_fast(Y, index, h, fast=1e-6) - delta_entropy(Y, X, h)
        assert excess.min() >= -rounding(h) and excess.max() <= 1e-6 + rounding(h)


@pytest.mark.parametrize("h", [1e-3, 0.015, 0.3])
def test_species_aware_within_tol(reference, h):
    X, rng = reference
    labels = np.sort(rng.integers(0, 2, len(X)))
    index = build_species_cluster_index(X, labels, 2, cluster_size=40, seed=1)
    counts = [0, 0]
    Y_parts = []
    for s, part in enumerate(index.parts):
        Y_parts.append(adversarial_queries(rng, X[labels == s], part))
        counts[s] = len(Y_parts[-1])
    Y, y_labels = np.concatenate(Y_parts), np.repeat([0, 1], counts)
    fast = delta_entropy_fast(Y, index, h, fast=1e-6, labels=y_labels)
    for s in (0, 1):
        excess = fast[y_labels == s] - delta_entropy(Y[y_labels == s], X[labels == s], h)
        assert excess.min() >= -rounding(h) and excess.max() <= 1e-6 + rounding(h)


def test_index_with_eight_rings_within_tol(reference, monkeypatch):
    """Index files written with 8 rings per cluster load and stay within tol: the bounds take
    the number of rings from the arrays."""
    X, rng = reference
    monkeypatch.setattr(cluster_index, "RINGS", 8)
    index = build_cluster_index(X, cluster_size=64, seed=3)
    assert index.ring_lo.shape[1] == 8
    Y = adversarial_queries(rng, X, index)
    excess = delta_entropy_fast(Y, index, 0.015, fast=1e-6) - delta_entropy(Y, X, 0.015)
    assert excess.min() >= -ROUNDING and excess.max() <= 1e-6 + ROUNDING
