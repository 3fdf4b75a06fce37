"""Input checks shared by the core: each raises a ValueError that names the problem and the fix."""

from __future__ import annotations

import numbers

import numpy as np

from lammps_quests.errors import OptionError, QuestsInputError

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
        raise QuestsInputError(f"{name} must have shape (n, 3) in Å, got shape {array.shape}")
    if np.isfinite(array).all():  # one contiguous pass; the rows are looked at only on failure
        return array
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        first = int(np.nonzero(bad)[0][0])
        raise QuestsInputError(
            f"{name} of {int(bad.sum())} atom(s) are NaN or inf (first: atom {first}); "
            "check the structure file or the simulation that produced it"
        )
    return array


def check_k(k) -> int:
    """Number of neighbours in the descriptor: an integer >= 2."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
        raise QuestsInputError(f"k must be an integer >= 2 (number of neighbours), got {k!r}")
    return int(k)


def check_cutoff(cutoff) -> float:
    """Descriptor cutoff radius: a finite number > 0 (Å)."""
    try:
        value = float(cutoff)
    except (TypeError, ValueError):  # not a number: the same message as a bad number
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise QuestsInputError(f"cutoff must be a finite distance > 0 in Å, got {cutoff!r}")
    return value


def check_bandwidths(h) -> tuple[np.ndarray, bool]:
    """Kernel bandwidth(s) in Å^-1, each within [MIN_BANDWIDTH, MAX_BANDWIDTH]; returns (1-d
    array, whether a single value was given)."""
    scalar = np.ndim(h) == 0
    try:
        values = np.atleast_1d(np.asarray(h, dtype=np.float64))
    except (TypeError, ValueError):  # not numbers: the same message as an empty or nested value
        values = np.zeros((0, 0))
    if values.ndim != 1 or values.size == 0:
        raise QuestsInputError(f"bandwidth must be a number or a sequence of numbers in Å^-1, got {h!r}")
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise QuestsInputError(f"bandwidth must be finite and > 0 (Å^-1), got {h!r}; accepted range "
                               f"{MIN_BANDWIDTH:g} to {MAX_BANDWIDTH:g} Å^-1")
    if not ((values >= MIN_BANDWIDTH) & (values <= MAX_BANDWIDTH)).all():
        raise QuestsInputError(
            f"bandwidth must lie between {MIN_BANDWIDTH:g} and {MAX_BANDWIDTH:g} Å^-1, got {h!r}: narrower "
            "kernels make dH overflow, wider ones make all environments alike (the paper uses 0.015)"
        )
    return values, scalar


def check_bandwidth(value, name: str = "bandwidth") -> float:
    """One kernel bandwidth in Å^-1: a number within [MIN_BANDWIDTH, MAX_BANDWIDTH]
    (:class:`~lammps_quests.errors.OptionError` otherwise)."""
    number = check_number(value, name, "Å^-1", "0.015")
    if not MIN_BANDWIDTH <= number <= MAX_BANDWIDTH:
        raise OptionError(
            f"{name} must lie between {MIN_BANDWIDTH:g} and {MAX_BANDWIDTH:g} Å^-1, got {number!r}: narrower "
            "kernels make dH overflow, wider ones make all environments alike (the paper uses 0.015)")
    return number


def check_fast(value, name: str = "fast") -> float:
    """The fast dH's tolerance in nats, 0 < fast < 1 (the fast dH lies at most this far above
    the exact dH); :class:`~lammps_quests.errors.OptionError` otherwise. The one check of the
    tolerance, for the fix keyword, the ASE monitor, the OVITO modifier, the CLI and the kernel."""
    number = check_number(value, name, "nats", "1e-6")
    if not 0.0 < number < 1.0:
        raise OptionError(f"{name} must be a number of nats between 0 and 1 (exclusive), the largest excess "
                          f"over the exact dH, e.g. 1e-6; got {number!r}")
    return number


def check_number(value, name: str, unit: str, example: str) -> float:
    """``value`` as a finite float; :class:`~lammps_quests.errors.OptionError` naming ``name``,
    its ``unit`` and an ``example`` otherwise."""
    if isinstance(value, bool):
        raise OptionError(f"{name} must be a number in {unit}, e.g. {example}; got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{name} must be a number in {unit}, e.g. {example}; got {value!r}") from None
    if not np.isfinite(number):
        raise OptionError(f"{name} must be a finite number in {unit}, e.g. {example}; got {value!r}")
    return number


def check_descriptors(X, name: str = "X") -> np.ndarray:
    """Return descriptors as a C-contiguous (n, d) float64 array; n >= 1, finite values."""
    array = np.ascontiguousarray(X, dtype=np.float64)
    if array.ndim != 2:
        raise QuestsInputError(f"{name} must be a 2-d array (environments x descriptor width), got {array.ndim}-d")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise QuestsInputError(f"{name} is empty (shape {array.shape}): give at least one environment")
    if not _all_finite(array):
        raise QuestsInputError(f"{name} contains NaN or inf; recompute the descriptors from finite positions")
    return array


_FINITE_CHUNK = 65536  # rows per finiteness check: a 4 MiB mask at width 63, not one as large as X


def _all_finite(array: np.ndarray) -> bool:
    """True when every value is finite, checked a block of rows at a time (a whole-array mask
    of a memory-mapped reference would be private memory of every process the size of X / 8)."""
    return all(np.isfinite(array[s:s + _FINITE_CHUNK]).all() for s in range(0, len(array), _FINITE_CHUNK))


def check_same_width(Y: np.ndarray, X: np.ndarray) -> None:
    """Descriptors compared with each other must come from the same k (width 2k - 1)."""
    if Y.shape[1] != X.shape[1]:
        raise QuestsInputError(
            f"descriptor widths differ: Y has {Y.shape[1]} columns and X has {X.shape[1]}; "
            "compute both with the same k (width 2k - 1)"
        )
