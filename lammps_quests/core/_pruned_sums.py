"""Gaussian kernel sums against a clustered reference, skipping clusters that provably do not matter.

For a query y the exact log S(y) = log sum_i exp(-|y - x_i|^2 s), s = 1 / (2 h^2) (Å^2),
equals -dH(y | X). With a :class:`~lammps_quests.core.ClusterIndex`:

1. The query's nearest cluster (by centroid) is summed exactly: S1 <= S.
2. Every other cluster c gets an upper bound B_c of its sum from its rings (triangle
   inequality, see :mod:`.cluster_index`). The clusters with the smallest bounds are skipped as
   long as their bounds add up to at most (1 - e^-tol) * S1; all others are summed exactly.

Skipped terms are all positive and S1 <= S, so the computed sum S' satisfies
e^-tol * S <= S' <= S and

    0 <= dH_fast - dH_exact = log(S / S') <= tol   (nats),

i.e. the fast dH is never below the exact one and at most ``tol`` above it (plus the exact
kernel's own rounding, ~1e-9 nats). Summed clusters use the exact path's arithmetic
(:mod:`lammps_quests.core._kernel_sums`: rows centred on the reference mean,
|y|^2 + |x|^2 - 2 y.x, running log-sum-exp, the same exponential): a matrix product and
``_accumulate_block`` when many queries of a block need a cluster, else a compiled loop over
(cluster, queries) pairs.

With a ``threshold`` t (nats; or several, t = the smallest) only decisions are certified, and
values are exact only where they matter: after step 1, -log S1 >= dH is an upper bound and
-log(S1 + sum of all bounds) <= dH a lower bound. Atoms whose upper bound is at or below t are
decided (exact dH <= t) and keep the upper bound as their value. Atoms whose bounds straddle t
sum more clusters (largest bounds first, ``DECISION_ROUNDS``), rechecking; those whose upper
bound is still above t then go through step 2, so their value is within ``tol`` of exact. Rule
(what a user reads from a value v): v > t means exact dH is in [v - tol, v]; v <= t means v is
an upper bound and exact dH <= t (and so <= every threshold given). Every value is >= the exact
dH, and lies on the same side of each threshold as the exact dH unless the exact dH is within
``tol`` below it.

Queries are sorted by nearest centroid and handled in blocks, so one matrix product serves
all queries of a block that need a cluster.

Proof of the guarantee, with float rounding. Let K be the set of clusters summed, R the set
skipped, S_K and S_R their exact kernel sums (S = S_K + S_R), and S' the computed S_K.

(a) Each bound is an upper bound. For a member x of ring [rho_lo, rho_hi] of cluster c and
    D = |y - mu_c|, |y - x| >= |D - |x - mu_c|| >= max(0, D - rho_hi, rho_lo - D) (triangle
    inequality), so the ring's sum is <= count * exp(-s gap^2). The rounding of D (computed as
    |y|^2 + |mu|^2 - 2 y.mu, error <= d 2^-53 |y||mu| <= _DISTANCE_SLACK (|y|^2 + |mu|^2)) is
    covered by using d_lo below and d_hi above the true D; that of rho by the rings' own
    widening (RHO_SLACK, :mod:`._cluster_index`). Terms more than _NEGLIGIBLE nats below a
    cluster's largest ring term are counted as exp(-_NEGLIGIBLE): larger, still a bound. What is
    left is the rounding of exp/log/sums of the bound itself, relative <= 1e-12 (``_exp_neg``:
    2e-13; the rest a few ulps): computed B_c >= (1 - 1e-12) * true bound >= (1 - 1e-12) S_c.
(b) The skip rule keeps sum_{c in R} B_c <= (1 - e^-tol) S1'. With (a) and S1' <= (1 + e) S1,
    e the relative rounding of the exact path's sum (the same arithmetic as exact dH):
    S_R <= (1 + 1e-12)(1 + e)(1 - e^-tol) S1 <= (1 - e^-tol)(1 + e')S, with e' = e + 1e-12.
(c) Hence S_K = S - S_R >= (e^-tol - e' (1 - e^-tol)) S, and
    0 <= log(S / S_K) <= tol + e' (1 - e^-tol) e^tol  (<= tol + 1e-15 nats for tol <= 1e-6 and
    e' <= 1e-9). S' differs from S_K by the exact path's own rounding, so
    -r <= dH_fast - dH_exact <= tol + r + 1e-15, r the exact kernel's rounding (~1e-9 nats;
    ``tests/core/test_fast_dh.py`` checks tol + 1e-9 on random and adversarial data).
(d) Decide mode: values at or below t keep -log S1' >= dH - r (S1 <= S: an upper bound up to
    rounding), so v <= t certifies exact dH <= t + r; values above t went through (b)-(c).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from ._defaults import DEFAULT_FAST_TOLERANCE
from ._jit import cached_njit
from ._kernel_sums import _NEGLIGIBLE, _accumulate_block, _exp_neg, _single_threaded_blas
from ._validation import check_fast

QUERY_BLOCK = 1024  # queries per block (more queries of a block share a cluster)
# With a threshold: undecided queries sum this many more clusters (largest bounds first) per
# round, rechecking after each, before the tolerance step sums everything that may matter.
DECISION_ROUNDS = (2, 8, 32)
GEMM_QUERIES = 8  # queries of a block needing one cluster above which a matrix product pays
# Kernel terms per matrix product of one cluster (queries x members): 2^18 terms = 2 MiB of
# products, read back by the exponentials while they are still in cache. Measured
# (benchmarks/bench_fast_dh.py's data, 5 x 10^5 rows, 1024 members, tolerance 1e-6, 8,000
# queries, two threads, medians of 3): 485 us/atom with all queries of a block in one product,
# 464 with 256 queries per product (2^18 terms), 459 with 192, 511 with 64.
GEMM_TERMS = 1 << 18
# Relative bound on the rounding error of |y|^2 + |c|^2 - 2 y.c in float64 for vectors of
# width <= 1000 (the dot product's error is <= width * 2^-53 * |y| |c|): used to widen D.
_DISTANCE_SLACK = 1e-12


def pruned_log_kernel_sums(Y, index, inv_2h2: float, tol: float = DEFAULT_FAST_TOLERANCE,
                           threshold: float | None = None, stats: dict | None = None) -> np.ndarray:
    """log S(y) (= -dH) for every row of ``Y`` (Å^-1) against the clustered reference ``index``.

    Args:
        Y: (n, d) query descriptors, Å^-1.
        index: a :class:`~lammps_quests.core.ClusterIndex` of the reference.
        inv_2h2: 1 / (2 h^2) in Å^2 for one bandwidth h.
        tol: nats; the result r satisfies log S - tol <= r <= log S (see module docstring).
        threshold: t in nats of dH (or a sequence of them), or None; with it, only the
            decisions dH > t are certified (for every t given), and values are within ``tol``
            of exact only above the smallest t (upper bounds at or below it; module docstring).
        stats: if a dict, receives "pairs" (kernel terms evaluated), "rows", "refined" (query
            rounds beyond the first cluster) and "clusters_summed".

    Returns:
        (n,) log S per query.
    """
    tol = check_fast(tol)
    if threshold is not None:
        threshold = np.atleast_1d(np.asarray(threshold, dtype=np.float64))
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    scale = float(inv_2h2)
    centroids = np.ascontiguousarray(index.centroids)
    c_norm2 = np.einsum("ij,ij->i", centroids, centroids)
    out = np.empty(len(Y))
    counters = np.zeros(3, dtype=np.int64)

    def run(my_blocks):
        mine = np.zeros(3, dtype=np.int64)
        for rows in my_blocks:
            out[rows] = _block(Y[rows], nearest[rows], index, centroids, c_norm2, scale, tol, threshold, mine)
        return mine

    with _single_threaded_blas():  # the threads here split the queries; BLAS threads would fight them
        nearest = _nearest_clusters(Y, index.center, centroids, c_norm2)
        order = np.argsort(nearest, kind="stable")
        blocks = [order[s:s + QUERY_BLOCK] for s in range(0, len(order), QUERY_BLOCK)]
        workers = max(1, min(numba.get_num_threads(), len(blocks)))
        if workers == 1:
            counters += run(blocks)
        else:
            with ThreadPoolExecutor(workers) as pool:
                for part in pool.map(run, [blocks[w::workers] for w in range(workers)]):
                    counters += part
    if stats is not None:
        stats.update(pairs=int(counters[0]), rows=len(Y), refined=int(counters[1]),
                     reference=int(index.n_rows), clusters_summed=int(counters[2]))
    return out


def _nearest_clusters(Y, center, centroids, c_norm2) -> np.ndarray:
    """Index of the nearest centroid for every row of Y (float64)."""
    nearest = np.empty(len(Y), dtype=np.int64)
    for s in range(0, len(Y), 4096):
        block = Y[s:s + 4096] - center
        nearest[s:s + len(block)] = np.argmin(c_norm2[None, :] - 2.0 * (block @ centroids.T), axis=1)
    return nearest


def _block(Yb, nearest, index, centroids, c_norm2, scale, tol, threshold, counters) -> np.ndarray:
    """log S of one block of queries: step 1, bounds, step 2 (see module docstring)."""
    Yc = Yb - index.center
    y_norm2 = np.einsum("ij,ij->i", Yc, Yc)
    best = np.full(len(Yb), np.inf)
    sums = np.zeros((len(Yb), 1))
    inv = np.array([scale])
    _sum_nearest(Yc, y_norm2, nearest, index, inv, best, sums, counters)  # step 1
    log_s1 = np.log(sums[:, 0]) - best * scale
    rest = np.arange(len(Yb))
    if threshold is not None:
        # -log S1 >= dH: a query whose upper bound is at or below every threshold is decided
        # (dH <= t for all t) without any cluster bound; only the others need them
        rest = np.flatnonzero(-log_s1 > threshold.min())
        if len(rest) == 0:
            return log_s1
    sub_best, sub_sums = best[rest], sums[rest]
    _refine(Yc[rest], y_norm2[rest], nearest[rest], log_s1[rest], index, centroids, c_norm2, inv, tol,
            threshold, sub_best, sub_sums, counters)
    best[rest], sums[rest] = sub_best, sub_sums
    return np.log(sums[:, 0]) - best * scale


def cluster_log_bounds(Yc, y_norm2, index, centroids, c_norm2, scale: float) -> np.ndarray:
    """(nq, C) upper bounds on log sum_{x in cluster c} exp(-|y - x|^2 * scale) for the centred
    queries ``Yc`` (Å^-1; ``scale`` = 1/(2h^2) in Å^2), from each cluster's rings; the query-centroid
    distances are widened by their rounding error so the bounds stay valid."""
    d2 = y_norm2[:, None] + c_norm2[None, :] - 2.0 * (Yc @ centroids.T)
    slack = _DISTANCE_SLACK * (y_norm2[:, None] + c_norm2[None, :]) + 1e-300
    d_lo = np.sqrt(np.maximum(d2 - slack, 0.0))
    d_hi = np.sqrt(np.maximum(d2, 0.0) + slack)
    with np.errstate(divide="ignore"):
        log_count = np.log(index.ring_count)
    return _log_bounds(np.ascontiguousarray(d_lo.T), np.ascontiguousarray(d_hi.T), index.ring_lo,
                       index.ring_hi, log_count, scale).T.copy()


def _refine(Yc, y_norm2, nearest, log_s1, index, centroids, c_norm2, inv, tol, threshold, best, sums,
            counters) -> None:
    """Steps after the nearest cluster for the queries ``Yc`` (centred, Å^-1): cluster bounds,
    decision rounds with a threshold, then every cluster the tolerance needs; updates their
    running (best, sums) in place."""
    scale = inv[0]
    bounds = cluster_log_bounds(Yc, y_norm2, index, centroids, c_norm2, scale)
    bounds[np.arange(len(Yc)), nearest] = -np.inf  # already summed
    if threshold is not None:
        log_s1 = _decision_rounds(Yc, y_norm2, log_s1, bounds, float(threshold.min()), index, inv, best,
                                  sums, counters)
        rows = np.flatnonzero(-log_s1 > threshold.min())  # flagged: their values must be exact to tol
    else:
        rows = np.arange(len(Yc))
    counters[1] += len(rows)
    need = np.zeros(bounds.shape, dtype=bool)
    need[rows] = _needed(bounds[rows], log_s1[rows] + math.log(-math.expm1(-tol)))
    _sum_needed(need, Yc, y_norm2, index, inv, best, sums, counters)


def _decision_rounds(Yc, y_norm2, log_s1, bounds, t, index, inv, best, sums, counters) -> np.ndarray:
    """Sum the clusters of largest bound (``DECISION_ROUNDS``) for the queries whose bounds
    straddle t (lower bound <= t < upper bound): each round may bring the upper bound to or
    below t, which decides the query without the tolerance step. Queries proven above t stop
    here (they need the tolerance step anyway). Updates best, sums and bounds (summed: -inf);
    returns the new log S1 of every query."""
    scale = inv[0]
    active = np.ones(len(Yc), dtype=bool)
    for width in DECISION_ROUNDS:
        rows = np.flatnonzero(active)
        active[rows] = _straddles(log_s1[rows], bounds[rows], t)
        rows = np.flatnonzero(active)
        if len(rows) == 0:
            break
        counters[1] += len(rows)
        width = min(width, bounds.shape[1])
        top = np.argpartition(-bounds[rows], width - 1, axis=1)[:, :width]
        need = np.zeros(bounds.shape, dtype=bool)
        need[rows[:, None], top] = True
        need &= np.isfinite(bounds)
        _sum_needed(need, Yc, y_norm2, index, inv, best, sums, counters)
        bounds[need] = -np.inf
        log_s1 = np.log(sums[:, 0]) - best * scale
    return log_s1


def _straddles(log_s, bounds, t) -> np.ndarray:
    """Queries whose upper bound -log S1 and lower bound -log(S1 + bounds) of dH have t
    between them (lower <= t < upper)."""
    upper = -log_s
    lower = -np.logaddexp(log_s, _logsumexp_rows(bounds))
    return (lower <= t) & (t < upper)


def _sum_nearest(Yc, y_norm2, nearest, index, inv, best, sums, counters) -> None:
    """Step 1: sum every query's nearest cluster exactly. The block's queries are sorted by
    ``nearest``, so each cluster's queries are one run of rows: a run of at least
    ``GEMM_QUERIES`` goes through a matrix product on views (no copies), shorter runs through
    the compiled pair loop, as in :func:`_sum_needed`."""
    offsets = index.offsets
    starts = np.flatnonzero(np.r_[True, nearest[1:] != nearest[:-1]])
    ends = np.r_[starts[1:], len(nearest)]
    long = ends - starts >= GEMM_QUERIES
    for a, b in zip(starts[long], ends[long]):
        c = nearest[a]
        lo, hi = offsets[c], offsets[c + 1]
        gram = Yc[a:b] @ index.columns[:, lo:hi]
        _accumulate_block(gram, y_norm2[a:b], index.row_norm2[lo:hi], inv, best[a:b], sums[a:b])
        counters[0] += (b - a) * (hi - lo)
        counters[2] += 1
    short = np.flatnonzero(~long)
    if len(short) == 0:
        return
    queries = np.flatnonzero(np.repeat(~long, ends - starts))  # the short runs' rows, in run order
    run_starts = np.r_[0, np.cumsum(ends[short] - starts[short])]
    clusters = nearest[starts[short]]
    counters[0] += int(((offsets[clusters + 1] - offsets[clusters]) * (ends[short] - starts[short])).sum())
    counters[2] += len(short)
    _sum_pairs(clusters, run_starts, queries, np.ascontiguousarray(Yc.T), y_norm2, index.columns,
               index.row_norm2, offsets, inv[0], best, sums[:, 0], int(np.diff(offsets).max()))


def _sum_needed(need, Yc, y_norm2, index, inv, best, sums, counters) -> None:
    """Sum every cluster c exactly for the queries q with need[q, c].

    Clusters needed by at least ``GEMM_QUERIES`` queries of the block go through matrix
    products (of at most ``GEMM_TERMS`` terms each) and ``_accumulate_block``; the rest through
    one compiled loop over the pairs.
    """
    offsets = index.offsets
    takers = need.sum(axis=0)
    for c in np.flatnonzero(takers >= GEMM_QUERIES):
        a, b = offsets[c], offsets[c + 1]
        members = index.columns[:, a:b]
        everyone = np.flatnonzero(need[:, c])
        chunk = max(GEMM_QUERIES, GEMM_TERMS // (b - a))
        for start in range(0, len(everyone), chunk):
            queries = everyone[start:start + chunk]
            sub_best, sub_sums = best[queries], sums[queries]
            gram = Yc[queries] @ members
            _accumulate_block(gram, y_norm2[queries], index.row_norm2[a:b], inv, sub_best, sub_sums)
            best[queries], sums[queries] = sub_best, sub_sums
        counters[0] += len(everyone) * (b - a)
        counters[2] += 1
    few = need & (takers < GEMM_QUERIES)[None, :]
    clusters, queries = np.nonzero(few.T)  # pairs grouped by cluster: its rows stay in cache
    if len(clusters) == 0:
        return
    counters[0] += int((offsets[clusters + 1] - offsets[clusters]).sum())
    starts = np.flatnonzero(np.r_[True, clusters[1:] != clusters[:-1]])
    counters[2] += len(starts)
    _sum_pairs(clusters[starts], np.r_[starts, len(clusters)], queries, np.ascontiguousarray(Yc.T),
               y_norm2, index.columns, index.row_norm2, offsets, inv[0], best, sums[:, 0],
               int(np.diff(offsets).max()))


@cached_njit(nogil=True, fastmath={"reassoc", "nsz"})
def _sum_pairs(clusters, starts, queries, Yt, y_norm2, columns, row_norm2, offsets, scale, best, sums,
               longest):
    """For cluster clusters[g] and each query in queries[starts[g]:starts[g+1]], fold the
    cluster's kernel terms into the query's running (best, sums), as ``_accumulate_block``
    does for a block: squared distances |y|^2 + |x|^2 - 2 y.x (centred rows, clipped at 0),
    sums relative to the smallest seen.

    ``columns`` is the (d, n) transpose of the rows and ``Yt`` the (d, nq) transpose of the
    queries, so the dot products of up to four queries with all rows of a cluster are d
    contiguous vector updates sharing each load of a row element.
    """
    acc = np.empty((4, longest))
    width = Yt.shape[0]
    for g in range(len(clusters)):
        a = offsets[clusters[g]]
        m = offsets[clusters[g] + 1] - a
        for first in range(starts[g], starts[g + 1], 4):
            count = min(4, starts[g + 1] - first)
            if count == 1:  # one query: a single accumulator, no wasted lanes
                q0 = queries[first]
                for j in range(m):
                    acc[0, j] = 0.0
                for k in range(width):
                    y0 = -2.0 * Yt[k, q0]
                    for j in range(m):
                        acc[0, j] += y0 * columns[k, a + j]
                _fold(acc[0], m, q0, a, y_norm2, row_norm2, scale, best, sums)
                continue
            q0 = queries[first]
            q1 = queries[first + 1] if count > 1 else q0
            q2 = queries[first + 2] if count > 2 else q0
            q3 = queries[first + 3] if count > 3 else q0
            for j in range(m):
                acc[0, j] = 0.0
                acc[1, j] = 0.0
                acc[2, j] = 0.0
                acc[3, j] = 0.0
            for k in range(width):
                y0 = -2.0 * Yt[k, q0]
                y1 = -2.0 * Yt[k, q1]
                y2 = -2.0 * Yt[k, q2]
                y3 = -2.0 * Yt[k, q3]
                for j in range(m):
                    x = columns[k, a + j]
                    acc[0, j] += y0 * x
                    acc[1, j] += y1 * x
                    acc[2, j] += y2 * x
                    acc[3, j] += y3 * x
            for i in range(count):
                _fold(acc[i], m, queries[first + i], a, y_norm2, row_norm2, scale, best, sums)


@cached_njit(nogil=True, fastmath={"reassoc", "nsz"})
def _fold(dots, m, q, a, y_norm2, row_norm2, scale, best, sums):
    """Fold m terms with -2 y.x = dots[:m] into query q's running (best, sums)."""
    yn = y_norm2[q]
    lowest = best[q]
    for j in range(m):
        v = max(yn + row_norm2[a + j] + dots[j], 0.0)
        dots[j] = v
        lowest = min(lowest, v)
    total = 0.0
    for j in range(m):
        t = (dots[j] - lowest) * scale
        e = _exp_neg(min(t, _NEGLIGIBLE))
        total += e if t < _NEGLIGIBLE else 0.0
    if best[q] > lowest:
        t = (best[q] - lowest) * scale
        sums[q] *= _exp_neg(t) if t < _NEGLIGIBLE else 0.0
    sums[q] += total
    best[q] = lowest


