"""What ``fix quests`` does, on the Python side: one :class:`FixSession` per fix.

The C++ fix keeps the per-atom storage, the MPI reductions and LAMMPS's error and halt
mechanisms; everything else happens here, through the module functions the plugin calls
(:func:`open_fix`, :func:`evaluate`, :func:`finish`, :func:`report`, :func:`close_fix`):

1. ``open_fix`` parses the fix's keywords (:mod:`.keywords`), loads and checks the reference
   once, and returns what the C++ side needs (k, cutoff in Å, bandwidth in Å^-1, the reduction
   of each partial statistic, a log line).
2. ``evaluate`` computes dH (nats) of this rank's owned atoms and returns local partial
   statistics; the C++ side reduces them over ranks (``max`` or ``sum`` per entry).
3. ``finish`` runs on every rank with the same reduced statistics, so every decision (save a
   frame, halt) is identical everywhere; saving gathers through LAMMPS's own collectives.

The python/invoke route (no plugin) drives the same session with reductions through LAMMPS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lammps_quests.core.information import delta_entropy
from lammps_quests.core.validation import check_bandwidths
from lammps_quests.active.extension import cached_entropy
from lammps_quests.active.saving import Saver, describe_saved
from lammps_quests.active.threshold import cached_self_information, describe, self_information
from lammps_quests.lammps.fix import (as_lammps, evaluate as evaluate_atoms, gather_frame,
                                      lammps_type_elements, load_reference, local_descriptors,
                                      species_of_types)
from lammps_quests.lammps.keywords import FixOptions, parse_keywords

#: one letter per partial statistic: m = maximum over ranks, s = sum over ranks
REDUCTIONS = "mssss"  # max dH, sum dH, atoms in the group, atoms with dH > threshold, new atoms
#: names of the global vector f_ID[1..5]
GLOBAL_VECTOR = ("max dH", "mean dH", "fraction above threshold", "count above threshold",
                 "count new")

#: leave-one-out rows computed at setup when the reference has no cached distribution
SETUP_SAMPLE_ROWS = 2000

_sessions: dict[tuple[int, str], "FixSession"] = {}


@dataclass
class Statistics:
    """Reduced statistics of one evaluation (nats; counts over all ranks)."""

    max_dh: float
    sum_dh: float
    atoms: float
    above: float
    new: float = 0.0  # atoms with dH against reference ∪ saved > the save threshold

    @property
    def values(self) -> list[float]:
        """The global vector: max dH, mean dH, fraction and count with dH > threshold, and
        the count of new atoms (what ``save`` would save; 0 without save)."""
        if self.atoms == 0:
            return [0.0] * len(GLOBAL_VECTOR)
        return [self.max_dh, self.sum_dh / self.atoms, self.above / self.atoms, self.above, self.new]


@dataclass
class Outcome:
    """What the C++ side does after an evaluation: store values, log, warn, halt."""

    values: list[float]
    halt: int = 0  # 0: go on, 1: end the run (soft), 2: error (hard)
    log: str = ""
    warning: str = ""
    error: str = ""  # halt = 2: the halt message, printed alone as the ERROR line after log


class FixSession:
    """State of one ``fix quests``: options, reference, and what was done so far."""

    def __init__(self, fix_id: str, group: str, reference_path: str, options: FixOptions):
        self.fix_id = fix_id
        self.group = group
        self.reference_path = reference_path
        self.options = options
        self.reference = load_reference(reference_path)
        self.reference.check(k=options.k, cutoff=options.cutoff, by="the fix")
        h = self.reference.bandwidth if options.bandwidth is None else options.bandwidth
        check_bandwidths(h)
        self.bandwidth = float(h)
        #: the per-atom quantity holding dH in LAMMPS, which saving gathers: the fix's vector,
        #: or a ``d_NAME`` of fix property/atom on the python/invoke route
        self.per_atom = f"f_{fix_id}"
        #: this rank's owned atoms that the last evaluation found new (what save would save)
        self.new_flags = np.zeros(0, dtype=bool)
        self.last_saved_step: int | None = None
        self.warned_empty = False
        self.saver = self._saver(options)
        self._descriptors = None  # group atoms' descriptors of the last evaluation (de-duplication)
        self.group_bit = 1  # bit of group all until the first evaluation names the fix's group
        self.type_species = None  # species number of each atom type (species-aware references)
        self.type_symbols = None  # element of each atom type, when known
        self.fast = self._fast(options)

    def _saver(self, options: FixOptions) -> Saver | None:
        """What decides and remembers saves (None without the save keyword)."""
        if options.save_threshold is None:
            return None
        if self.reference.species_aware:
            if options.save_cut is not None:
                raise ValueError("save ... cut needs a species-agnostic reference (cut-outs and "
                                 "de-duplication compare species-agnostic descriptors); drop cut "
                                 "or build the reference without --species")
            options.save_every = True  # de-duplication needs species-agnostic descriptors
        return Saver(self.reference, self.bandwidth, options.save_threshold, cut_radius=options.save_cut,
                     deduplicate=not options.save_every,
                     reference_entropy=cached_entropy(self.reference, self.bandwidth))

    def check_save(self, rank: int) -> str:
        """Check the save file at setup (every rank reads it, rank 0 repairs a cut tail) and
        seed the de-duplication with the earlier saves in it; returns the log text."""
        if self.saver is None:
            return ""
        from lammps_quests.active.save_target import check_save_target

        target = check_save_target(self.options.save_path, self.reference, repair=rank == 0)
        seeded = target.seed(self.saver) if self.options.save_seed else None
        return target.log(f"fix quests {self.fix_id}", seeded)

    def _fast(self, options: FixOptions):
        """dH of descriptors from the reference's fast index (``fast`` keyword), or None."""
        if options.fast_tol is None:
            return None
        from lammps_quests.core.information import delta_entropy_fast
        from lammps_quests.formats.fast_index import load_fast_index

        if self.reference.species_aware:
            raise ValueError("fast needs a species-agnostic reference (the fast index clusters "
                             "species-agnostic descriptors); drop fast or build the reference "
                             "without --species")
        index = load_fast_index(self.reference)  # stale or missing: a ValueError naming the fix
        thresholds = None
        if options.fast_decide:
            thresholds = [options.threshold]
            thresholds += [options.halt_threshold] if options.halt_mode is not None else []
            thresholds += [options.save_threshold] if options.save_threshold is not None else []
        tol, h = options.fast_tol, self.bandwidth
        return lambda Y: delta_entropy_fast(Y, index, h, tol=tol, threshold=thresholds)

    def map_types(self, lmp) -> None:
        """Element and reference species of each atom type, checked once: from the elements
        keyword at fix creation, else from the type masses at the first evaluation (setup)."""
        if self.reference.species_aware:
            self.type_species = species_of_types(lmp, self.reference, self.options.elements,
                                                 by=f"fix {self.fix_id}'s atom types")
        if self.options.elements is not None or self.reference.species_aware:
            self.type_symbols = lammps_type_elements(lmp, self.options.elements)

    def setup_log(self) -> str:
        r = self.reference
        species = (f", species-aware ({' '.join(r.species)})" if r.species_aware
                   else ", species-agnostic")
        return (
            f"fix quests {self.fix_id}: reference {self.reference_path} with {r.n_environments} "
            f"environments, k = {r.k}, cutoff = {r.cutoff:.6g} Angstrom, bandwidth = "
            f"{self.bandwidth:.6g} 1/Angstrom{species}\n" + self._fast_log()
        )

    def _fast_log(self) -> str:
        o = self.options
        if o.fast_tol is None:
            return ""
        from lammps_quests.formats.fast_index import index_path

        what = ("decisions dH > threshold/halt/save certified, dH values are upper bounds"
                if o.fast_decide else f"dH at most {o.fast_tol:g} nats above the exact value")
        return f"fix quests {self.fix_id}: fast dH from {index_path(self.reference_path)} ({what})\n"

    def threshold_log(self) -> str:
        """The reference's leave-one-out dH distribution (header cache, else a sample)."""
        if self.reference.species_aware:
            return ""
        info = cached_self_information(self.reference, self.bandwidth)
        if info is None:  # bounded cost: SETUP_SAMPLE_ROWS x n kernel pairs
            info = self_information(self.reference.descriptors, self.bandwidth,
                                    max_rows=SETUP_SAMPLE_ROWS, sample_rows=SETUP_SAMPLE_ROWS)
        return describe(info, indent=f"fix quests {self.fix_id}: ") + "\n"

    def evaluate(self, lmp, group_bit: int, num_threads: int | None, *, fix_id=None,
                 property=None) -> list[float]:
        """dH of this rank's owned group atoms, stored in LAMMPS; return local partials."""
        if self.reference.species_aware and self.type_species is None:
            self.map_types(lmp)
        self.group_bit = int(group_bit)
        dh = evaluate_atoms(lmp, self.reference, fix_id, group_bit=group_bit, bandwidth=self.bandwidth,
                            property=property, num_threads=num_threads, type_species=self.type_species,
                            dh_function=self._dh_function())
        mask = as_lammps(lmp).numpy.extract_atom("mask", nelem=len(dh))
        values = dh[(np.asarray(mask[: len(dh)]) & group_bit) != 0] if len(dh) else dh
        if len(values) == 0:
            return [-math.inf, 0.0, 0.0, 0.0, 0.0]
        return [float(values.max()), float(values.sum()), float(len(values)),
                float(np.count_nonzero(values > self.options.threshold)),
                float(self._count_new(lmp, dh, mask, group_bit))]

    def _dh_function(self):
        """dH from the group atoms' descriptors; with de-duplicated saves it also keeps the
        descriptors, so the new-atom count needs no second descriptor pass."""
        self._descriptors = None
        if self.saver is None or not self.saver.deduplicate:
            return self.fast
        inner = self.fast or (lambda Y: delta_entropy(Y, self.reference.descriptors, self.bandwidth))

        def keep_descriptors(Y):
            self._descriptors = Y
            return inner(Y)

        return keep_descriptors

    def _count_new(self, lmp, dh, mask, group_bit: int) -> int:
        """This rank's group atoms with dH against reference ∪ saved > the save threshold
        (flagged per owned atom in :attr:`new_flags`)."""
        self.new_flags = np.zeros(len(dh), dtype=bool)
        if self.saver is None:
            return 0
        group_rows = np.flatnonzero((np.asarray(mask[: len(dh)]) & group_bit) != 0)
        above = dh[group_rows] > self.saver.threshold
        rows = group_rows[above]
        if len(rows) and self.saver.deduplicate:
            Y = self._descriptors  # rows of the group atoms, in order, from this evaluation
            if Y is not None and len(Y) == len(group_rows):
                Y = Y[above]
            else:
                Y = local_descriptors(lmp, rows, self.reference.k, self.reference.cutoff)
            rows = rows[self.saver.new_mask(Y, dh[rows])]
        self.new_flags[rows] = True
        return len(rows)

    def finish(self, lmp, step: int, reduced) -> Outcome:
        """Act on the reduced statistics (same on every rank): save and halt decisions."""
        stats = Statistics(*(float(v) for v in reduced[:len(REDUCTIONS)]))
        outcome = Outcome(values=stats.values)
        if stats.atoms == 0:
            if not self.warned_empty:
                self.warned_empty = True
                outcome.warning = (
                    f"Fix quests {self.fix_id}: group '{self.group}' has no atoms at step {step}; "
                    "f_ID stays 0 until atoms join it"
                )
            return outcome
        self._save(lmp, step, stats, outcome)
        self._halt(step, stats, outcome)
        if outcome.halt == 2:  # the run ends with the error: report what was saved before it
            outcome.log += self.report(int(as_lammps(lmp).extract_setting("world_rank")))
        return outcome

    def _save(self, lmp, step: int, stats: Statistics, outcome: Outcome) -> None:
        """Collective: every rank gathers the frame and takes the same decisions from it."""
        o, saver = self.options, self.saver
        if saver is None:
            return
        # `every` saves a step once even if it is evaluated again (end of one run, start of
        # the next); de-duplication needs no such guard: a re-evaluated frame has nothing new
        if o.save_every and self.last_saved_step == step:
            return
        trigger = stats.max_dh > o.save_threshold if o.save_every else stats.new > 0
        if not trigger:
            return
        frame, dh = gather_frame(lmp, self.fix_id, step, self.type_symbols, with_mask=True,
                                 per_atom=self.per_atom)
        in_group = (frame.columns.pop("mask") & self.group_bit) != 0
        frame.info["source"] = f"fix_quests_{self.fix_id}"
        structures = saver.structures(frame, dh, eligible=in_group)
        self.last_saved_step = step
        if as_lammps(lmp).extract_setting("world_rank") == 0:
            for structure in structures:
                structure.write(o.save_path)
        if not structures:
            return
        kind = "frame" if o.save_cut is None else f"cut-out(s) of R = {o.save_cut:g} Angstrom"
        new = sum(int(s.columns["new"].sum()) for s in structures)
        outcome.log += (
            f"fix quests {self.fix_id}: step {step} max dH {stats.max_dh:.6g} > {o.save_threshold:.6g}, "
            f"{len(structures)} {kind} with {new} new atom(s) appended to {o.save_path}\n"
        )

    def _halt(self, step: int, stats: Statistics, outcome: Outcome) -> None:
        o = self.options
        if o.halt_mode is None or not stats.max_dh > o.halt_threshold:
            return
        summary = (
            f"max dH = {stats.max_dh:.6g} nats > halt threshold {o.halt_threshold:.6g} at step {step}; "
            f"{int(stats.above)} atoms with dH > {o.threshold:.6g}"
        )
        if o.halt_mode == "hard":
            outcome.halt, outcome.error = 2, summary
        else:
            outcome.halt = 1
            outcome.log += f"fix quests {self.fix_id}: {summary}, stopping the run (halt soft)\n"

    def report(self, rank: int = 0) -> str:
        """End-of-run log text (empty when there is nothing to report; rank 0 only)."""
        if self.saver is None or rank != 0:
            return ""
        return saved_report(f"fix quests {self.fix_id}", self.saver, self.options.save_path)


