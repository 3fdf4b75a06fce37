"""The neighbour kernel: QUESTS descriptors of centre atoms from explicit neighbour points.

This is the one place where descriptors are computed. Offline, :mod:`lammps_quests.core.images`
places periodic images in front of it; inside LAMMPS, ``fix quests`` hands it the local atoms
as centres and local + ghost atoms as points. Both paths therefore run the same code.

Descriptor of atom i (paper Eq. 1-3, SI A.1), with neighbours sorted by distance r_1 <= r_2...
and the cutoff function w(r) = (1 - (r/rc)^2)^2 for r <= rc:

* X1[j] = w(r_j) / r_j for the k nearest neighbours (zero-padded when fewer lie within rc);
* X2: the k x k matrix R[j, l] = sqrt(w_j w_l) / r_jl between neighbours j != l, each row sorted
  ascending, columns averaged over the k rows, column 0 dropped and the order reversed.

Units: positions and cutoff in Å, descriptor values in Å^-1.
"""

from __future__ import annotations

import numba
import numpy as np

from .defaults import DEFAULT_CUTOFF, DEFAULT_K
from .jit import cached_njit
from .validation import check_cutoff, check_k, check_positions

#: bumped whenever the numbers a descriptor holds could change; stored in reference files.
DESCRIPTOR_VERSION = 1


def descriptor_width(k: int) -> int:
    """Number of columns of a descriptor with k neighbours: k values of X1, k - 1 of X2."""
    return 2 * k - 1


def descriptors_from_points(
    centers: np.ndarray,
    points: np.ndarray,
    self_index: np.ndarray | None = None,
    k: int = DEFAULT_K,
    cutoff: float = DEFAULT_CUTOFF,
) -> np.ndarray:
    """QUESTS descriptors of ``centers`` given every candidate neighbour in ``points``.

    Args:
        centers: (nc, 3) array, Å. Positions of the atoms whose environments are described.
        points: (np, 3) array, Å. Every atom that may be a neighbour: periodic images or LAMMPS
            ghost atoms must already be placed here. Points farther than ``cutoff`` are ignored.
        self_index: (nc,) int array or None. Row of ``points`` that is the centre itself (left
            out of its own neighbours), or -1 when the centre is not among the points. None
            means ``arange(nc)``: the centres are the first nc points.
        k: number of nearest neighbours (>= 2).
        cutoff: cutoff radius rc in Å.

    Returns:
        (nc, 2k - 1) float64 array in Å^-1: X1 (k columns) then X2 (k - 1 columns).
    """
    k = check_k(k)
    cutoff = check_cutoff(cutoff)
    centers = check_positions(centers, "centre positions")
    points = check_positions(points, "neighbour positions")
    if self_index is None:
        if len(centers) > len(points):
            raise ValueError("self_index=None needs the centres to be the first rows of points")
        self_index = np.arange(len(centers), dtype=np.int64)
    self_index = np.ascontiguousarray(self_index, dtype=np.int64)
    if self_index.shape != (len(centers),):
        raise ValueError(f"self_index must have one entry per centre ({len(centers)}), got {self_index.shape}")
    if len(self_index) and (self_index.max() >= len(points) or self_index.min() < -1):
        raise ValueError("self_index entries must be rows of points, or -1")
    out = np.zeros((len(centers), descriptor_width(k)), dtype=np.float64)
    if len(centers) == 0:
        return out
    if len(points) == 0:
        return out
    lo, bin_size, nbins = _grid(centers, points, cutoff)
    order, start = _bin_points(points, lo, bin_size, nbins)
    kernel = _descriptor_kernel_serial if numba.get_num_threads() == 1 else _descriptor_kernel_parallel
    coincident = kernel(centers, points, self_index, order, start, lo, bin_size, nbins, k, cutoff,
                        sorting_network(k), _chunk_count(len(centers)), out)
    bad = np.nonzero(coincident >= 0)[0]
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"atom at centre row {i} has a neighbour at zero distance (point {int(coincident[i])}): "
            "two atoms coincide; remove duplicate atoms from the structure"
        )
    return out


def _chunk_count(n: int) -> int:
    """Centres are processed in chunks (scratch arrays are allocated once per chunk, not once
    per atom); several chunks per thread keep the threads balanced."""
    return max(1, min(n, 8 * numba.get_num_threads()))


