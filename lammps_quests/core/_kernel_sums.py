"""Blocked Gaussian kernel sums in log space: the engine behind every information quantity.

For rows y of Y and a reference X this computes, for each bandwidth h (Å^-1),

    log S(y) = log sum_i exp(-|y - x_i|^2 / (2 h^2))

without ever holding an n x m matrix: Y and X are cut into blocks, squared distances of a block
come from one matrix product (BLAS) as |y|^2 + |x|^2 - 2 y.x on data centred on the mean of X
(centring keeps the subtraction from losing digits), and the sums are accumulated as a running
log-sum-exp: S is stored relative to the smallest squared distance seen so far, so log S stays
finite however far y lies from X (a direct sum underflows to 0 beyond ~39 h).

The exponential is a branch-free polynomial that the compiler vectorises: numba's scalar libm
call cost 4x more per pair than the whole distance product.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from ._jit import cached_njit

_BLAS = None  # a threadpoolctl controller, made once: building one scans the loaded libraries


def _single_threaded_blas():
    """Context in which BLAS uses one thread (the threads here split the rows instead)."""
    global _BLAS
    if _BLAS is None:
        # imported here: importing threadpoolctl sets KMP_DUPLICATE_LIB_OK in the environment
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


# A block of dot products is written by the matrix product and read back by the exponentials:
# 128 x 1024 x 8 B = 1 MiB stays in a core's L2 cache, where 512 x 4096 (16 MiB) went through
# memory. Measured on 4,000 Cu queries x 5,376 references, one thread: 93 ms against 99 ms.
ROW_BLOCK = 128  # rows of Y per block
COL_BLOCK = 1024  # rows of X per block

# Terms more than this many nats below the largest term of a sum are dropped: each is below
# e^-60 = 9e-27 of the total, so even 10^9 of them change log S by less than 1e-17.
_NEGLIGIBLE = 60.0

# Compiled without fast-math (exact evaluation order) and left to LLVM to inline, which keeps
# these flags; the callers' loops may reassociate their own sums.
@cached_njit()
def _exp_neg(t):
    """exp(-t) for 0 <= t <= _NEGLIGIBLE, relative error below 2e-13.

    exp(-t) = exp(-t / 1024)^1024: a degree-8 Taylor polynomial on [-0.06, 0], squared ten times.
    No table and no integer tricks, so loops over it vectorise even when they also store their
    results (a table lookup is a gather, which stops LLVM from vectorising loops with stores).
    """
    x = t * (-1.0 / 1024.0)
    p = 1.0 / 40320.0
    p = p * x + 1.0 / 5040.0
    p = p * x + 1.0 / 720.0
    p = p * x + 1.0 / 120.0
    p = p * x + 1.0 / 24.0
    p = p * x + 1.0 / 6.0
    p = p * x + 0.5
    p = p * x + 1.0
    p = p * x + 1.0
    for _ in range(10):
        p = p * p
    return p


@cached_njit(nogil=True, fastmath={"reassoc", "nsz", "nnan"})
def _row_minimum(row, x_norm2, start):
    """min over j of (x_norm2[j] - 2 row[j]), starting from ``start``.

    Eight independent running minima: a single one is a loop-carried dependency that the
    compiler does not vectorise (3x slower).
    """
    lanes = np.full(8, start)
    n = row.shape[0]
    body = n - n % 8
    for j in range(0, body, 8):
        for lane in range(8):
            v = x_norm2[j + lane] - 2.0 * row[j + lane]
            lanes[lane] = v if v < lanes[lane] else lanes[lane]
    lowest = lanes.min()
    for j in range(body, n):
        v = x_norm2[j] - 2.0 * row[j]
        lowest = v if v < lowest else lowest
    return lowest


@cached_njit(nogil=True, fastmath={"reassoc", "nsz"})
def _accumulate_block(gram, y_norm2, x_norm2, inv_2h2, best, sums):
    """Fold one block of Y x X into the running (best, sums) of every row of the block.

    gram : (by, bx) dot products y.x (Å^-2) of centred descriptors; read only.
    best : (by,) smallest squared distance seen so far per row (inf before the first block).
    sums : (by, nh) sum over X seen so far of exp(-(d^2 - best) * inv_2h2[h]).
    Squared distances are |y|^2 + |x|^2 - 2 y.x, recomputed in each pass (cheaper than
    storing them), clipped at 0 against round-off.
    """
    by, bx = gram.shape
    nh = inv_2h2.shape[0]
    for i in range(by):
        row = gram[i]
        yi = y_norm2[i]
        lowest = min(best[i], max(_row_minimum(row, x_norm2, best[i] - yi) + yi, 0.0))
        for h in range(nh):
            scale = inv_2h2[h]
            total = 0.0
            for j in range(bx):
                t = (yi + x_norm2[j] - 2.0 * row[j] - lowest) * scale
                # clamp into [0, _NEGLIGIBLE] first: a vectorised select evaluates both sides
                e = _exp_neg(min(max(t, 0.0), _NEGLIGIBLE))
                total += e if t < _NEGLIGIBLE else 0.0
            if best[i] > lowest:  # the reference point moved: rescale the old sum
                t = (best[i] - lowest) * scale
                sums[i, h] *= _exp_neg(t) if t < _NEGLIGIBLE else 0.0
            sums[i, h] += total
        best[i] = lowest


def log_kernel_sums(Y: np.ndarray, X: np.ndarray, inv_2h2: np.ndarray) -> np.ndarray:
    """log sum_i exp(-|y - x_i|^2 inv_2h2[h]) for every row y of Y and every h: shape (ny, nh).

    Y, X : float64 C-contiguous descriptor arrays (Å^-1) of equal width, validated by the caller.
    inv_2h2 : 1 / (2 h^2) per bandwidth, Å^2.

    Parallel over row blocks with ``numba.get_num_threads()`` Python threads, each running
    single-threaded BLAS and a GIL-free numba kernel: alternating a multi-threaded BLAS with a
    multi-threaded numba region made their spinning thread pools fight over the cores.

    X is centred one column block at a time into a small buffer per thread, never as a whole:
    a centred copy of a memory-mapped reference would be private memory of every MPI rank (as
    large as the reference file, which the ranks of a node otherwise share).
    """
    center = X.mean(axis=0)
    out = np.empty((len(Y), len(inv_2h2)))
    starts = list(range(0, len(Y), ROW_BLOCK))
    workers = max(1, min(numba.get_num_threads(), len(starts)))
    groups = [starts[w::workers] for w in range(workers)]

    def run(group):
        _row_blocks(Y, X, center, inv_2h2, group, out)

    with _single_threaded_blas():
        if workers == 1:
            run(groups[0])
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, groups))
    return out


def _row_blocks(Y, X, center, inv_2h2, starts, out):
    """log kernel sums of the row blocks of Y beginning at ``starts`` against all of X, into
    ``out``. Column blocks of X are the outer loop: each is centred once into a small buffer,
    then met by every row block; each row still sees the column blocks in order, so its sum is
    the same, bit for bit, however the rows are grouped."""
    blocks = [Y[r0:r0 + ROW_BLOCK] - center for r0 in starts]
    y_norm2 = [np.einsum("ij,ij->i", Yb, Yb) for Yb in blocks]
    best = [np.full(len(Yb), np.inf) for Yb in blocks]
    sums = [np.zeros((len(Yb), len(inv_2h2))) for Yb in blocks]
    buffer = np.empty(ROW_BLOCK * min(COL_BLOCK, len(X)))
    centred = np.empty((min(COL_BLOCK, len(X)), X.shape[1]))
    for c0 in range(0, len(X), COL_BLOCK):
        Xb = centred[:min(COL_BLOCK, len(X) - c0)]
        np.subtract(X[c0:c0 + COL_BLOCK], center, out=Xb)
        x_norm2 = np.einsum("ij,ij->i", Xb, Xb)
        for i, Yb in enumerate(blocks):
            block = buffer[:len(Yb) * len(Xb)].reshape(len(Yb), len(Xb))
            np.dot(Yb, Xb.T, out=block)
            _accumulate_block(block, y_norm2[i], x_norm2, inv_2h2, best[i], sums[i])
    for i, r0 in enumerate(starts):
        out[r0:r0 + len(blocks[i])] = np.log(sums[i]) - best[i][:, None] * inv_2h2[None, :]


SELF_BLOCK = 1024  # rows per block of the symmetric X x X sums: 1024 x 1024 x 8 B = 8 MiB


@cached_njit(nogil=True)
def _squared_distances(gram, a_norm2, b_norm2):
    """Turn a block of dot products a.b into squared distances |a - b|^2 (Å^-2), in place."""
    na, nb = gram.shape
    for i in range(na):
        row = gram[i]
        for j in range(nb):
            d2 = a_norm2[i] + b_norm2[j] - 2.0 * row[j]
            row[j] = d2 if d2 > 0.0 else 0.0


@cached_njit(nogil=True, fastmath={"reassoc", "nsz"})
def _kernel_values(d2, scale, values, row_sums):
    """values = exp(-d2 * scale) (0 where negligible); row_sums += their row totals."""
    na, nb = d2.shape
    for i in range(na):
        total = 0.0
        for j in range(nb):
            t = d2[i, j] * scale
            e = _exp_neg(min(t, _NEGLIGIBLE))
            e = e if t < _NEGLIGIBLE else 0.0
            values[i, j] = e
            total += e
        row_sums[i] += total


# The block pairs of the symmetric sums are dealt into at most this many chunks, each summed
# into its own array; the chunks are then added in chunk order. The chunks depend on n only,
# so the sums are bitwise the same with any number of threads or MPI ranks.
SELF_CHUNKS = 16


def self_sum_tasks(n: int) -> list[tuple[int, int]]:
    """First rows (a, b), a <= b, of the block pairs of the symmetric sums over n rows."""
    starts = list(range(0, n, SELF_BLOCK))
    return [(a, b) for ia, a in enumerate(starts) for b in starts[ia:]]


def self_sum_chunks(n: int) -> int:
    """Number of chunks of the symmetric sums over n rows (1 <= chunks <= ``SELF_CHUNKS``);
    chunk c holds the block pairs ``self_sum_tasks(n)[c::chunks]``."""
    return max(1, min(SELF_CHUNKS, len(self_sum_tasks(n))))


def kernel_sums_self_chunks(X: np.ndarray, inv_2h2: np.ndarray, chunks=None, tick=None) -> dict:
    """Partial kernel sums of X against itself: {chunk: (nh, n) array} for the chosen chunks.

    Each chunk holds sum_j exp(-|x_i - x_j|^2 inv_2h2[h]) over its share of the pairs (i, j)
    (relative to exp(0) = 1, the self term). ``chunks``: indices in
    ``range(self_sum_chunks(len(X)))``, default all; ``tick(pairs)``, if given, is called after
    each block pair (from worker threads). :func:`combine_self_chunks` adds the chunks of all
    callers (e.g. MPI ranks) in a fixed order.
    """
    Xc = X - X.mean(axis=0)
    norm2 = np.einsum("ij,ij->i", Xc, Xc)
    tasks = self_sum_tasks(len(X))
    n_chunks = self_sum_chunks(len(X))
    chunks = list(range(n_chunks)) if chunks is None else [int(c) for c in chunks]
    workers = max(1, min(numba.get_num_threads(), len(chunks)))
    nh = len(inv_2h2)

    def run(chunk):
        sums = np.zeros((nh, len(X)))
        d2_buffer = np.empty(SELF_BLOCK * SELF_BLOCK)
        k_buffer = np.empty(SELF_BLOCK * SELF_BLOCK)
        for a, b in tasks[chunk::n_chunks]:
            A, B = Xc[a:a + SELF_BLOCK], Xc[b:b + SELF_BLOCK]
            d2 = d2_buffer[:len(A) * len(B)].reshape(len(A), len(B))
            values = k_buffer[:len(A) * len(B)].reshape(len(A), len(B))
            np.dot(A, B.T, out=d2)
            _squared_distances(d2, norm2[a:a + len(A)], norm2[b:b + len(B)])
            for h, scale in enumerate(inv_2h2):
                _kernel_values(d2, scale, values, sums[h, a:a + len(A)])
                if a != b:  # off-diagonal blocks stand for both orders of their pairs
                    sums[h, b:b + len(B)] += values.sum(axis=0)
            if tick is not None:
                tick(len(A) * len(B))
        return sums

    with _single_threaded_blas():
        if workers == 1:
            results = [run(chunk) for chunk in chunks]
        else:
            with ThreadPoolExecutor(workers) as pool:
                results = list(pool.map(run, chunks))
    return dict(zip(chunks, results))


def combine_self_chunks(parts: dict) -> np.ndarray:
    """log of the total of the chunk sums, added in chunk order: shape (n, nh)."""
    order = sorted(parts)
    total = parts[order[0]].copy()
    for chunk in order[1:]:
        total += parts[chunk]
    return np.log(total).T


def log_kernel_sums_self(X: np.ndarray, inv_2h2: np.ndarray) -> np.ndarray:
    """log sum_j exp(-|x_i - x_j|^2 inv_2h2[h]) for every row of X against X: shape (n, nh).

    Every row's nearest point is itself (distance 0), so sums are taken relative to exp(0) = 1
    and no running maximum is needed; that lets each pair of blocks be computed once and
    credited to both its rows and its columns, halving the work of ``log_kernel_sums(X, X)``.
    """
    return combine_self_chunks(kernel_sums_self_chunks(X, inv_2h2))