@cached_njit(nogil=True, fastmath={"reassoc", "nsz"})
def _log_bounds(d_lo, d_hi, ring_lo, ring_hi, log_count, scale):
    """log of an upper bound of each cluster's kernel sum for each query: (C, nq).

    d_lo, d_hi : (C, nq) bounds of D = |y - mu_c| (Å^-1). Ring r of cluster c holds
    exp(log_count[c, r]) members x with ring_lo <= |x - mu_c| <= ring_hi, so
    |y - x| >= max(0, D - ring_hi, ring_lo - D). Empty rings have log_count = -inf. Terms more
    than _NEGLIGIBLE below the largest count as exp(-_NEGLIGIBLE): still an upper bound.
    Loops run over queries innermost (contiguous), so they vectorise.
    """
    nc, nq = d_lo.shape
    nr = ring_lo.shape[1]
    out = np.empty((nc, nq))
    terms = np.empty((nr, nq))
    total = np.empty(nq)
    for c in range(nc):
        top = out[c]
        top[:] = -np.inf
        for r in range(nr):
            lc, lo, hi = log_count[c, r], ring_lo[c, r], ring_hi[c, r]
            for q in range(nq):
                gap = max(0.0, d_lo[c, q] - hi, lo - d_hi[c, q])
                t = lc - gap * gap * scale
                terms[r, q] = t
                top[q] = max(top[q], t)
        total[:] = 0.0
        for r in range(nr):
            for q in range(nq):
                total[q] += _exp_neg(min(top[q] - terms[r, q], _NEGLIGIBLE))
        for q in range(nq):
            top[q] += math.log(total[q])
    return out


def _logsumexp_rows(values) -> np.ndarray:
    """log sum exp along axis 1, -inf for rows of -inf only."""
    top = values.max(axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.exp(values - safe[:, None]).sum(axis=1))


def _needed(bounds, budget) -> np.ndarray:
    """Clusters to sum exactly: all but the smallest bounds whose total stays <= exp(budget).

    bounds : (nq, C) log upper bounds; budget : (nq,) log of the allowed skipped mass.
    """
    with np.errstate(over="ignore"):
        relative = np.exp(bounds - budget[:, None])  # bound / allowed mass (inf: never skipped)
    order = np.argsort(relative, axis=1)
    running = np.cumsum(np.take_along_axis(relative, order, axis=1), axis=1)
    need = np.empty(bounds.shape, dtype=bool)
    np.put_along_axis(need, order, running > 1.0, axis=1)
    return need & np.isfinite(bounds)