def _grid(centers: np.ndarray, points: np.ndarray, cutoff: float):
    """A cell-list grid covering centres and points, bins at least ``cutoff`` wide (Å)."""
    lo = np.minimum(points.min(axis=0), centers.min(axis=0))
    hi = np.maximum(points.max(axis=0), centers.max(axis=0))
    extent = np.maximum(hi - lo, 1e-9)
    nbins = np.maximum(np.floor(extent / cutoff), 1).astype(np.int64)
    # Widely scattered atoms (a gas, far-flung molecules) would need absurd grids: grow the
    # bins until the grid has at most ~8 bins per point. Wider bins stay correct.
    while np.prod(nbins.astype(np.float64)) > 8.0 * len(points) + 27:
        nbins = np.maximum(nbins // 2, 1)
    bin_size = extent / nbins
    return lo, bin_size, nbins


@cached_njit()
def _bin_of(p, lo, bin_size, nbins):
    b = np.empty(3, dtype=np.int64)
    for a in range(3):
        v = int((p[a] - lo[a]) / bin_size[a])
        b[a] = min(max(v, 0), nbins[a] - 1)
    return b


@cached_njit()
def _bin_points(points, lo, bin_size, nbins):
    """Counting sort of points by bin: points of bin b are order[start[b]:start[b+1]]."""
    n = points.shape[0]
    total = nbins[0] * nbins[1] * nbins[2]
    ids = np.empty(n, dtype=np.int64)
    counts = np.zeros(total + 1, dtype=np.int64)
    for i in range(n):
        b = _bin_of(points[i], lo, bin_size, nbins)
        ids[i] = (b[0] * nbins[1] + b[1]) * nbins[2] + b[2]
        counts[ids[i] + 1] += 1
    start = np.cumsum(counts)
    fill = start[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        order[fill[ids[i]]] = i
        fill[ids[i]] += 1
    return order, start


@cached_njit()
def _weight(r, cutoff):
    """Cutoff function w(r) = (1 - (r/rc)^2)^2, dimensionless."""
    x = 1.0 - (r / cutoff) ** 2
    return x * x


def sorting_network(n: int) -> np.ndarray:
    """Comparator pairs (a, b), a < b, of a bitonic network that sorts n values ascending.

    n is padded to the next power of two; callers pad their data with +inf. A fixed network
    has no data-dependent branches, so the kernel applies each comparator to all k rows at
    once and the compiler vectorises it (row-by-row insertion sorts were 3x slower).
    """
    size = 1
    while size < n:
        size *= 2
    pairs = []
    block = 2
    while block <= size:
        pairs += [(i, i ^ (block - 1)) for i in range(size) if (i ^ (block - 1)) > i]
        step = block // 4
        while step >= 1:
            pairs += [(i, i ^ step) for i in range(size) if (i ^ step) > i]
            step //= 2
        block *= 2
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _descriptor_kernel(centers, points, self_index, order, start, lo, bin_size, nbins, k,
                       cutoff, network, nchunks, out):
    nc = centers.shape[0]
    coincident = np.full(nc, -1, dtype=np.int64)
    npad = 1
    while npad < k:
        npad *= 2
    for chunk in numba.prange(nchunks):
        first = chunk * nc // nchunks
        last = (chunk + 1) * nc // nchunks
        ncand = 1
        for i in range(first, last):
            ncand = max(ncand, _count_candidates(centers[i], start, lo, bin_size, nbins))
        dist2 = np.empty(ncand, dtype=np.float64)
        idx = np.empty(ncand, dtype=np.int64)
        keys = np.empty((k, 4), dtype=np.int64)
        rows = np.empty((npad, k), dtype=np.float64)  # rows[position, matrix row]
        for i in range(first, last):
            coincident[i] = _describe_one(i, centers, points, self_index, order, start, lo,
                                          bin_size, nbins, k, cutoff, network, dist2, idx,
                                          keys, rows, out[i])
    return coincident


# One body, two compilations. With one thread the serial one runs in the calling thread: the
# parallel one would hand the work to a pool thread while the caller waits, which inside LAMMPS
# put a second busy thread on a rank that was given one core.
_descriptor_kernel_parallel = cached_njit(parallel=True)(_descriptor_kernel)
_descriptor_kernel_serial = cached_njit()(_descriptor_kernel)


@cached_njit()
def _count_candidates(c, start, lo, bin_size, nbins):
    b = _bin_of(c, lo, bin_size, nbins)
    ncand = 0
    for bx in range(max(b[0] - 1, 0), min(b[0] + 2, nbins[0])):
        for by in range(max(b[1] - 1, 0), min(b[1] + 2, nbins[1])):
            for bz in range(max(b[2] - 1, 0), min(b[2] + 2, nbins[2])):
                cell = (bx * nbins[1] + by) * nbins[2] + bz
                ncand += start[cell + 1] - start[cell]
    return ncand


# Neighbours are ranked by squared distance rounded to _R2_QUANTUM Å^2, then by the displacement
# vector rounded to _VEC_QUANTUM Å. In a perfect crystal many neighbours are equidistant (24 in the
# third FCC shell, where k = 32 cuts); ranking them by exact floating-point distance, or by atom
# index, picks a different subset for each atom and each ordering of the atoms (serial versus MPI
# ghosts), so identical environments got different descriptors. The rounded geometric key picks
# the same neighbours for every atom of a perfect lattice, whatever the atom order.
_R2_QUANTUM = 1e-8
_VEC_QUANTUM = 1e-6


@cached_njit()
def _nearest(i, c, points, self_index, order, start, lo, bin_size, nbins, cutoff, k, dist2, idx,
             keys):
    """The up to k nearest points within cutoff of c, in rank order; returns their count.

    dist2[:m], idx[:m]: squared distances (Å^2) and point rows; keys[:m]: their rank keys.
    """
    b = _bin_of(c, lo, bin_size, nbins)
    rc2 = cutoff * cutoff
    m = 0
    for bx in range(max(b[0] - 1, 0), min(b[0] + 2, nbins[0])):
        for by in range(max(b[1] - 1, 0), min(b[1] + 2, nbins[1])):
            for bz in range(max(b[2] - 1, 0), min(b[2] + 2, nbins[2])):
                cell = (bx * nbins[1] + by) * nbins[2] + bz
                for s in range(start[cell], start[cell + 1]):
                    p = order[s]
                    if p == self_index[i]:
                        continue
                    d0 = points[p, 0] - c[0]
                    d1 = points[p, 1] - c[1]
                    d2 = points[p, 2] - c[2]
                    r2 = d0 * d0 + d1 * d1 + d2 * d2
                    if r2 > rc2:
                        continue
                    q = np.int64(np.floor(r2 / _R2_QUANTUM + 0.5))
                    if m == k and q > keys[k - 1, 0]:
                        continue  # the common case, decided without the full key
                    q0 = np.int64(np.floor(d0 / _VEC_QUANTUM + 0.5))
                    q1 = np.int64(np.floor(d1 / _VEC_QUANTUM + 0.5))
                    q2 = np.int64(np.floor(d2 / _VEC_QUANTUM + 0.5))
                    if m == k and not _before(q, q0, q1, q2, p, keys[k - 1], idx[k - 1]):
                        continue
                    # insert into the ranked list, dropping the k-th when full
                    t = min(m, k - 1)
                    while t > 0 and _before(q, q0, q1, q2, p, keys[t - 1], idx[t - 1]):
                        dist2[t] = dist2[t - 1]
                        idx[t] = idx[t - 1]
                        keys[t, 0] = keys[t - 1, 0]
                        keys[t, 1] = keys[t - 1, 1]
                        keys[t, 2] = keys[t - 1, 2]
                        keys[t, 3] = keys[t - 1, 3]
                        t -= 1
                    dist2[t] = r2
                    idx[t] = p
                    keys[t, 0] = q
                    keys[t, 1] = q0
                    keys[t, 2] = q1
                    keys[t, 3] = q2
                    m = min(m + 1, k)
    return m


@cached_njit(inline="always")
def _before(q, q0, q1, q2, p, key, pk):
    """Rank order: rounded distance, then rounded displacement, then (coincident) point row."""
    if q != key[0]:
        return q < key[0]
    if q0 != key[1]:
        return q0 < key[1]
    if q1 != key[2]:
        return q1 < key[2]
    if q2 != key[3]:
        return q2 < key[3]
    return p < pk


@cached_njit()
def _describe_one(i, centers, points, self_index, order, start, lo, bin_size, nbins, k, cutoff,
                  network, dist2, idx, keys, rows, row):
    """Fill ``row`` with the descriptor of centre i; return a coincident point's index or -1."""
    c = centers[i]
    jmax = _nearest(i, c, points, self_index, order, start, lo, bin_size, nbins, cutoff, k,
                    dist2, idx, keys)
    sqrt_w = np.empty(jmax, dtype=np.float64)
    for j in range(jmax):
        r = np.sqrt(dist2[j])
        if r == 0.0:
            return idx[j]
        w = _weight(r, cutoff)
        row[j] = w / r
        sqrt_w[j] = np.sqrt(w)
    for j in range(jmax, k):
        row[j] = 0.0
    # X2: the zero-padded k x k matrix R[j, l] = sqrt(w_j w_l) / r_jl, stored transposed
    # (rows[l, j]) so that the sorting network below works on all k matrix rows at once.
    rows[:k, :] = 0.0
    rows[k:, :] = np.inf
    for j in range(jmax):
        pj = idx[j]
        for l in range(j + 1, jmax):
            pl = idx[l]
            d0 = points[pj, 0] - points[pl, 0]
            d1 = points[pj, 1] - points[pl, 1]
            d2 = points[pj, 2] - points[pl, 2]
            rjl = np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
            if rjl == 0.0:
                return pl
            value = sqrt_w[j] * sqrt_w[l] / rjl
            rows[l, j] = value
            rows[j, l] = value
    for t in range(network.shape[0]):
        a = network[t, 0]
        b = network[t, 1]
        for j in range(k):
            x = rows[a, j]
            y = rows[b, j]
            rows[a, j] = x if x < y else y
            rows[b, j] = y if x < y else x
    # column c of the row-sorted matrix, averaged over the k rows; drop column 0, reverse
    for t in range(k - 1):
        total = 0.0
        for j in range(k):
            total += rows[k - 1 - t, j]
        row[k + t] = total / k
    return -1
