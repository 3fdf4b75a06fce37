"""dH (nats) against one reference, the one way every route computes it.

A :class:`ReferenceDh` binds a reference to a bandwidth and a mode (exact, or the fast index
with a tolerance and optional decision thresholds) once, and then gives, for any atoms,

* their descriptors with the reference's k, cutoff (Å) and, for a species-aware reference, its
  ordered elements (:meth:`ReferenceDh.descriptors`, :meth:`ReferenceDh.descriptors_from_points`);
* their dH against the reference (:meth:`ReferenceDh.__call__`), each atom compared with the
  reference rows centred on its own element when the reference is species-aware.

A species-agnostic reference is the one-species case: labels are ignored (may be None) and the
numbers are the plain QUESTS ones, bit for bit. The fix (plugin and python/invoke), the ASE
monitor, ``lammps-quests dh`` and the saver all go through this class, so their numbers agree.
"""

from __future__ import annotations

import numpy as np

from lammps_quests.core._descriptors import descriptors, descriptors_from_points, species_labels
from lammps_quests.core._information import delta_entropy, delta_entropy_fast, prepare_reference
from lammps_quests.core._species import species_numbers
from lammps_quests.core._validation import check_bandwidth, check_fast
from lammps_quests.errors import OptionError


class ReferenceDh:
    """dH (nats) of descriptors against ``reference`` at one bandwidth, exact or fast.

    Args:
        reference: a :class:`lammps_quests.formats.Reference` (checked by the caller
            against the expected k and cutoff; kept as given, a memory map stays mapped). Its
            descriptors are validated once, here, not at every call.
        bandwidth: Å^-1; None takes the reference's.
        fast: None for the exact dH; else the tolerance in nats of the reference's fast index:
            every value lies at most ``fast`` nats above the exact dH.
        decide: with ``fast``, certify only the decisions dH > t for t in ``thresholds``: with
            t0 the smallest, a value > t0 is within ``fast`` of the exact dH and a value <= t0
            only an upper bound (exact dH <= t0); see :meth:`bound_mask`.
        thresholds: nats, the t of ``decide`` (default: 0, the theory's boundary).
        fast_index: the loaded index, or None to read ``<reference>.qidx`` (refused if stale).
    """

    def __init__(self, reference, bandwidth: float | None = None, *, fast: float | None = None,
                 decide: bool = False, thresholds=(0.0,), fast_index=None):
        self.reference = reference
        self.bandwidth = check_bandwidth(reference.bandwidth if bandwidth is None else bandwidth)
        # the reference is checked here, once (finite, 2-d, float64): every evaluation then
        # checks only its own rows Y, not the whole (memory-mapped) reference again
        self._X = prepare_reference(reference.descriptors)
        self.fast = None if fast is None else check_fast(fast)
        if decide and self.fast is None:
            raise OptionError("decide only applies with fast (a tolerance in nats, e.g. fast 1e-6 decide); "
                              "give fast too")
        self.decide = bool(decide)
        self.thresholds = [float(t) for t in np.atleast_1d(thresholds)] if self.decide else None
        self.fast_index = None
        if self.fast is not None:
            self.fast_index = fast_index if fast_index is not None else self._load_index()

    # ---- what the reference is --------------------------------------------------------------

    @property
    def elements(self) -> tuple[str, ...] | None:
        """Ordered element symbols of a species-aware reference; None for a species-agnostic one."""
        return tuple(self.reference.elements) if self.reference.species_aware else None

    @property
    def k(self) -> int:
        return int(self.reference.k)

    @property
    def cutoff(self) -> float:
        """Descriptor cutoff, Å."""
        return float(self.reference.cutoff)

    def labels(self, symbols) -> np.ndarray | None:
        """Species number (index in :attr:`elements`) of each per-atom chemical symbol; None
        when agnostic. An element the reference lacks is a ValueError naming it."""
        return None if self.elements is None else species_numbers(symbols, self.elements)

    # ---- descriptors ------------------------------------------------------------------------

    def descriptors(self, frames, rows=None) -> tuple[np.ndarray, np.ndarray | None]:
        """(descriptors in Å^-1, species labels or None) of all atoms of ASE frames (or anything
        with positions, cell, pbc and, when species-aware, get_chemical_symbols())."""
        X = descriptors(frames, self.k, self.cutoff, rows=rows, elements=self.elements)
        return X, None if self.elements is None else species_labels(frames, self.elements, rows)

    def descriptors_from_points(self, centers, points, self_index, point_labels=None) -> np.ndarray:
        """Descriptors (Å^-1) of ``centers`` with every candidate neighbour in ``points`` (Å);
        ``point_labels``: species number of every point (species-aware references only)."""
        if self.elements is None:
            return descriptors_from_points(centers, points, self_index, self.k, self.cutoff)
        if point_labels is None:
            raise ValueError("a species-aware reference needs the species of every point")
        return descriptors_from_points(centers, points, self_index, self.k, self.cutoff,
                                       labels=point_labels, n_species=len(self.elements))

    # ---- what the values are ----------------------------------------------------------------

    @property
    def bound_threshold(self) -> float | None:
        """t0 (nats) in decide mode: values at or below it are upper bounds only; else None."""
        return None if self.fast_index is None else bound_threshold(self.thresholds)

    def bound_mask(self, dh) -> np.ndarray | None:
        """Per value of ``dh`` (nats, from this object): True where it is only an upper bound
        of the exact dH (decide mode, value <= t0: exact dH <= t0 is certified), False where it
        is within ``fast`` of exact (or exact); None when no value can be a bound."""
        return None if self.fast_index is None else bound_mask(dh, self.thresholds)

    def values_note(self) -> str:
        """What the values are, in words (the ``dH_values`` info of saved and written files)."""
        return values_note(self.fast if self.fast_index is not None else None, self.thresholds)

    # ---- dH ---------------------------------------------------------------------------------

    def __call__(self, Y, labels=None, *, stats: dict | None = None) -> np.ndarray:
        """dH (nats) of every row of ``Y`` (descriptors from this object); ``labels``: the centre
        species of each row (species-aware references), ignored otherwise. ``stats``: with the
        fast index, a dict receiving its counters (kernel terms evaluated as "pairs", ...)."""
        reference = self.reference
        if self.elements is not None and labels is None:
            raise ValueError("a species-aware reference needs the centre species of every row")
        labels = None if self.elements is None else labels
        if self.fast_index is not None:
            return delta_entropy_fast(Y, self.fast_index, self.bandwidth, self.fast, self.thresholds, stats,
                                      labels=labels, elements=self.elements)
        if labels is None:
            return delta_entropy(Y, self._X, self.bandwidth)
        return delta_entropy(Y, self._X, self.bandwidth, y_labels=labels,
                             x_labels=reference.species_labels, elements=self.elements)

    def _load_index(self):
        from lammps_quests.formats._fast_index import load_fast_index

        return load_fast_index(self.reference)


def bound_threshold(thresholds) -> float | None:
    """t0 = the smallest decision threshold (nats), or None without thresholds: in decide mode
    a value <= t0 is an upper bound certifying exact dH <= t0, a value > t0 within the
    tolerance of exact (:func:`lammps_quests.core._pruned_sums.pruned_log_kernel_sums`)."""
    return None if thresholds is None or len(thresholds) == 0 else float(min(thresholds))


def bound_mask(dh, thresholds) -> np.ndarray | None:
    """True where a fast dH value (nats) from decide mode with ``thresholds`` is only
    an upper bound (value <= t0); None without thresholds (no value is a bound)."""
    t0 = bound_threshold(thresholds)
    return None if t0 is None else np.asarray(dh, dtype=np.float64) <= t0


def values_note(fast, thresholds) -> str:
    """What dH values of a mode are, in words: exact (``fast`` None), within ``fast`` nats of
    exact, or in decide mode (``thresholds`` given) within it above t0 and an upper bound at or
    below."""
    if fast is None:
        return "exact"
    within = f"within {fast:g} nats above exact"
    t0 = bound_threshold(thresholds)
    if t0 is None:
        return within
    return f"{within} where dH > {t0:g}, upper bound where dH <= {t0:g} (dH_bound = 1)"
