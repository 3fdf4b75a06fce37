"""Leave-one-out dH of a reference's own environments: dH(x_i | X without row i), nats.

The kernel sum over X includes x_i itself (K = 1), so log(S_i - 1) is the leave-one-out sum.
Subtracting 1 loses every digit when x_i is isolated (S_i - 1 below ~1e-6), and the self term
itself comes out of |x|^2 + |x|^2 - 2 x.x as 1 - O(1e-14), so rows whose other terms add up
to less than ``ISOLATED`` are summed again with their own row left out explicitly. Only row i
is removed: another row equal to x_i (a duplicate, e.g. equivalent atoms of a perfect
lattice) stays and contributes K = 1, as it does for any query equal to it.
"""

from __future__ import annotations

import numpy as np

from ._kernel_sums import log_kernel_sums
from ._validation import check_bandwidths, check_descriptors

#: rows whose kernel sum without themselves is below this are recomputed without subtraction
ISOLATED = 1e-6
_BLOCK = 1024
_PROGRESS_ROWS = 8192  # rows per kernel-sum call: large enough to keep every thread busy


def leave_one_out_log_sums(X, h: float, rows=None, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """(log S_i with self, log S_i without self) for ``rows`` of X (default all), nats.

    X : (n, d) descriptors, Å^-1; h : bandwidth, Å^-1; rows : row indices (sorted or not);
    progress : None, or called with the number of rows done after each block of them.
    Work: len(rows) x n kernel pairs, plus (isolated rows) x n for the recomputed ones.
    """
    X = check_descriptors(X, "X")
    (h_value,), _ = check_bandwidths(h)
    inv = np.array([1.0 / (2.0 * h_value * h_value)])
    rows = np.arange(len(X)) if rows is None else np.asarray(rows, dtype=np.int64)
    with_self = np.empty(len(rows))
    for start in range(0, len(rows), _PROGRESS_ROWS):  # blocks, so that progress can be shown
        block = rows[start:start + _PROGRESS_ROWS]
        with_self[start:start + len(block)] = log_kernel_sums(np.ascontiguousarray(X[block]), X, inv)[:, 0]
        if progress is not None:
            progress(len(block))
    others = np.expm1(with_self)  # S_i - 1
    without = np.log(np.where(others > ISOLATED, others, 1.0))
    isolated = np.flatnonzero(others <= ISOLATED)
    if len(isolated):
        without[isolated] = _sums_without_self(X, rows[isolated], inv)
    return with_self, without


def _sums_without_self(X: np.ndarray, rows: np.ndarray, inv: np.ndarray) -> np.ndarray:
    """log sum over j != i of K(x_i, x_j) for each row i, with no subtraction."""
    rest = np.ones(len(X), dtype=bool)
    rest[rows] = False
    out = np.full(len(rows), -np.inf)
    if rest.any():
        out = log_kernel_sums(np.ascontiguousarray(X[rows]), np.ascontiguousarray(X[rest]), inv)[:, 0]
    # pairs among the recomputed rows, the diagonal (i with itself) left out
    own = X[rows] - X[rows].mean(axis=0)
    norm2 = np.einsum("ij,ij->i", own, own)
    for start in range(0, len(rows), _BLOCK):
        block = slice(start, start + _BLOCK)
        d2 = np.maximum(norm2[block, None] + norm2[None, :] - 2.0 * own[block] @ own.T, 0.0)
        d2[np.arange(d2.shape[0]), np.arange(start, start + d2.shape[0])] = np.inf
        z = -d2 * inv[0]
        top = z.max(axis=1)
        finite = np.isfinite(top)
        local = np.full(d2.shape[0], -np.inf)
        local[finite] = top[finite] + np.log(np.exp(z[finite] - top[finite, None]).sum(axis=1))
        out[block] = np.logaddexp(out[block], local)
    return out
