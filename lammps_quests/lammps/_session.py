"""One ``fix quests`` on this rank: its options, the monitor core, and one evaluation.

A :class:`FixSession` is what both routes of ``fix quests`` hold per fix (the plugin through
:mod:`._bridge`, the python/invoke route through :mod:`._invoke`). It parses nothing and reduces
nothing over MPI ranks; it

1. loads the reference once (memory-mapped, kept for the process) and builds the monitor core
   (:class:`lammps_quests.monitor.Monitor`), which checks the reference once;
2. evaluates this rank's owned atoms (:meth:`FixSession.evaluate_atoms`): computes their
   descriptors and dH (nats) through the monitor's
   :class:`~lammps_quests.dh.ReferenceDh`, writes dH into the per-atom
   output and returns this rank's partial statistics;
3. acts on the statistics reduced over ranks (:meth:`FixSession.decide`): the save and halt
   decisions, identical on every rank.

The atoms come from the route: the plugin hands them over as views of LAMMPS's memory
(:meth:`FixSession.evaluate_host`, :mod:`._handoff`, no ``lammps`` module imported); the
python/invoke route reads them through the host's ``lammps`` module (:meth:`FixSession.evaluate_rank`,
:meth:`FixSession.finish`, :mod:`._arrays`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from lammps_quests.errors import QuestsInternalError, ReferenceFileError
from lammps_quests.core._threshold import (cached_self_information, describe, describe_elements,
                                            element_self_information, self_information)
from lammps_quests.formats._reference import Reference
from lammps_quests.lammps._handoff import GatheredFrame, HostAtoms, LocalAtoms, build_frame, local_atoms
from lammps_quests.lammps._keywords import FixOptions
from lammps_quests.lammps._threads import limit_threads
from lammps_quests.lammps._type_elements import (elements_against_masses, elements_from_masses, type_elements,
                                                type_species_numbers)
from lammps_quests.monitor._monitor import Monitor, Statistics

#: leave-one-out rows computed at setup when the reference has no cached distribution
SETUP_SAMPLE_ROWS = 2000

# reference files stay mapped for the life of the process, re-read if the file changes
_references: dict[str, tuple[tuple[int, int], Reference]] = {}


def cached_reference(path) -> Reference:
    """Memory-mapped :class:`Reference` for ``path``, kept for the process and read again
    when the file changes (a fix defined again in the same LAMMPS run reads it once);
    ReferenceFileError for a file that cannot be read."""
    key = os.path.abspath(os.fspath(path))
    try:
        stat = os.stat(key)
    except OSError as error:
        raise ReferenceFileError(
            f"reference file {path} cannot be read ({error.strerror}); build one with "
            "`lammps-quests reference build OUT FILES...` or fix the path"
        ) from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _references.get(key)
    if cached is None or cached[0] != stamp:
        _references[key] = (stamp, Reference.load(key, mmap=True))
    return _references[key][1]


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
        self.reference = cached_reference(reference_path)
        self.prefix = f"fix quests {fix_id}"
        self.monitor = Monitor(self.reference, options.monitor, by="the fix")
        self.bandwidth = self.monitor.bandwidth
        self.saver = self.monitor.saver
        #: the per-atom quantity holding dH in LAMMPS, which saving gathers: the fix's vector,
        #: or a ``d_NAME`` of fix property/atom on the python/invoke route
        self.per_atom = f"f_{fix_id}"
        #: the last evaluation's owned atoms of the group (rows), and which owned atoms it found
        #: new (what save would save; a bool per owned atom)
        self.group_rows = np.zeros(0, dtype=np.int64)
        self.new_flags = np.zeros(0, dtype=bool)
        self.warned_empty = False
        self.group_bit = 1  # bit of group all until the first evaluation names the fix's group
        self.type_species = None  # species number of each atom type (species-aware references)
        self.type_symbols = None  # element of each atom type, when known
        self.rank = 0  # MPI rank in LAMMPS's world
        self.box = None  # plugin route: the box of the last evaluation (handoff.Box)
        self.masses = None  # plugin route: mass of each atom type (g/mol), None if per-atom
        self.save_target = None  # the checked save file; rank 0 holds its lock until close()
        self.elements_warning = ""  # the elements keyword against the type masses, for the setup log

    @property
    def last_saved_step(self) -> int | None:
        return self.monitor.last_saved_step

    def check_save(self, rank: int) -> str:
        """Check the save file at setup (every rank reads it, rank 0 repairs a cut tail) and
        seed the de-duplication with the earlier saves in it; returns the log text."""
        if self.saver is None:
            return ""
        from lammps_quests.active._save_target import check_save_target

        target = check_save_target(self.options.monitor.save_path, self.reference, repair=rank == 0)
        self.save_target = target
        seeded = target.seed(self.saver) if self.options.save_seed else None
        return target.log(self.prefix, seeded)

    def close(self) -> None:
        """Release the save file (its lock) when the fix goes away."""
        if self.save_target is not None:
            self.save_target.release()

    def map_types(self, lmp) -> None:
        """:meth:`map_type_masses` with the number of types and the type masses read from
        ``lmp`` (python/invoke route)."""
        from lammps_quests.lammps._arrays import as_lammps

        lmp = as_lammps(lmp)
        ntypes = int(lmp.extract_setting("ntypes"))
        masses = lmp.numpy.extract_atom("mass")
        masses = None if masses is None else np.asarray(masses)[: ntypes + 1]
        self.map_type_masses(ntypes, masses)

    def map_type_masses(self, ntypes: int, masses) -> None:
        """Element and reference species of each atom type (1..``ntypes``), checked once: from
        the elements keyword, else from the type masses (g/mol, index = type). Saved
        structures carry these elements, so offline tools see each atom's species; a warning
        when the keyword contradicts the masses."""
        symbols = type_elements(ntypes, None if self.options.elements is not None else masses,
                                self.options.elements)
        if self.reference.species_aware:
            by = f"fix {self.fix_id}'s atom types ({' '.join(symbols[1:])})"
            self.reference.check(symbols=symbols[1:], by=by)
            self.type_species = type_species_numbers(symbols, self.reference.elements)
        if self.options.elements is not None or self.reference.species_aware:
            self.type_symbols = symbols
        if self.options.elements is not None:  # printed with the setup log (every route prints it)
            warning = elements_against_masses(self.options.elements, masses)
            self.elements_warning = f"WARNING: fix quests {self.fix_id}: {warning}\n" if warning else ""

    def setup_log(self) -> str:
        index = None
        if self.options.monitor.fast is not None:
            from lammps_quests.formats._fast_index import fast_index_path

            index = fast_index_path(self.reference_path)
        return self.monitor.describe_reference(self.prefix, self.reference_path, index) + \
            self.elements_warning

    def threshold_log(self) -> str:
        """The reference's leave-one-out dH distribution (header cache, else a sample); for a
        species-aware reference one per centre element, against that element's rows."""
        if self.reference.species_aware:  # bounded cost as below, per element
            summaries, _ = element_self_information(self.reference, self.bandwidth, max_rows=SETUP_SAMPLE_ROWS,
                                                    sample_rows=SETUP_SAMPLE_ROWS)
            return (f"{self.prefix}: threshold guidance, per centre element (dH against that element's "
                    f"environments):\n" + describe_elements(summaries, indent=f"{self.prefix}: ") + "\n")
        info = cached_self_information(self.reference, self.bandwidth)
        if info is None:  # bounded cost: SETUP_SAMPLE_ROWS x n kernel pairs
            info = self_information(self.reference.descriptors, self.bandwidth,
                                    max_rows=SETUP_SAMPLE_ROWS, sample_rows=SETUP_SAMPLE_ROWS)
        return describe(info, indent=f"{self.prefix}: ") + "\n"

    def evaluate_rank(self, lmp, group_bit: int, num_threads: int | None = None) -> list[float]:
        """python/invoke route: :meth:`evaluate_atoms` on the atoms read through the host's
        ``lammps`` module (``lmp``: a ``lammps.lammps`` or the PyCapsule LAMMPS passes), dH
        written into :attr:`per_atom`."""
        from lammps_quests.lammps._arrays import as_lammps, dh_output, read_local_atoms

        lmp = as_lammps(lmp)
        if self.reference.species_aware and self.type_species is None:
            self.map_types(lmp)
        atoms = read_local_atoms(lmp, int(group_bit), with_types=self.type_species is not None)
        out = dh_output(lmp, self.per_atom, atoms.nlocal) if atoms.nlocal else np.zeros(0)
        return self.evaluate_atoms(atoms, out, group_bit, num_threads)

    def evaluate_host(self, host: HostAtoms, group_bit: int, num_threads: int | None = None) -> list[float]:
        """Plugin route: :meth:`evaluate_atoms` on the atoms the C++ fix handed over (views of
        LAMMPS's arrays), dH written into the fix's own per-atom vector ``host.dh``."""
        if self.reference.species_aware and self.type_species is None:
            self.map_type_masses(host.ntypes, host.masses)
        self.box, self.masses = host.box, None if host.masses is None else host.masses.copy()
        atoms = local_atoms(host, int(group_bit), with_types=self.type_species is not None)
        return self.evaluate_atoms(atoms, host.dh, group_bit, num_threads)

    def evaluate_atoms(self, atoms: LocalAtoms, out: np.ndarray, group_bit: int,
                       num_threads: int | None = None) -> list[float]:
        """dH (nats) of this rank's owned atoms in the group, written into ``out`` (0.0 for the
        other owned atoms); returns this rank's partial statistics
        (:data:`lammps_quests.monitor.PARTIALS`), which the caller reduces over ranks.

        Args:
            atoms: this rank's owned and ghost positions (Å), types, the group's owned rows.
            out: (nlocal,) float64, writable: the per-atom vector dH goes to.
            group_bit: LAMMPS bitmask of the fix's group.
            num_threads: threads for the numba kernels and BLAS on this rank (None: unchanged).
        """
        if num_threads is not None:
            limit_threads(num_threads)
        self.group_bit = int(group_bit)
        self.group_rows = atoms.rows
        self.new_flags = np.zeros(atoms.nlocal, dtype=bool)
        if atoms.nlocal == 0:
            return self.monitor.statistics(np.zeros(0)).partials
        out[: atoms.nlocal] = 0.0
        rows = atoms.rows
        if len(rows) == 0:
            return self.monitor.statistics(np.zeros(0)).partials
        point_species = None if atoms.types is None else self.type_species[atoms.types]
        Y = self.monitor.dh.descriptors_from_points(atoms.points[rows], atoms.points, rows, point_species)
        labels = None if point_species is None else point_species[rows]
        dh = self.monitor.delta_entropy(Y, labels)
        out[rows] = dh
        new = self.monitor.new_mask(dh, Y, labels)
        self.new_flags[rows[new]] = True
        return self.monitor.statistics(dh, int(np.count_nonzero(new))).partials

    def wants_frame(self, step: int, reduced) -> bool:
        """Whether :meth:`decide` needs the whole frame at ``step`` (a save; the same on every
        rank, from the reduced statistics)."""
        return self.monitor.should_save(Statistics.from_partials(reduced), int(step))

    def finish(self, lmp, step: int, reduced) -> Outcome:
        """python/invoke route: :meth:`decide`, the frame gathered through the host's ``lammps``
        module (collective: on every rank)."""
        from lammps_quests.lammps._arrays import as_lammps, gather_frame

        lmp = as_lammps(lmp)
        self.rank = int(lmp.extract_setting("world_rank"))

        def frame():
            return gather_frame(lmp, self.fix_id, step, self.type_symbols, with_mask=True,
                                per_atom=self.per_atom)
        return self.decide(step, reduced, frame)

    def frame_of(self, gathered: GatheredFrame, step: int):
        """Plugin route: the frame the C++ fix gathered, with the box of the last evaluation."""
        symbols = self.type_symbols
        if symbols is None:
            symbols = (elements_from_masses(self.masses) if self.masses is not None
                       else ["X"] * (int(gathered.type.max(initial=0)) + 1))
        return build_frame(gathered.tag, gathered.type, gathered.x, gathered.dh, self.box, symbols,
                           step, self.fix_id, gathered.mask)

    def decide(self, step: int, reduced, frame=None) -> Outcome:
        """Act on the reduced statistics (same on every rank): save and halt decisions.
        ``frame``: a callable returning (Structure with a ``mask`` column, dH in nats), called
        only when :meth:`wants_frame` (a save)."""
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
        self._save(step, stats, outcome, frame)
        self._halt(step, stats, outcome)
        if outcome.halt == 2:  # the run ends with the error: report what was saved before it
            outcome.log += self.report(self.rank)
        return outcome

    def _save(self, step: int, stats: Statistics, outcome: Outcome, frame) -> None:
        """Every rank holds the same frame and takes the same decisions from it (so the
        de-duplication state stays identical on every rank); rank 0 writes."""
        if not self.monitor.should_save(stats, step):
            return
        if frame is None:
            raise QuestsInternalError(f"{self.prefix}: a save at step {step} needs the frame, none was gathered")
        structure, dh = frame()
        in_group = (structure.columns.pop("mask") & self.group_bit) != 0
        structure.info["source"] = f"fix_quests_{self.fix_id}"
        structures = self.monitor.save(structure, dh, step, eligible=in_group)
        if self.rank == 0:
            for piece in structures:
                piece.write(self.options.monitor.save_path)
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
