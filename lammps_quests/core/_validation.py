"""Input checks shared by the core: each raises a ValueError that names the problem and the fix."""

from __future__ import annotations

import numbers

import numpy as np

# Accepted kernel bandwidths, Å^-1. Descriptor components are below ~2 Å^-1, so two environments
# lie at most a few tens of Å^-1 apart: at h = 1e-4 the largest exponent |x - y|^2 / (2 h^2) is
# ~1e11 and dH stays finite (float64); far below it every other environment is infinitely far
# and 1 / (2 h^2) overflows (h = 1e-300 gave inf and nan). Above 10 Å^-1 every kernel is ~1 and
# every environment looks alike. The paper's h = 0.015 and its volume rule (0.012-0.10) lie
# well inside.
MIN_BANDWIDTH = 1e-4
MAX_BANDWIDTH = 10.0


def check_positions(positions, name: str = "positions") -> np.ndarray:
    """Return ``positions`` as a C-contiguous (n, 3) float64 array of finite values (Å)."""
    array = np.ascontiguousarray(positions, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"{name} must have shape (n, 3) in Å, got shape {array.shape}")
    if np.isfinite(array).all():  # one contiguous pass; the rows are looked at only on failure
        return array
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        first = int(np.nonzero(bad)[0][0])
        raise ValueError(
            f"{name} of {int(bad.sum())} atom(s) are NaN or inf (first: atom {first}); "
            "check the structure file or the simulation that produced it"
        )
    return array


def check_k(k) -> int:
    """Number of neighbours in the descriptor: an integer >= 2."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
        raise ValueError(f"k must be an integer >= 2 (number of neighbours), got {k!r}")
    return int(k)


def check_cutoff(cutoff) -> float:
    """Descriptor cutoff radius: a finite number > 0 (Å)."""
    value = float(cutoff)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"cutoff must be a finite distance > 0 in Å, got {cutoff!r}")
    return value


def check_bandwidths(h) -> tuple[np.ndarray, bool]:
    """Kernel bandwidth(s) in Å^-1, each within [MIN_BANDWIDTH, MAX_BANDWIDTH]; returns (1-d
    array, whether a single value was given)."""
    scalar = np.ndim(h) == 0
    values = np.atleast_1d(np.asarray(h, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"bandwidth must be a number or a sequence of numbers in Å^-1, got {h!r}")
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise ValueError(f"bandwidth must be finite and > 0 (Å^-1), got {h!r}; accepted range "
                         f"{MIN_BANDWIDTH:g} to {MAX_BANDWIDTH:g} Å^-1")
    if not ((values >= MIN_BANDWIDTH) & (values <= MAX_BANDWIDTH)).all():
        raise ValueError(
            f"bandwidth must lie between {MIN_BANDWIDTH:g} and {MAX_BANDWIDTH:g} Å^-1, got {h!r}: narrower "
            "kernels make dH overflow, wider ones make all environments alike (the paper uses 0.015)"
        )
    return values, scalar


def check_descriptors(X, name: str = "X") -> np.ndarray:
    """Return descriptors as a C-contiguous (n, d) float64 array; n >= 1, finite values."""
    array = np.ascontiguousarray(X, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (environments x descriptor width), got {array.ndim}-d")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}): give at least one environment")
    if not _all_finite(array):
        raise ValueError(f"{name} contains NaN or inf; recompute the descriptors from finite positions")
    return array


_FINITE_CHUNK = 65536  # rows per finiteness check: a 4 MiB mask at width 63, not one as large as X


def _all_finite(array: np.ndarray) -> bool:
    """True when every value is finite, checked a block of rows at a time (a whole-array mask
    of a memory-mapped reference would be private memory of every process the size of X / 8)."""
    return all(np.isfinite(array[s:s + _FINITE_CHUNK]).all() for s in range(0, len(array), _FINITE_CHUNK))


def check_same_width(Y: np.ndarray, X: np.ndarray) -> None:
    """Descriptors compared with each other must come from the same k (width 2k - 1)."""
    if Y.shape[1] != X.shape[1]:
        raise ValueError(
            f"descriptor widths differ: Y has {Y.shape[1]} columns and X has {X.shape[1]}; "
            "compute both with the same k (width 2k - 1)"
        )
