"""Inner rings of a summed cluster that a query may skip, and the query groups sharing a product.

Every cluster of a :class:`~lammps_quests.core.ClusterIndex` stores its members by increasing
distance rho to its centroid, and ring r holds the next ``ring_count[c, r]`` of them (ring 0
the innermost), so the members of rings r, r + 1, ... are one contiguous run of rows. A query
outside a cluster is nearest its outer members: its ring bounds grow with r, and the inner rings
often add up to little. :func:`first_rings` finds, for each (cluster, query) pair that the
tolerance step sums, the first ring to sum: the rings before it are skipped, their ring bounds
adding up to at most the query's allotment (the proof is in
:mod:`lammps_quests.core._pruned_sums`, step (b)). :func:`row_groups` then splits the queries
that need one cluster into a few groups by their first row, so each group's matrix product
starts at its own first row instead of every query paying for the innermost one.
"""

from __future__ import annotations

import numpy as np

from ._jit import cached_njit
from ._kernel_sums import _NEGLIGIBLE, _exp_neg

# Computed ring bounds are within a relative 1e-12 of the true ones (module docstring of
# _pruned_sums, (a)); the skipped rings' computed bounds stay below this fraction of the
# allotment, so their true bounds stay below the allotment itself.
ALLOTMENT_MARGIN = 1.0 - 1e-9
# Query groups of one cluster (at most 2^GROUP_DEPTH of them), each at least GEMM_QUERIES
# queries; a split is made when it saves at least SPLIT_SAVING of the group's kernel terms
# (smaller matrix products cost more per term).
GROUP_DEPTH = 2
SPLIT_SAVING = 0.1


def ring_starts(index) -> np.ndarray:
    """(C, R + 1) int64: rows of ring r of cluster c are offsets[c] + [starts[c, r], starts[c, r + 1])."""
    starts = np.zeros((index.ring_count.shape[0], index.ring_count.shape[1] + 1), dtype=np.int64)
    np.cumsum(index.ring_count, axis=1, out=starts[:, 1:])
    return starts


@cached_njit(nogil=True)
def first_rings(d_lo, d_hi, need, ring_lo, ring_hi, log_count, scale, log_allot):
    """(C, nq) int64: the first ring to sum of each cluster c for each query q with need[c, q].

    d_lo, d_hi : (C, nq) bounds of D = |y - mu_c| (Å^-1); need : (C, nq) bool;
    ring_lo, ring_hi, log_count : (C, R) as for the ring bounds; scale : 1/(2h^2) (Å^2);
    log_allot : (nq,) log of the mass (relative to the sums' common reference) that the
    skipped rings of one cluster may add up to. Rings 0 .. first - 1 are skipped: the sum of
    their ring bounds count * exp(-scale gap^2), gap = max(0, D - rho_hi, rho_lo - D), is at
    most ``ALLOTMENT_MARGIN`` times the allotment. Bounds below e^-_NEGLIGIBLE of the allotment
    count as e^-_NEGLIGIBLE of it (larger: still a bound). Pairs without need get 0.
    """
    nc, nq = d_lo.shape
    nr = ring_lo.shape[1]
    out = np.zeros((nc, nq), dtype=np.int64)
    for c in range(nc):
        for q in range(nq):
            if not need[c, q]:
                continue
            running = 0.0
            r = 0
            while r < nr:
                lc = log_count[c, r]
                if lc > -np.inf:  # an empty ring adds nothing
                    gap = max(0.0, d_lo[c, q] - ring_hi[c, r], ring_lo[c, r] - d_hi[c, q])
                    x = lc - gap * gap * scale - log_allot[q]
                    if x >= 0.0:
                        break
                    running += _exp_neg(min(-x, _NEGLIGIBLE))
                    if running > ALLOTMENT_MARGIN:
                        break
                r += 1
            out[c, q] = r
    return out


def row_groups(queries: np.ndarray, first_rows: np.ndarray, members: int, min_size: int) -> list:
    """Split the queries needing one cluster into groups [(queries, first row)], each summing
    the cluster's rows from the smallest first row of its queries on (a superset of what each
    query needs: summing more terms only brings the result closer to exact).

    Sorted by first row, a group is split in two where that saves the most terms, if it saves
    at least ``SPLIT_SAVING`` of them and both halves keep ``min_size`` queries; up to
    ``GROUP_DEPTH`` times. ``members``: the cluster's row count.
    """
    order = np.argsort(first_rows, kind="stable")
    groups = []
    _split(queries[order], first_rows[order], members, min_size, GROUP_DEPTH, groups)
    return groups


def _split(queries, starts, members, min_size, depth, groups) -> None:
    """Append the groups of ``queries`` (sorted by their first rows ``starts``) to ``groups``."""
    whole = len(queries) * (members - starts[0])
    cut = np.arange(min_size, len(queries) - min_size + 1)
    if depth == 0 or len(cut) == 0:
        groups.append((queries, int(starts[0])))
        return
    cost = cut * (members - starts[0]) + (len(queries) - cut) * (members - starts[cut])
    best = int(np.argmin(cost))
    if cost[best] > (1.0 - SPLIT_SAVING) * whole:
        groups.append((queries, int(starts[0])))
        return
    k = int(cut[best])
    _split(queries[:k], starts[:k], members, min_size, depth - 1, groups)
    _split(queries[k:], starts[k:], members, min_size, depth - 1, groups)
