"""Gaussian kernel sums in mixed precision with a proven error bound (``precision="mixed"``).

Same quantity as :mod:`lammps_quests.core._kernel_sums`, for each row y of Y and bandwidth h,

    log S(y) = log sum_i exp(-|y - x_i|^2 s),   s = 1 / (2 h^2) (Å^2),

and the same blocked running log-sum-exp, but the squared distances cost less: the reference X
(Å^-1) is centred on its mean c and rotated onto its principal axes (V: eigenvectors of its
covariance, largest variance first). Descriptors of atoms vary along few directions (on a Cu
EAM reference 99.6 % of the variance lies in 24 of 63 axes), so after the rotation the last
m = d - r components of every row are small. The cross term y.x of

    |y - x|^2 = |y|^2 + |x|^2 - 2 (y_head . x_head + y_tail . x_tail)

is then split: the r leading components (head) go through a float64 matrix product, the m
trailing ones (tail) through a float32 one (about twice the speed of float64 per component).
The norms, the sums and the exponential stay float64, as in the exact kernel.

Proven bound (u = 2^-24, the float32 unit roundoff; gamma_m = m u / (1 - m u)). Let a, b be the
float32 roundings of the tails y_t, x_t (|a_k - y_k| <= u |y_k|). Whatever order and FMA use
the float32 product's summation takes, its result g satisfies
|g - a.b| <= gamma_m sum_k |a_k b_k| <= gamma_m (1 + u)^2 |y_t| |x_t| (Higham, Accuracy and
Stability of Numerical Algorithms, section 3.1), and |a.b - y_t.x_t| <= (2u + u^2) |y_t| |x_t|.
So the tail's cross term is off by at most

    kappa_m |y_t| |x_t|,   kappa_m = gamma_m (1 + u)^2 + 2u + u^2 (+ 2^-120 for subnormals),

and every squared distance by twice that. Every exponent z_i = s |y - x_i|^2 is then off by at
most E_tail = 2 s kappa_m |y_t| max_i |x_t,i|. The float64 parts (centring, rotation by an
orthogonal matrix that is orthogonal only to within eta = ||V^T V - I||_F, measured, the head
product, the norms) are off by a relative 1e-13 at most for these widths: E_64 = s c_64
(|y| + max_i |x_i|)^2 with c_64 = eta + 8 (d + 2) sqrt(d) 2^-53 bounds them all. log S is a
log-sum-exp of the -z_i, which moves by at most max_i |error of z_i| when the z_i move, so

    |dH_mixed - dH| <= E_tail + E_64 + n 2^-52 + 1e-12   (nats; the last two terms: float64
                                                          sums, exponential polynomial)

for every row, whatever the data. This bound is computed for every query row; a row whose bound
exceeds ``tol`` is recomputed with the float64 kernel (so far outliers, descriptors with huge
norms or very narrow kernels fall back on their own). The float64 kernel itself is within E_64
of dH, so every value lies within ``tol`` of the float64 kernel's value.

The split r is chosen per call as the smallest multiple of 8 for which the bound, evaluated for
the reference's own rows as queries, stays below ``tol / 4`` for 99 % of them (r = d: the
reference gives no gain and the float64 kernel runs instead).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np

from ._jit import cached_njit
from ._kernel_sums import _NEGLIGIBLE, _exp_neg, _row_minimum, _single_threaded_blas, log_kernel_sums

ROW_BLOCK = 512  # query rows per block
COL_BLOCK = 4096  # reference rows per block: 512 x 4096 x (8 + 4) B = 24 MiB of products
SPLIT_STEP = 8  # candidate head widths r are multiples of this
DEFAULT_TOLERANCE = 1e-6  # nats
SPLIT_QUANTILE = 0.99  # the split keeps the bound below tol / 4 for this fraction of the reference
_U32 = 2.0 ** -24
_U64 = 2.0 ** -53
_SUBNORMAL = 2.0 ** -120  # absolute slack per tail product: float32 subnormals or flush-to-zero


def tail_factor(m: int) -> float:
    """kappa_m: |float32 tail dot product - exact| <= kappa_m |y_t| |x_t| (module docstring)."""
    if m == 0:
        return 0.0
    gamma = m * _U32 / (1.0 - m * _U32)
    return gamma * (1.0 + _U32) ** 2 + 2.0 * _U32 + _U32 ** 2


@dataclass
class MixedReference:
    """A reference prepared for the mixed kernel (arrays in Å^-1): validate and rotate once.

    Attributes:
        X: (n, d) the reference as given (float64), for rows that fall back on float64.
        center: (d,) mean of X.
        rotation: (d, d) orthonormal eigenvectors of the covariance of X, by decreasing variance.
        rotated: (n, d) float64 rows of X, centred and rotated.
        norm2: (n,) |rotated row|^2, Å^-2.
        tail_norm: (n, d + 1) |rotated[:, r:]| for every r (column d is 0).
        max_norm: max_i |rotated row i|.
        eta: ||V^T V - I||_F of the rotation (float64 rounding; bounded in c_64).
    """

    X: np.ndarray
    center: np.ndarray
    rotation: np.ndarray
    rotated: np.ndarray
    norm2: np.ndarray
    tail_norm: np.ndarray
    max_norm: float
    eta: float
    _splits: dict = field(default_factory=dict, repr=False)

    @property
    def width(self) -> int:
        return int(self.X.shape[1])

    def c64(self) -> float:
        """Relative bound of the float64 arithmetic on squared distances (module docstring)."""
        d = self.width
        return self.eta + 8.0 * (d + 2) * math.sqrt(d) * _U64

    def choose_split(self, scale: float, tol: float) -> int:
        """Smallest head width r (multiple of ``SPLIT_STEP``) whose bound stays below tol / 4
        for ``SPLIT_QUANTILE`` of the reference rows taken as queries; d if none does."""
        d = self.width
        for r in list(range(0, d, SPLIT_STEP)):
            x_tail = self.tail_norm[:, r]
            typical = float(np.quantile(x_tail, SPLIT_QUANTILE))
            if 2.0 * scale * tail_factor(d - r) * typical * float(x_tail.max()) <= 0.25 * tol:
                return r
        return d

    def split(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        """(head float64 (n, r), tail float32 (n, d - r)), C-contiguous, cached per r."""
        if r not in self._splits:
            head = np.ascontiguousarray(self.rotated[:, :r])
            tail = np.ascontiguousarray(self.rotated[:, r:], dtype=np.float32)
            self._splits[r] = (head, tail)
        return self._splits[r]


def prepare_reference(X: np.ndarray) -> MixedReference:
    """Rotate a validated (n, d) float64 reference (Å^-1) onto its principal axes."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    center = X.mean(axis=0)
    Xc = X - center
    with _single_threaded_blas():  # a 63 x 63 eigenproblem: threads only add waiting
        _, vectors = np.linalg.eigh(Xc.T @ Xc)
        rotation = np.ascontiguousarray(vectors[:, ::-1])
        rotated = Xc @ rotation
        eta = float(np.linalg.norm(rotation.T @ rotation - np.eye(X.shape[1])))
    squares = rotated * rotated
    norm2 = squares.sum(axis=1)
    # |rotated[:, r:]| for every r: cumulative sums of the squared components from the end
    tail_norm = np.zeros((len(X), X.shape[1] + 1))
    tail_norm[:, :-1] = np.sqrt(np.cumsum(np.ascontiguousarray(squares[:, ::-1]), axis=1)[:, ::-1])
    return MixedReference(X=X, center=center, rotation=rotation, rotated=rotated, norm2=norm2,
                          tail_norm=tail_norm, max_norm=float(np.sqrt(norm2.max())), eta=eta)


