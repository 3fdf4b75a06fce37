"""The one monitor core: what ``fix quests`` (plugin), its python/invoke route and the ASE
:class:`~lammps_quests.ase.QuestsMonitor` do with per-atom dH, without LAMMPS or ASE.

A :class:`Monitor` checks the reference once (k, cutoff in Å, species, bandwidth in Å^-1),
computes dH through the one :class:`~lammps_quests.dh.ReferenceDh` (exact, or the fast index
with ``fast`` and ``decide``), and holds the statistics, the threshold, halt and save decisions
and the :class:`~lammps_quests.active.Saver`. The routes only move data:
positions in, dH and the five statistics out, frames to the saver.

The five statistics have one definition here (:data:`QUANTITIES`): the plugin's global vector
``f_ID[1..5]``, the python/invoke route's ``v_ID_max/mean/fraction/count/new`` and the ASE
monitor's :class:`Evaluation` fields are the same values in the same order. They come from five
partial values per MPI rank (:data:`PARTIALS`), each reduced over ranks by ``max`` or ``sum``
(:data:`REDUCTIONS`, the string the C++ fix reads).

Species-aware references work with every option: each atom is compared with the reference
(and saved) environments centred on its own element.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from lammps_quests.errors import QuestsInputError
from lammps_quests.dh._reference_dh import ReferenceDh
from lammps_quests.core._validation import check_bandwidth

from lammps_quests.active._extension import cached_entropy
from lammps_quests.active._saving import Saver, describe_saved
from lammps_quests.active._structure import Structure

from ._options import MonitorOptions


@dataclass(frozen=True)
class Quantity:
    """One of the five statistics every route reports."""

    index: int  # position in the plugin's global vector f_ID[index] (1-based)
    suffix: str  # python/invoke variable v_ID_<suffix>
    field: str  # attribute of Statistics and Evaluation
    name: str  # short name in logs and documentation
    meaning: str


#: the five statistics of an evaluation, in the order of f_ID[1..5]
QUANTITIES = (
    Quantity(1, "max", "max_dh", "max dH", "max dH (nats) over the group's atoms"),
    Quantity(2, "mean", "mean_dh", "mean dH", "mean dH (nats) over the group's atoms"),
    Quantity(3, "fraction", "fraction_above", "fraction above threshold",
             "fraction of the group's atoms with dH > threshold"),
    Quantity(4, "count", "count_above", "count above threshold",
             "number of the group's atoms with dH > threshold"),
    Quantity(5, "new", "new", "count new",
             "number of new atoms: dH against reference ∪ saved > the save threshold, and against"
             " the saved environments alone > 0 (with save ... every: dH > the save threshold;"
             " 0 without save)"),
)


@dataclass(frozen=True)
class Partial:
    """A per-rank partial value and how ranks combine it."""

    name: str
    reduction: str  # "max" or "sum"


#: what each rank computes from its own atoms, and how ranks combine it
PARTIALS = (
    Partial("max_dh", "max"),
    Partial("sum_dh", "sum"),
    Partial("atoms", "sum"),
    Partial("above", "sum"),
    Partial("new", "sum"),
)
#: one letter per partial for the C++ fix: m = maximum over ranks, s = sum over ranks
REDUCTIONS = "".join(p.reduction[0] for p in PARTIALS)


@dataclass
class Statistics:
    """Partial (one rank) or reduced (all ranks) statistics of one evaluation (nats, counts)."""

    max_dh: float = -math.inf
    sum_dh: float = 0.0
    atoms: float = 0.0
    above: float = 0.0
    new: float = 0.0

    @classmethod
    def of(cls, dh, threshold: float, new: int = 0) -> Statistics:
        """Partials of the dH values (nats) of some atoms; ``new``: how many of them are new."""
        dh = np.asarray(dh, dtype=np.float64)
        if len(dh) == 0:
            return cls()
        return cls(float(dh.max()), float(dh.sum()), float(len(dh)),
                   float(np.count_nonzero(dh > threshold)), float(new))

    @classmethod
    def from_partials(cls, partials) -> Statistics:
        """From a sequence in :data:`PARTIALS` order (e.g. reduced by the C++ fix)."""
        return cls(*(float(v) for v in list(partials)[: len(PARTIALS)]))

    @classmethod
    def reduce(cls, parts) -> Statistics:
        """Combine ranks' partials by each one's reduction (max or sum)."""
        parts = list(parts)
        combine = {"max": max, "sum": sum}
        return cls(**{p.name: combine[p.reduction](getattr(s, p.name) for s in parts) for p in PARTIALS})

    @property
    def partials(self) -> list[float]:
        """The five partial values in :data:`PARTIALS` order (what ranks reduce)."""
        return [float(getattr(self, p.name)) for p in PARTIALS]

    def quantities(self) -> dict:
        """The five statistics by field name (all 0 when there are no atoms)."""
        if self.atoms == 0:
            return {q.field: 0.0 for q in QUANTITIES}
        return {"max_dh": self.max_dh, "mean_dh": self.sum_dh / self.atoms,
                "fraction_above": self.above / self.atoms, "count_above": self.above, "new": self.new}

    @property
    def values(self) -> list[float]:
        """The five statistics in :data:`QUANTITIES` order (the plugin's global vector)."""
        quantities = self.quantities()
        return [float(quantities[q.field]) for q in QUANTITIES]


@dataclass(frozen=True)
class Evaluation:
    """One evaluation as the ASE monitor records it: the step, the five statistics
    (:data:`QUANTITIES`: max_dh, mean_dh in nats; fraction_above, count_above; new), the
    structures saved and the wall time in seconds."""

    step: int
    max_dh: float
    mean_dh: float
    fraction_above: float
    count_above: int
    saved: int
    new: int
    seconds: float

    @classmethod
    def of(cls, step: int, stats: Statistics, saved: int, seconds: float) -> Evaluation:
        """The record of an evaluation at ``step`` with reduced ``stats``."""
        q = stats.quantities()
        ints = {"count_above", "new"}
        return cls(step=int(step), saved=int(saved), seconds=float(seconds),
                   **{name: int(v) if name in ints else float(v) for name, v in q.items()})

    def as_dict(self) -> dict:
        return asdict(self)


class Monitor:
    """The state one monitor keeps: reference, dH, statistics, save and halt decisions.

    Args:
        reference: a :class:`lammps_quests.formats.Reference`.
        options: :class:`~lammps_quests.monitor.MonitorOptions` (validated when made).
        by: who asks, for error messages (e.g. "fix quests q", "the monitor").
        symbols: chemical symbols of the atoms that will be evaluated, checked now when known.
        remedy: how the caller's user fixes an element the reference lacks (default: map the
            atom types, as in LAMMPS).

    Raises a :class:`~lammps_quests.errors.QuestsInputError` at setup naming what does not fit
    the reference: k, cutoff, an element it lacks, a cut radius below the cutoff, a missing or
    stale fast index.
    """

    def __init__(self, reference, options: MonitorOptions, *, by: str = "the monitor", symbols=None,
                 remedy: str | None = None):
        self.reference = reference
        self.options = options
        self.remedy = remedy  # the fix for an element the reference lacks, in the caller's terms
        reference.check(k=options.k, cutoff=options.cutoff, symbols=symbols, by=by, **self._remedy())
        bandwidth = reference.bandwidth if options.bandwidth is None else options.bandwidth
        self.bandwidth = check_bandwidth(bandwidth)
        self.dh = ReferenceDh(reference, self.bandwidth, fast=options.fast, decide=options.decide,
                              thresholds=options.decisions)
        self.saver = self._saver()
        self.last_saved_step: int | None = None

    # ---- set-up -----------------------------------------------------------------------------

    def _saver(self) -> Saver | None:
        s = self.options
        if s.save_threshold is None:
            return None
        entropy = None if self.dh.elements is not None else cached_entropy(self.reference, self.bandwidth)
        return Saver(self.reference, self.bandwidth, s.save_threshold, cut_radius=s.save_cut,
                     deduplicate=s.deduplicate, reference_entropy=entropy, values=self.dh)

    def check_species(self, symbols, by: str) -> None:
        """Refuse elements the reference holds no environments centred on (species-aware)."""
        self.reference.check(symbols=list(symbols), by=by, **self._remedy())

    def _remedy(self) -> dict:
        return {} if self.remedy is None else {"remedy": self.remedy}

    def describe_reference(self, prefix: str, path, fast_index_path=None) -> str:
        """Set-up log lines: the reference (at ``path``), its settings and the mode (exact, or
        fast from the index at ``fast_index_path``)."""
        r = self.reference
        species = (f", species-aware ({' '.join(r.elements)})" if r.species_aware else ", species-agnostic")
        text = (f"{prefix}: reference {path} with {r.n_environments} environments, k = {r.k}, cutoff = "
                f"{r.cutoff:.6g} Angstrom, bandwidth = {self.bandwidth:.6g} 1/Angstrom{species}\n")
        s = self.options
        if s.fast is not None:
            t0 = self.dh.bound_threshold
            what = (f"decisions dH > threshold/halt/save certified; a dH above {t0:g} is at most "
                    f"{s.fast:g} nats above the exact value, a dH at or below {t0:g} an upper bound"
                    if s.decide else f"dH at most {s.fast:g} nats above the exact value")
            text += f"{prefix}: fast dH from {fast_index_path or 'the reference index'} ({what})\n"
        if self.saver is not None and r.species_aware:
            text += (f"{prefix}: save with a species-aware reference: an atom is new when its dH "
                     "against the reference and saved environments centred on its own element "
                     f"exceeds {s.save_threshold:g} nats and those saved environments do not "
                     "already cover it\n")
        return text

    # ---- one evaluation ---------------------------------------------------------------------

    def delta_entropy(self, Y, labels=None) -> np.ndarray:
        """dH (nats) of descriptors ``Y`` (centre species ``labels``) against the reference."""
        return np.asarray(self.dh(Y, labels), dtype=np.float64)

    def new_mask(self, dh, Y=None, labels=None) -> np.ndarray:
        """Which atoms are new (dH in nats against the reference; their descriptors and labels
        needed when saves are de-duplicated). All False without save."""
        dh = np.asarray(dh, dtype=np.float64)
        if self.saver is None:
            return np.zeros(len(dh), dtype=bool)
        above = dh > self.saver.threshold
        if not self.saver.deduplicate or not above.any():
            return above
        if Y is None:
            raise QuestsInputError("de-duplicated saves need the descriptors of the evaluated atoms")
        return self.saver.new_mask(Y, dh, labels)

    def statistics(self, dh, new: int = 0) -> Statistics:
        """Partials of these atoms' dH (nats) and their count of new atoms."""
        return Statistics.of(dh, self.options.threshold, new)

    # ---- decisions on the reduced statistics (identical on every rank) -----------------------

    def should_save(self, stats: Statistics, step: int) -> bool:
        """Whether this evaluation gathers the frame for the saver."""
        s = self.options
        if self.saver is None or stats.atoms == 0:
            return False
        if not s.deduplicate:
            # a step evaluated twice (end of one run, start of the next) is saved once;
            # de-duplication needs no guard: a re-evaluated frame has nothing new, since an
            # environment the saved ones cover is never new (active.new_atoms, any threshold)
            return self.last_saved_step != step and stats.max_dh > s.save_threshold
        return stats.new > 0

    def save(self, frame: Structure, dh, step: int, eligible=None) -> list[Structure]:
        """The structures to save for ``frame`` (the saver remembers them); not written."""
        structures = self.saver.structures(frame, dh, eligible=eligible)
        self.last_saved_step = int(step)
        return structures

    def save_log(self, prefix: str, step: int, stats: Statistics, structures) -> str:
        """One log line on what :meth:`save` kept at ``step`` (empty if nothing)."""
        if not structures:
            return ""
        s = self.options
        kind = "frame" if s.save_cut is None else f"cut-out(s) of R = {s.save_cut:g} Angstrom"
        new = sum(int(piece.columns["new"].sum()) for piece in structures)
        return (f"{prefix}: step {step} max dH {stats.max_dh:.6g} > {s.save_threshold:.6g}, "
                f"{len(structures)} {kind} with {new} new atom(s) appended to {s.save_path}\n")

    def should_halt(self, stats: Statistics) -> bool:
        """Whether max dH (nats) passed the halt threshold."""
        t = self.options.halt_threshold
        return t is not None and stats.atoms > 0 and stats.max_dh > t

    def halt_summary(self, step: int, stats: Statistics) -> str:
        """Why the run halts: max dH, the threshold, the step and the atoms above threshold."""
        return (f"max dH = {stats.max_dh:.6g} nats > halt threshold {self.options.halt_threshold:.6g} "
                f"at step {step}; {int(stats.above)} atoms with dH > {self.options.threshold:.6g}")

    def report(self, prefix: str) -> str:
        """End-of-run line: what was saved and the entropy it adds (empty without save)."""
        if self.saver is None:
            return ""
        counts = self.saver.counts
        gain = self.saver.entropy_gain() if counts.new else None
        return describe_saved(prefix, counts, gain, self.bandwidth, self.options.save_path) + "\n"