def saved_report(prefix: str, saver: Saver, path) -> str:
    """Structures, atoms and new environments saved, and the entropy they add (nats)."""
    gain = saver.entropy_gain() if saver.counts.new else None
    return describe_saved(prefix, saver.counts, gain, saver.bandwidth, path) + "\n"


def _key(lmp, fix_id: str) -> tuple[int, str]:
    return (id(as_lammps(lmp)), str(fix_id))


def session(lmp, fix_id: str) -> FixSession:
    """The session of fix ``fix_id`` in this LAMMPS instance (KeyError if not opened)."""
    return _sessions[_key(lmp, fix_id)]


# ---- the calls the C++ fix makes (through src/python_bridge.cpp) -------------------------------

def open_fix(lmp, fix_id: str, group: str, reference_path: str, words) -> tuple:
    """Create the session; return (k, cutoff Å, bandwidth Å^-1, reductions, global vector
    length, log line)."""
    fix_session = FixSession(str(fix_id), str(group), str(reference_path), parse_keywords(words))
    if fix_session.options.elements is not None:
        fix_session.map_types(lmp)
    rank = int(as_lammps(lmp).extract_setting("world_rank"))
    save_log = fix_session.check_save(rank)
    _sessions[_key(lmp, fix_id)] = fix_session
    r = fix_session.reference
    log = fix_session.setup_log()
    if rank == 0:  # only rank 0's log is printed
        log += fix_session.threshold_log()
    log += save_log
    return (int(r.k), float(r.cutoff), fix_session.bandwidth, REDUCTIONS, len(GLOBAL_VECTOR), log)


def evaluate(lmp, fix_id: str, group_bit: int, num_threads: int, step: int) -> list[float]:
    """Evaluate dH into the fix's per-atom vector; return this rank's partial statistics."""
    return session(lmp, fix_id).evaluate(lmp, int(group_bit), int(num_threads), fix_id=str(fix_id))


def finish(lmp, fix_id: str, step: int, reduced) -> tuple:
    """Decide on the reduced statistics; return (global vector, halt 0/1/2, log, warning,
    error: the hard halt's message, printed alone after the log)."""
    outcome = session(lmp, fix_id).finish(lmp, int(step), list(reduced))
    return ([float(v) for v in outcome.values], int(outcome.halt), outcome.log, outcome.warning,
            outcome.error)


def report(lmp, fix_id: str) -> str:
    """End-of-run log text of the fix (rank 0 computes it; the C++ side prints rank 0's)."""
    return session(lmp, fix_id).report(int(as_lammps(lmp).extract_setting("world_rank")))


def close_fix(lmp, fix_id: str) -> None:
    """Forget the session when LAMMPS deletes the fix."""
    _sessions.pop(_key(lmp, fix_id), None)