class _PreparedCache:
    """The last few prepared references, by memory address and shape, checked against a
    fingerprint of the contents (an array changed in place is prepared again, never served
    stale). Entries hold their arrays, so an address cannot be reused while cached."""

    SIZE = 4

    def __init__(self):
        self._entries = []  # (key, fingerprint, MixedReference)

    @staticmethod
    def fingerprint(X: np.ndarray) -> tuple:
        words = X.view(np.uint64)
        return int(words.sum(dtype=np.uint64)), int(np.bitwise_xor.reduce(words, axis=None))

    def get(self, X: np.ndarray, make) -> MixedReference:
        key = (X.__array_interface__["data"][0], X.shape)
        mark = self.fingerprint(X)
        for entry_key, fingerprint, ref in self._entries:
            if entry_key == key and fingerprint == mark:
                return ref
        ref = make(X)
        self._entries = [e for e in self._entries if e[0] != key][-(self.SIZE - 1):] + [(key, mark, ref)]
        return ref


_CACHE = _PreparedCache()


def prepared(X: np.ndarray) -> MixedReference:
    """:func:`prepare_reference` of a validated float64 array, reusing earlier work on the
    same unchanged array."""
    return _CACHE.get(X, prepare_reference)


@cached_njit(nogil=True, fastmath={"reassoc", "nsz"})
def _accumulate_mixed(gram, tail, y_norm2, x_norm2, inv_2h2, best, sums):
    """``kernel_sums._accumulate_block`` with the cross terms split in two parts.

    gram : (by, bx) float64 head dot products; overwritten row by row with head + tail.
    tail : (by, bx) float32 tail dot products.
    Each row is completed while it is in cache, then folded like the exact kernel does.
    """
    by, bx = gram.shape
    nh = inv_2h2.shape[0]
    for i in range(by):
        row = gram[i]
        part = tail[i]
        for j in range(bx):
            row[j] += np.float64(part[j])
        yi = y_norm2[i]
        lowest = min(best[i], max(_row_minimum(row, x_norm2, best[i] - yi) + yi, 0.0))
        for h in range(nh):
            scale = inv_2h2[h]
            total = 0.0
            for j in range(bx):
                t = (yi + x_norm2[j] - 2.0 * row[j] - lowest) * scale
                e = _exp_neg(min(max(t, 0.0), _NEGLIGIBLE))
                total += e if t < _NEGLIGIBLE else 0.0
            if best[i] > lowest:
                t = (best[i] - lowest) * scale
                sums[i, h] *= _exp_neg(t) if t < _NEGLIGIBLE else 0.0
            sums[i, h] += total
        best[i] = lowest


