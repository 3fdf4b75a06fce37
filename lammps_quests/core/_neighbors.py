"""The neighbour kernel: QUESTS descriptors of centre atoms from explicit neighbour points.

This is the one place where descriptors are computed. Offline, :mod:`lammps_quests.core._images`
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

from ._defaults import DEFAULT_CUTOFF, DEFAULT_K
from ._jit import cached_njit
from ._validation import check_cutoff, check_k, check_positions

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
    order, start, binned = _bin_points(points, lo, bin_size, nbins)
    kernel = _descriptor_kernel_serial if numba.get_num_threads() == 1 else _descriptor_kernel_parallel
    coincident = kernel(centers, points, binned, self_index, order, start, lo, bin_size, nbins, k, cutoff,
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


# Bins are at least cutoff / _REACH wide and a centre looks _REACH bins each way: the searched
# box is (2 _REACH + 1) / _REACH cutoffs wide, 2.5 instead of 3 for _REACH = 2, which visits 42 %
# fewer candidate points in dense systems (the bins themselves cost little).
_REACH = 2


def _grid(centers: np.ndarray, points: np.ndarray, cutoff: float):
    """A cell-list grid covering centres and points, bins at least ``cutoff / _REACH`` wide (Å)."""
    lo, hi = _bounds(centers, points)
    extent = np.maximum(hi - lo, 1e-9)
    nbins = np.maximum(np.floor(extent * _REACH / cutoff), 1).astype(np.int64)
    # Widely scattered atoms (a gas, far-flung molecules) would need absurd grids: grow the
    # bins until the grid has at most ~8 bins per point. Wider bins stay correct.
    while np.prod(nbins.astype(np.float64)) > 8.0 * len(points) + (2 * _REACH + 1) ** 3:
        nbins = np.maximum(nbins // 2, 1)
    bin_size = extent / nbins
    return lo, bin_size, nbins


@cached_njit()
def _bounds(centers, points):
    """Per-axis (lowest, highest) coordinate over centres and points, Å (one pass over each;
    numpy's min(axis=0) on (n, 3) rows strides through memory three times)."""
    lo = points[0].copy()
    hi = points[0].copy()
    for array in (centers, points):
        for i in range(array.shape[0]):
            for a in range(3):
                lo[a] = min(lo[a], array[i, a])
                hi[a] = max(hi[a], array[i, a])
    return lo, hi


@cached_njit()
def _bin_of(p, lo, bin_size, nbins):
    """(x, y, z) bin numbers of point p, clipped to the grid (a tuple: no array per call)."""
    return (_clip_bin(p[0], lo[0], bin_size[0], nbins[0]), _clip_bin(p[1], lo[1], bin_size[1], nbins[1]),
            _clip_bin(p[2], lo[2], bin_size[2], nbins[2]))


@cached_njit()
def _clip_bin(x, lo, size, n):
    return min(max(int((x - lo) / size), 0), n - 1)


@cached_njit()
def _bin_points(points, lo, bin_size, nbins):
    """Counting sort of points by bin: the points of bin b are rows order[start[b]:start[b+1]] of
    ``points`` and the same rows of ``binned`` (= points[order])."""
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
    binned = np.empty((n, 3), dtype=np.float64)
    for i in range(n):
        s = fill[ids[i]]
        order[s] = i
        for a in range(3):
            binned[s, a] = points[i, a]
        fill[ids[i]] += 1
    return order, start, binned


@cached_njit(error_model="numpy")
def _weight(r, cutoff):
    """Cutoff function w(r) = (1 - (r/rc)^2)^2, dimensionless."""
    x = 1.0 - (r / cutoff) ** 2
    return x * x


def sorting_network(n: int) -> np.ndarray:
    """Comparator pairs (a, b), a < b, of Batcher's odd-even merge sort of n values, ascending.

    n is padded to the next power of two; callers pad their data with +inf. A fixed network
    has no data-dependent branches, so the kernel applies each comparator to all k rows at
    once and the compiler vectorises it (row-by-row insertion sorts were 3x slower). For 32
    values it has 191 comparators (a bitonic network: 240).
    """
    size = 1
    while size < n:
        size *= 2
    pairs = []
    merged = 1  # sorted runs of this length are merged into runs of twice it
    while merged < size:
        step = merged
        while step >= 1:
            for j in range(step % merged, size - step, 2 * step):
                for i in range(min(step, size - j - step)):
                    # compare only within one pair of runs being merged
                    if (i + j) // (2 * merged) == (i + j + step) // (2 * merged):
                        pairs.append((i + j, i + j + step))
            step //= 2
        merged *= 2
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _descriptor_kernel(centers, points, binned, self_index, order, start, lo, bin_size, nbins, k,
                       cutoff, network, nchunks, out):
    nc = centers.shape[0]
    coincident = np.full(nc, -1, dtype=np.int64)
    npad = 1
    while npad < k:
        npad *= 2
    where = np.empty(len(order), dtype=np.int64)  # where[point row] = its row of binned
    for s in range(len(order)):
        where[order[s]] = s
    for chunk in numba.prange(nchunks):
        first = chunk * nc // nchunks
        last = (chunk + 1) * nc // nchunks
        ncand = 1
        for i in range(first, last):
            ncand = max(ncand, _count_candidates(centers[i], start, lo, bin_size, nbins))
        dist2 = np.empty(k, dtype=np.float64)
        idx = np.empty(k, dtype=np.int64)
        cand_s = np.empty(ncand, dtype=np.int64)
        cand_r2 = np.empty(ncand, dtype=np.float64)
        cand_q = np.empty(ncand, dtype=np.int64)
        keys = np.empty(min(ncand, _COUNT_RANK_MAX) + _LANES, dtype=np.int64)
        ranked = np.empty(ncand, dtype=np.int64)
        sqrt_w = np.empty(2 * k, dtype=np.float64)
        rows = np.empty((npad, k), dtype=np.float64)  # rows[position, matrix row]
        xyz = np.empty((3, 2 * k), dtype=np.float64)  # neighbour coordinates, one row per axis
        for i in range(first, last):
            me = self_index[i]
            coincident[i] = _describe_one(centers[i], -1 if me < 0 else where[me], points, binned, order,
                                          start, lo, bin_size, nbins, k, cutoff, network, dist2, idx,
                                          cand_s, cand_r2, cand_q, ranked, keys, sqrt_w, rows, xyz, out[i])
    return coincident


# One body, two compilations. With one thread the serial one runs in the calling thread: the
# parallel one would hand the work to a pool thread while the caller waits, which inside LAMMPS
# put a second busy thread on a rank that was given one core.
_descriptor_kernel_parallel = cached_njit(parallel=True)(_descriptor_kernel)
_descriptor_kernel_serial = cached_njit()(_descriptor_kernel)


@cached_njit()
def _count_candidates(c, start, lo, bin_size, nbins):
    bx0, bx1, by0, by1, bz0, bz1 = _search_box(c, lo, bin_size, nbins)
    ncand = 0
    for bx in range(bx0, bx1):
        for by in range(by0, by1):
            column = (bx * nbins[1] + by) * nbins[2]
            ncand += start[column + bz1] - start[column + bz0]
    return ncand


@cached_njit()
def _search_box(c, lo, bin_size, nbins):
    """Bin ranges [b0, b1) per axis within _REACH bins of the bin of c."""
    bx, by, bz = _bin_of(c, lo, bin_size, nbins)
    return (max(bx - _REACH, 0), min(bx + _REACH + 1, nbins[0]), max(by - _REACH, 0),
            min(by + _REACH + 1, nbins[1]), max(bz - _REACH, 0), min(bz + _REACH + 1, nbins[2]))


# Neighbours are ranked by squared distance rounded to _R2_QUANTUM Å^2, then by the displacement
# vector rounded to _VEC_QUANTUM Å. In a perfect crystal many neighbours are equidistant (24 in the
# third FCC shell, where k = 32 cuts); ranking them by exact floating-point distance, or by atom
# index, picks a different subset for each atom and each ordering of the atoms (serial versus MPI
# ghosts), so identical environments got different descriptors. The rounded geometric key picks
# the same neighbours for every atom of a perfect lattice, whatever the atom order.
_R2_QUANTUM = 1e-8
_VEC_QUANTUM = 1e-6


# Up to this many candidates within the cutoff are ranked by counting: each candidate's key (its
# rounded squared distance, shifted left by 8 bits, or-ed with its number < 256, so that all keys
# differ) is compared with every other key, m^2 comparisons without branches that vectorise. More
# candidates, or cutoffs so long (> 10^4 Å) that a shifted key would overflow, are sorted.
_COUNT_RANK_MAX = 128
_KEY_SHIFT = 8
_PACKABLE_R2 = 2.0 ** (62 - _KEY_SHIFT) * _R2_QUANTUM  # Å^2
_LANES = 8


@cached_njit(error_model="numpy")
def _nearest(c, me, binned, order, start, lo, bin_size, nbins, cutoff, k, dist2, idx, cand_s, cand_r2,
             cand_q, ranked, keys):
    """The up to k nearest points within cutoff of c, in rank order; returns their count.

    ``binned``: the points in bin order (``points[order]``); ``me``: the row of ``binned`` that is
    the centre itself (-1: none). Bins are numbered z fastest, so the bins of one (x, y) column of
    the search box hold one contiguous run of ``binned``: the distance test reads memory in
    sequence, and it writes every candidate but advances past only those within the cutoff, so it
    has no branch to mispredict. The m candidates kept (``cand_s``: rows of ``binned``,
    ``cand_r2``: squared distances, ``cand_q``: rounded ones) are then ranked (``ranked``).
    Fills dist2[:n] (Å^2) and idx[:n] (point rows) in rank order.
    """
    bx0, bx1, by0, by1, bz0, bz1 = _search_box(c, lo, bin_size, nbins)
    rc2 = cutoff * cutoff
    m = 0
    for bx in range(bx0, bx1):
        for by in range(by0, by1):
            column = (bx * nbins[1] + by) * nbins[2]
            for s in range(start[column + bz0], start[column + bz1]):
                d0 = binned[s, 0] - c[0]
                d1 = binned[s, 1] - c[1]
                d2 = binned[s, 2] - c[2]
                r2 = d0 * d0 + d1 * d1 + d2 * d2
                cand_s[m] = s
                cand_r2[m] = r2
                m += (r2 <= rc2) & (s != me)
    for t in range(m):
        cand_q[t] = np.int64(np.floor(cand_r2[t] / _R2_QUANTUM + 0.5))
    _rank(cand_q, m, rc2 < _PACKABLE_R2, ranked, keys)
    n = min(m, k)
    _break_ties(c, binned, order, cand_s, cand_q, m, n, ranked)
    for j in range(n):
        t = ranked[j]
        dist2[j] = cand_r2[t]
        idx[j] = order[cand_s[t]]
    return n


@cached_njit()
def _rank(q, m, packable, ranked, keys):
    """ranked[:m] = the candidates 0..m-1 ordered by (q, candidate number).

    ``keys``: scratch with room for m rounded up to a multiple of _LANES, so the counting loop
    runs over whole vectors (its padding, the largest int64, counts for nothing)."""
    if m > _COUNT_RANK_MAX or not packable:
        ranked[:m] = np.argsort(q[:m], kind="mergesort")  # stable: equal q stay in candidate order
        return
    padded = -(-m // _LANES) * _LANES
    for t in range(m):
        keys[t] = (q[t] << _KEY_SHIFT) | t
    for t in range(m, padded):
        keys[t] = np.iinfo(np.int64).max
    for t in range(m):
        key = keys[t]
        before = 0
        for u in range(padded):
            before += keys[u] < key
        ranked[before] = t


@cached_njit()
def _break_ties(c, binned, order, cand_s, q, m, n, ranked):
    """Reorder each run of equal rounded distance that reaches into the first n ranks by
    :func:`_tie_before` (insertion sort: runs are short, and absent off perfect lattices)."""
    p = 0
    while p < n:
        e = p + 1
        while e < m and q[ranked[e]] == q[ranked[p]]:
            e += 1
        for a in range(p + 1, e):
            t = ranked[a]
            b = a
            while b > p and _tie_before(t, ranked[b - 1], c, binned, order, cand_s):
                ranked[b] = ranked[b - 1]
                b -= 1
            ranked[b] = t
        p = e


@cached_njit()
def _tie_before(t, u, c, binned, order, cand_s):
    """Rank order of candidates t and u at equal rounded distance (common in perfect crystals):
    rounded displacement, then (coincident) point row."""
    st = cand_s[t]
    su = cand_s[u]
    for a in range(3):
        qt = np.int64(np.floor((binned[st, a] - c[a]) / _VEC_QUANTUM + 0.5))
        qu = np.int64(np.floor((binned[su, a] - c[a]) / _VEC_QUANTUM + 0.5))
        if qt != qu:
            return qt < qu
    return order[st] < order[su]


# error_model="numpy": a division by zero gives inf/nan instead of raising, so numba adds no
# check to every division and the loops over neighbour pairs vectorise; zero distances are
# detected and reported explicitly.
@cached_njit(error_model="numpy")
def _describe_one(c, me, points, binned, order, start, lo, bin_size, nbins, k, cutoff, network, dist2, idx,
                  cand_s, cand_r2, cand_q, ranked, keys, sqrt_w, rows, xyz, row):
    """Fill ``row`` with the descriptor of the centre at c (``me``: its row of ``binned``, or -1);
    return a coincident point's index or -1."""
    jmax = _nearest(c, me, binned, order, start, lo, bin_size, nbins, cutoff, k, dist2, idx, cand_s, cand_r2,
                    cand_q, ranked, keys)
    for j in range(jmax):
        r = np.sqrt(dist2[j])
        if r == 0.0:
            return idx[j]
        w = _weight(r, cutoff)
        row[j] = w / r
        sqrt_w[j] = np.sqrt(w)
        for a in range(3):
            xyz[a, j] = points[idx[j], a]
    for j in range(jmax, k):
        row[j] = 0.0
    if _pair_matrix(jmax, k, sqrt_w, xyz, rows):
        return _coincident(jmax, sqrt_w, xyz, idx)
    for t in range(network.shape[0]):
        a = network[t, 0]
        b = network[t, 1]
        for j in range(jmax):  # the columns of absent neighbours hold zeros: sorted already
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


@cached_njit(error_model="numpy")
def _pair_matrix(jmax, k, sqrt_w, xyz, rows) -> bool:
    """Fill ``rows`` with the zero-padded X2 matrix R[j, l] = sqrt(w_j w_l) / r_jl in an order
    the sorting network accepts; True if two neighbours coincide (r_jl = 0).

    The network sorts each column ``rows[:, j]``, so only the set of values in it matters, not
    their order. Column j (matrix row j of the first jmax neighbours) holds R[j, (j + d) mod jmax]
    at position d: for one d that is a run over all j with contiguous operands (the coordinates
    and weights are doubled to length 2 jmax, so (j + d) needs no modulo), a loop that vectorises.
    R is symmetric, so position d and position jmax - d hold the same values rotated by d: half
    the distances are computed, the other half are copies. (Both orders give the same bits:
    x_j - x_l = -(x_l - x_j) exactly, and the product commutes.) Position 0 (the diagonal),
    positions >= jmax (absent neighbours) and the columns of absent neighbours are 0; padding
    positions k.. are +inf.
    """
    for j in range(jmax):
        sqrt_w[jmax + j] = sqrt_w[j]
        for a in range(3):
            xyz[a, jmax + j] = xyz[a, j]
    bad = 0
    for d in range(1, jmax // 2 + 1):
        target = rows[d]
        for j in range(jmax):
            d0 = xyz[0, j] - xyz[0, j + d]
            d1 = xyz[1, j] - xyz[1, j + d]
            d2 = xyz[2, j] - xyz[2, j + d]
            value = sqrt_w[j] * sqrt_w[j + d] / np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
            target[j] = value
            bad += not value < np.inf
        if 2 * d != jmax:  # for d = jmax / 2 the rotated copy is the row itself
            mirror = rows[jmax - d]
            for j in range(d, jmax):
                mirror[j] = target[j - d]
            for j in range(d):
                mirror[j] = target[j - d + jmax]
    rows[0, :jmax] = 0.0
    rows[jmax:k, :jmax] = 0.0
    rows[:k, jmax:] = 0.0
    rows[k:, :] = np.inf
    return bad > 0


@cached_njit(error_model="numpy")
def _coincident(jmax, sqrt_w, xyz, idx):
    """Index of the later neighbour of the first pair (j < l, in rank order) at zero distance."""
    for j in range(jmax):
        for l in range(j + 1, jmax):
            d0 = xyz[0, j] - xyz[0, l]
            d1 = xyz[1, j] - xyz[1, l]
            d2 = xyz[2, j] - xyz[2, l]
            if not sqrt_w[j] * sqrt_w[l] / np.sqrt(d0 * d0 + d1 * d1 + d2 * d2) < np.inf:
                return idx[l]
    return idx[jmax - 1]
