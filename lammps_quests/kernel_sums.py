"""Blocked Gaussian kernel sums in log space: the engine behind every information quantity.

For rows y of Y and a reference X this computes, for each bandwidth h (Å^-1),

    log S(y) = log sum_i exp(-|y - x_i|^2 / (2 h^2))

without ever holding an n x m matrix: Y and X are cut into blocks, squared distances of a block
come from one matrix product (BLAS) as |y|^2 + |x|^2 - 2 y.x on data centred on the mean of X
(centring keeps the subtraction from losing digits), and the sums are accumulated as a running
log-sum-exp: S is stored relative to the smallest squared distance seen so far, so log S stays
finite however far y lies from X (a direct sum underflows to 0 beyond ~39 h).

The exponential is a branch-free polynomial the compiler vectorises: numba's scalar libm call
cost 4x more than the distance product itself.
"""

from __future__ import annotations

import math

import numba
import numpy as np

ROW_BLOCK = 512  # rows of Y per block
COL_BLOCK = 4096  # rows of X per block: a block of distances is 512 x 4096 x 8 B = 16 MiB

# Terms more than this many nats below the largest term of a sum are dropped: each is below
# e^-60 = 9e-27 of the total, so even 10^9 of them change log S by less than 1e-17.
_NEGLIGIBLE = 60.0

# exp(-t) = 2^(-m/64) * exp(r) with m = round(64 t / ln 2) and |r| <= ln 2 / 128: one table
# lookup (a gather, which vectorises) and a degree-6 polynomial, accurate to ~2 ulp.
_STEPS = 64
_TABLE = np.exp2(-np.arange(int(_NEGLIGIBLE * _STEPS / math.log(2.0)) + 2) / _STEPS)
_LN2_HI = 0.6931471803691238 / _STEPS  # ln 2 / 64 split in two so that m * LN2_HI is exact
_LN2_LO = 1.9082149292705877e-10 / _STEPS


# Compiled without fast-math (its range reduction relies on exact evaluation order) and left to
# LLVM to inline, which keeps these flags; the caller's loop may reassociate its own sum.
@numba.njit(cache=True)
def _exp_neg(t, table):
    """exp(-t) for 0 <= t <= _NEGLIGIBLE, relative error below 1e-15."""
    m = np.floor(t * (_STEPS / 0.6931471805599453) + 0.5)
    r = (m * _LN2_HI - t) + m * _LN2_LO
    p = 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * table[np.int64(m)]


@numba.njit(cache=True, parallel=True, fastmath={"reassoc", "nsz"})
def _accumulate_block(gram, y_norm2, x_norm2, inv_2h2, best, sums, table):
    """Fold one block of Y x X into the running (best, sums) of every row of the block.

    gram : (by, bx) holds y.x on entry; overwritten with squared distances (Å^-2).
    best : (by,) smallest squared distance seen so far per row (inf before the first block).
    sums : (by, nh) sum over X seen so far of exp(-(d^2 - best) * inv_2h2[h]).
    """
    by, bx = gram.shape
    nh = inv_2h2.shape[0]
    for i in numba.prange(by):
        row = gram[i]
        lowest = best[i]
        for j in range(bx):
            d2 = y_norm2[i] + x_norm2[j] - 2.0 * row[j]
            d2 = d2 if d2 > 0.0 else 0.0
            row[j] = d2
            lowest = d2 if d2 < lowest else lowest
        for h in range(nh):
            scale = inv_2h2[h]
            total = 0.0
            for j in range(bx):
                t = (row[j] - lowest) * scale
                # clamp first: a vectorised select evaluates both sides
                e = _exp_neg(min(t, _NEGLIGIBLE), table)
                total += e if t < _NEGLIGIBLE else 0.0
            if best[i] > lowest:  # the reference point moved: rescale the old sum
                t = (best[i] - lowest) * scale
                sums[i, h] *= _exp_neg(t, table) if t < _NEGLIGIBLE else 0.0
            sums[i, h] += total
        best[i] = lowest


def log_kernel_sums(Y: np.ndarray, X: np.ndarray, inv_2h2: np.ndarray) -> np.ndarray:
    """log sum_i exp(-|y - x_i|^2 inv_2h2[h]) for every row y of Y and every h: shape (ny, nh).

    Y, X : float64 C-contiguous descriptor arrays (Å^-1) of equal width, validated by the caller.
    inv_2h2 : 1 / (2 h^2) per bandwidth, Å^2.
    """
    center = X.mean(axis=0)
    Xc = X - center
    x_norm2 = np.einsum("ij,ij->i", Xc, Xc)
    out = np.empty((len(Y), len(inv_2h2)))
    buffer = np.empty(ROW_BLOCK * min(COL_BLOCK, len(Xc)))
    for r0 in range(0, len(Y), ROW_BLOCK):
        Yb = Y[r0:r0 + ROW_BLOCK] - center
        y_norm2 = np.einsum("ij,ij->i", Yb, Yb)
        best = np.full(len(Yb), np.inf)
        sums = np.zeros((len(Yb), len(inv_2h2)))
        for c0 in range(0, len(Xc), COL_BLOCK):
            Xb = Xc[c0:c0 + COL_BLOCK]
            block = buffer[:len(Yb) * len(Xb)].reshape(len(Yb), len(Xb))
            np.dot(Yb, Xb.T, out=block)
            _accumulate_block(block, y_norm2, x_norm2[c0:c0 + COL_BLOCK], inv_2h2, best, sums,
                              _TABLE)
        out[r0:r0 + ROW_BLOCK] = np.log(sums) - best[:, None] * inv_2h2[None, :]
    return out