def row_bounds(Yr: np.ndarray, prepared_ref: MixedReference, r: int, scale: float) -> np.ndarray:
    """Proven bound (nats) of |dH_mixed - dH| for rotated query rows Yr at head width r."""
    d = prepared_ref.width
    n = len(prepared_ref.X)
    y_norm = np.sqrt(np.einsum("ij,ij->i", Yr, Yr))
    y_tail = np.sqrt(np.einsum("ij,ij->i", Yr[:, r:], Yr[:, r:]))
    x_tail = float(prepared_ref.tail_norm[:, r].max())
    # (1 + 1e-10): the norms themselves are float64 sums, good to ~d 2^-53
    tail = 2.0 * scale * (1.0 + 1e-10) * (tail_factor(d - r) * y_tail * x_tail
                                          + (d - r) * _SUBNORMAL * (1.0 + y_tail + x_tail))
    float64 = scale * prepared_ref.c64() * (y_norm + prepared_ref.max_norm) ** 2
    return tail + float64 + n * 2.0 ** -52 + 1e-12


def mixed_log_kernel_sums(Y: np.ndarray, ref: MixedReference, inv_2h2: np.ndarray,
                          tol: float = DEFAULT_TOLERANCE, stats: dict | None = None) -> np.ndarray:
    """log sum_i exp(-|y - x_i|^2 inv_2h2[h]) for every row of Y: shape (ny, nh), each value
    within ``tol`` nats of the float64 kernel's (module docstring).

    Args:
        Y: (ny, d) validated float64 query descriptors, Å^-1.
        ref: the prepared reference.
        inv_2h2: (nh,) 1 / (2 h^2), Å^2.
        tol: nats, > 0.
        stats: if a dict, receives "split" (head width r), "fallback_rows" (rows recomputed in
            float64) and "bound" (largest bound of the rows kept, nats).

    Returns:
        (ny, nh) log S.
    """
    scale = float(np.max(inv_2h2))
    r = ref.choose_split(scale, tol)
    if r >= ref.width:
        if stats is not None:
            stats.update(split=r, fallback_rows=len(Y), bound=0.0)
        return log_kernel_sums(Y, ref.X, inv_2h2)
    head, tail = ref.split(r)
    out = np.empty((len(Y), len(inv_2h2)))
    bounds = np.empty(len(Y))
    starts = list(range(0, len(Y), ROW_BLOCK))
    workers = max(1, min(numba.get_num_threads(), len(starts)))

    def run(group):
        cols = min(COL_BLOCK, len(head))
        buffer64 = np.empty(ROW_BLOCK * cols)
        buffer32 = np.empty(ROW_BLOCK * cols, dtype=np.float32)
        for r0 in group:
            Yb = Y[r0:r0 + ROW_BLOCK]
            out[r0:r0 + len(Yb)], bounds[r0:r0 + len(Yb)] = _row_block(
                Yb, ref, r, head, tail, inv_2h2, scale, buffer64, buffer32)

    with _single_threaded_blas():
        if workers == 1:
            run(starts)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, [starts[w::workers] for w in range(workers)]))
    redo = np.flatnonzero(~(bounds <= tol))  # also NaN bounds (overflowing norms)
    if len(redo):
        out[redo] = log_kernel_sums(np.ascontiguousarray(Y[redo]), ref.X, inv_2h2)
    if stats is not None:
        kept = np.delete(bounds, redo)
        stats.update(split=r, fallback_rows=len(redo), bound=float(kept.max()) if len(kept) else 0.0)
    return out


def _row_block(Yb, ref, r, head, tail, inv_2h2, scale, buffer64, buffer32):
    """(log S, bound) of one block of query rows against the whole reference."""
    Yr = (Yb - ref.center) @ ref.rotation
    y_norm2 = np.einsum("ij,ij->i", Yr, Yr)
    y_head = np.ascontiguousarray(Yr[:, :r])
    with np.errstate(over="ignore"):
        y_tail = np.ascontiguousarray(Yr[:, r:], dtype=np.float32)
    best = np.full(len(Yb), np.inf)
    sums = np.zeros((len(Yb), len(inv_2h2)))
    for c0 in range(0, len(head), COL_BLOCK):
        c1 = min(c0 + COL_BLOCK, len(head))
        g64 = buffer64[:len(Yb) * (c1 - c0)].reshape(len(Yb), c1 - c0)
        g32 = buffer32[:len(Yb) * (c1 - c0)].reshape(len(Yb), c1 - c0)
        if r:
            np.dot(y_head, head[c0:c1].T, out=g64)
        else:
            g64[:] = 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            np.dot(y_tail, tail[c0:c1].T, out=g32)
        _accumulate_mixed(g64, g32, y_norm2, ref.norm2[c0:c1], inv_2h2, best, sums)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.log(sums) - best[:, None] * inv_2h2[None, :]
    return result, row_bounds(Yr, ref, r, scale)
