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
Everything that is not LAMMPS (the reference checks, dH, the five statistics and how ranks
reduce them, the save and halt decisions, the saver) is the monitor core
(:class:`lammps_quests.active.monitor.Monitor`), which the ASE monitor drives too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lammps_quests.active.monitor import QUANTITIES, REDUCTIONS, Monitor, MonitorSettings, Statistics
from lammps_quests.active.threshold import cached_self_information, describe, self_information
from lammps_quests.lammps.fix import (as_lammps, evaluate_environments, gather_frame, lammps_type_elements,
                                      load_reference, species_of_types)
from lammps_quests.lammps.keywords import FixOptions, parse_keywords

#: names of the global vector f_ID[1..5] (the monitor core's one table)
GLOBAL_VECTOR = tuple(q.name for q in QUANTITIES)

#: leave-one-out rows computed at setup when the reference has no cached distribution
SETUP_SAMPLE_ROWS = 2000

_sessions: dict[tuple[int, str], "FixSession"] = {}


def monitor_settings(options: FixOptions) -> MonitorSettings:
    """The monitor core's settings from the fix's keywords."""
    return MonitorSettings(
        bandwidth=options.bandwidth, threshold=options.threshold,
        halt_threshold=options.halt_threshold if options.halt_mode is not None else None,
        save_threshold=options.save_threshold, save_path=options.save_path,
        deduplicate=not options.save_every, save_cut=options.save_cut, k=options.k,
        cutoff=options.cutoff, fast_tol=options.fast_tol, fast_decide=options.fast_decide)


@dataclass
class Outcome:
    """What the C++ side does after an evaluation: store values, log, warn, halt."""

    values: list[float]
    halt: int = 0  # 0: go on, 1: end the run (soft), 2: error (hard)
    log: str = ""
    warning: str = ""
    error: str = ""  # halt = 2: the halt message, printed alone as the ERROR line after log


class FixSession:
    """State of one ``fix quests``: options, the monitor core, and LAMMPS's side of it."""

    def __init__(self, fix_id: str, group: str, reference_path: str, options: FixOptions):
        self.fix_id = fix_id
        self.group = group
        self.reference_path = reference_path
        self.options = options
        self.reference = load_reference(reference_path)
        self.prefix = f"fix quests {fix_id}"
        self.monitor = Monitor(self.reference, monitor_settings(options), by="the fix")
        self.bandwidth = self.monitor.bandwidth
        self.saver = self.monitor.saver
        #: the per-atom quantity holding dH in LAMMPS, which saving gathers: the fix's vector,
        #: or a ``d_NAME`` of fix property/atom on the python/invoke route
        self.per_atom = f"f_{fix_id}"
        #: this rank's owned atoms that the last evaluation found new (what save would save)
        self.new_flags = np.zeros(0, dtype=bool)
        self.warned_empty = False
        self.group_bit = 1  # bit of group all until the first evaluation names the fix's group
        self.type_species = None  # species number of each atom type (species-aware references)
        self.type_symbols = None  # element of each atom type, when known

    @property
    def last_saved_step(self) -> int | None:
        return self.monitor.last_saved_step

    def check_save(self, rank: int) -> str:
        """Check the save file at setup (every rank reads it, rank 0 repairs a cut tail) and
        seed the de-duplication with the earlier saves in it; returns the log text."""
        if self.saver is None:
            return ""
        from lammps_quests.active.save_target import check_save_target

        target = check_save_target(self.options.save_path, self.reference, repair=rank == 0)
        seeded = target.seed(self.saver) if self.options.save_seed else None
        return target.log(self.prefix, seeded)

    def map_types(self, lmp) -> None:
        """Element and reference species of each atom type, checked once: from the elements
        keyword at fix creation, else from the type masses at the first evaluation (setup).
        Saved structures carry these elements, so offline tools see each atom's species."""
        if self.reference.species_aware:
            self.type_species = species_of_types(lmp, self.reference, self.options.elements,
                                                 by=f"fix {self.fix_id}'s atom types")
        if self.options.elements is not None or self.reference.species_aware:
            self.type_symbols = lammps_type_elements(lmp, self.options.elements)

    def setup_log(self) -> str:
        index = None
        if self.options.fast_tol is not None:
            from lammps_quests.formats.fast_index import index_path

            index = index_path(self.reference_path)
        return self.monitor.describe_reference(self.prefix, self.reference_path, index)

    def threshold_log(self) -> str:
        """The reference's leave-one-out dH distribution (header cache, else a sample)."""
        if self.reference.species_aware:
            return ""
        info = cached_self_information(self.reference, self.bandwidth)
        if info is None:  # bounded cost: SETUP_SAMPLE_ROWS x n kernel pairs
            info = self_information(self.reference.descriptors, self.bandwidth,
                                    max_rows=SETUP_SAMPLE_ROWS, sample_rows=SETUP_SAMPLE_ROWS)
        return describe(info, indent=f"{self.prefix}: ") + "\n"

    def evaluate(self, lmp, group_bit: int, num_threads: int | None, *, fix_id=None,
                 property=None) -> list[float]:
        """dH of this rank's owned group atoms, stored in LAMMPS; return local partials."""
        if self.reference.species_aware and self.type_species is None:
            self.map_types(lmp)
        self.group_bit = int(group_bit)
        dh, rows, Y, labels = evaluate_environments(
            lmp, self.monitor.dh, fix_id, group_bit=group_bit, property=property,
            num_threads=num_threads, type_species=self.type_species)
        values = dh[rows]
        new = self.monitor.new_mask(values, Y, labels)
        self.new_flags = np.zeros(len(dh), dtype=bool)
        self.new_flags[rows[new]] = True
        return self.monitor.statistics(values, int(np.count_nonzero(new))).partials

    def finish(self, lmp, step: int, reduced) -> Outcome:
        """Act on the reduced statistics (same on every rank): save and halt decisions."""
        stats = Statistics.from_partials(reduced)
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
        if not self.monitor.should_save(stats, step):
            return
        frame, dh = gather_frame(lmp, self.fix_id, step, self.type_symbols, with_mask=True,
                                 per_atom=self.per_atom)
        in_group = (frame.columns.pop("mask") & self.group_bit) != 0
        frame.info["source"] = f"fix_quests_{self.fix_id}"
        structures = self.monitor.save(frame, dh, step, eligible=in_group)
        if as_lammps(lmp).extract_setting("world_rank") == 0:
            for structure in structures:
                structure.write(self.options.save_path)
        outcome.log += self.monitor.save_log(self.prefix, step, stats, structures)

    def _halt(self, step: int, stats: Statistics, outcome: Outcome) -> None:
        if not self.monitor.should_halt(stats):
            return
        summary = self.monitor.halt_summary(step, stats)
        if self.options.halt_mode == "hard":
            outcome.halt, outcome.error = 2, summary
        else:
            outcome.halt = 1
            outcome.log += f"{self.prefix}: {summary}, stopping the run (halt soft)\n"

    def report(self, rank: int = 0) -> str:
        """End-of-run log text (empty when there is nothing to report; rank 0 only)."""
        return self.monitor.report(self.prefix) if rank == 0 else ""


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
