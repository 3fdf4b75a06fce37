"""A QUESTS monitor for ASE dynamics: per-atom dH (nats) every N steps, halt and save.

The monitor is an ASE observer. Attach it like ASE's own (``dyn.attach(monitor,
interval=N)``); each call computes the descriptors of ``atoms`` and their dH against the
reference through the one :class:`~lammps_quests.dh.ReferenceDh` (the path
of offline ``lammps-quests dh``; exact, or the fast index with ``fast=tol``), so the numbers
equal the offline ones for the same positions. A species-aware reference compares each atom
with the environments centred on its own element (``atoms.get_chemical_symbols()``).

Per call:

* ``atoms.arrays["dH"]`` holds each atom's dH (nats), which extended-XYZ writers carry, and
  ``atoms.info["dH_max"]``, ``atoms.info["dH_mean"]`` the frame's max and mean (ASE's ``.traj``
  format keeps these but no extra per-atom arrays);
* one :class:`Evaluation` is appended to ``monitor.history`` (step, max, mean, fraction and
  count above ``threshold``, new atoms, structures saved: the five statistics of ``fix
  quests``, :data:`lammps_quests.monitor.QUANTITIES`);
* ``save=(t, FILE)``: what is new is appended to FILE, in the extended-XYZ format of
  ``fix quests ... save``, by the package's one :class:`lammps_quests.active.Saver`: atoms
  with dH > t against the reference and against everything saved before (so a persistent
  hot spot is saved once), as whole frames or, with ``cut=R``, one cut-out per hot spot;
  ``deduplicate=False`` saves every frame with max dH > t;
* ``halt=t``: :class:`lammps_quests.errors.QuestsHalt` is raised when max dH > t; ASE's
  ``dyn.run`` lets it through, so the run stops at that step.

Without an exception, drive the run with ``irun`` and stop when you like::

    for _ in dyn.irun(5000):
        if monitor.last is not None and monitor.last.max_dh > 5.0:
            break
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from lammps_quests.active import Structure
from lammps_quests.monitor._monitor import Evaluation, Monitor
from lammps_quests.monitor._options import MonitorOptions
from lammps_quests.active._save_target import check_save_target
from lammps_quests.ase._steps import calling_dynamics, check_interval
from lammps_quests.errors import QuestsHalt, QuestsInputError
from lammps_quests.formats._reference import Reference

__all__ = ["DH_ARRAY", "Evaluation", "QuestsMonitor", "check_structure"]

DH_ARRAY = "dH"
# a lattice vector shorter than this (Å) counts as missing
_MISSING_VECTOR = 1e-12

#: the fix for an element the reference lacks: ASE atoms carry chemical symbols, not atom types
_ASE_REMEDY = ("use a reference built with that element, or give the ASE Atoms the chemical symbols the "
               "reference holds (atoms.symbols)")


class QuestsMonitor:
    """Per-atom dH of ``atoms`` against a reference, as an ASE dynamics observer.

    Args:
        atoms: the ``ase.Atoms`` the dynamics moves (read at each call, never modified
            except for ``atoms.arrays["dH"]``).
        reference: a :class:`lammps_quests.formats.Reference` or the path of a
            ``.qref`` file.
        threshold: dH (nats) above which an atom counts as extrapolating in the history;
            0 is the theory's boundary of the reference.
        halt: raise :class:`QuestsHalt` once max dH > halt (nats); None: never.
        save: ``(t, FILE)``: append what is new (dH > t nats against the reference and all
            saved so far) to FILE, extended XYZ with columns id (atom index + 1), dH (against
            the reference, nats), new, exact and the step in the info line. The monitor holds
            FILE's lock (one writer per save file) until :meth:`close`.
        cut: with ``save``, one cut-out per hot spot (atoms within ``cut`` Å of a new atom, a
            cluster in a vacuum box) instead of the whole frame; ``cut`` >= the cutoff.
        deduplicate: with ``save``, False saves every frame with max dH > t.
        dynamics: the ASE dynamics, to label evaluations with its step number; without it
            the monitor finds the dynamics that calls it (``dyn.attach(monitor, interval=N)``),
            and outside any dynamics the step is the number of the call (0, 1, ...).
        bandwidth: kernel bandwidth in Å^-1 (default: the reference's).
        k, cutoff: expected descriptor settings (cutoff in Å); refused if the reference was
            built with others (:meth:`Reference.check`). Default: the reference's.
        fast: a tolerance in nats: dH from the reference's fast index (``REF.qidx``, built by
            ``lammps-quests reference index``), at most ``fast`` above the exact dH.
        decide: with ``fast``, certify only the decisions dH > threshold, halt and save, as
            ``fix quests ... fast tol decide``: values above the smallest of those thresholds
            stay within ``fast`` of exact, values at or below it are upper bounds (saved files
            flag them in the column ``dH_bound``).
        log: a text stream (or True for standard output) to print one line per evaluation.

    A species-aware reference compares each atom with the reference environments centred on
    its own element (``atoms.get_chemical_symbols()``); an element the reference lacks is
    refused with a ValueError naming it. A species-agnostic reference ignores elements. Every
    option works with both: with a species-aware reference an atom is new (``save``) when its
    dH against the reference and saved environments centred on its own element exceeds t (and
    those saved environments do not already cover it), and saved frames and cut-outs carry the
    elements.

    The statistics, save and halt decisions and the saver are the monitor core's
    (:class:`lammps_quests.monitor.Monitor`), shared with ``fix quests``.
    """

    def __init__(
        self,
        atoms,
        reference,
        threshold: float = 0.0,
        halt: float | None = None,
        save=None,
        *,
        cut: float | None = None,
        deduplicate: bool = True,
        dynamics=None,
        bandwidth: float | None = None,
        k: int | None = None,
        cutoff: float | None = None,
        fast: float | None = None,
        decide: bool = False,
        log=None,
    ):
        self.atoms = atoms
        self.reference = _as_reference(reference)
        check_structure(atoms)
        options = MonitorOptions(bandwidth=bandwidth, threshold=threshold, halt_threshold=halt, k=k, cutoff=cutoff,
                                 deduplicate=deduplicate, fast=fast, decide=decide, **_save_options(save, cut))
        self.options = options
        self.monitor = Monitor(self.reference, options, by="the monitor",
                               symbols=atoms.get_chemical_symbols(), remedy=_ASE_REMEDY)
        self.bandwidth = self.monitor.bandwidth
        self.threshold = options.threshold
        self.halt = options.halt_threshold
        self.saver = self.monitor.saver
        self.save_path = None if options.save_path is None else Path(options.save_path)
        self.seeded = 0  # environments of earlier saves in the save file (same reference)
        self.save_target = None  # holds the save file's lock until close()
        if self.save_path is not None:  # checked at construction; earlier saves seed a restart
            self.save_target = check_save_target(self.save_path, self.reference)
            self.seeded = self.save_target.seed(self.saver)
        self.dynamics = dynamics
        self.log = log
        self.history: list[Evaluation] = []
        self.descriptors: np.ndarray | None = None  # of the last evaluated frame, Å^-1
        self.labels: np.ndarray | None = None  # their centre species (species-aware references)

    def close(self) -> None:
        """Stop saving: release the save file, so another monitor or run may append to it.
        (Also done when the monitor is garbage-collected.)"""
        if self.save_target is not None:
            self.save_target.release()
            self.save_target = None

    # ----------------------------------------------------------------- observer
    def attach(self, dynamics, interval: int = 1) -> QuestsMonitor:
        """Attach to ``dynamics`` every ``interval`` steps (an integer >= 1) and label
        evaluations by its steps."""
        interval = check_interval(interval)
        self.dynamics = dynamics
        dynamics.attach(self, interval=interval)
        return self

    def __call__(self) -> Evaluation:
        """Evaluate the current frame; save and halt as configured. Returns the record."""
        start = time.perf_counter()
        if self.dynamics is None:  # dyn.attach(monitor, interval=N): find the caller's dynamics
            self.dynamics = calling_dynamics(self)
        step = int(self.dynamics.nsteps) if self.dynamics is not None else len(self.history)
        dh = self.evaluate()
        monitor = self.monitor
        new = monitor.new_mask(dh, self.descriptors, self.labels)
        stats = monitor.statistics(dh, int(np.count_nonzero(new)))
        saved = self._save(dh, step) if monitor.should_save(stats, step) else 0
        record = Evaluation.of(step, stats, saved, time.perf_counter() - start)
        self.history.append(record)
        if self.log is not None:
            self._print(record)
        if monitor.should_halt(stats):
            raise QuestsHalt(step, record.max_dh, self.halt, record.count_above)
        return record

    def evaluate(self) -> np.ndarray:
        """dH (nats) of every atom of the current frame.

        Also stored in ``atoms.arrays["dH"]``, its max and mean in ``atoms.info["dH_max"]`` and
        ``atoms.info["dH_mean"]``.
        """
        atoms = self.atoms
        check_structure(atoms)
        monitor = self.monitor
        monitor.check_species(atoms.get_chemical_symbols(), by="the monitor")
        self.descriptors, self.labels = monitor.dh.descriptors(atoms)
        dh = monitor.delta_entropy(self.descriptors, self.labels)
        dh = np.asarray(dh, dtype=np.float64)
        atoms.arrays[DH_ARRAY] = dh.copy()
        atoms.info[DH_ARRAY + "_max"] = float(dh.max())
        atoms.info[DH_ARRAY + "_mean"] = float(dh.mean())
        return dh

    # ----------------------------------------------------------------- results
    @property
    def last(self) -> Evaluation | None:
        """The latest evaluation, or None before the first call."""
        return self.history[-1] if self.history else None

    def report(self) -> str:
        """End-of-run text: evaluations, largest dH, and what the save kept (entropy added, nats)."""
        if not self.history:
            return "QuestsMonitor: no evaluation yet"
        top = max(self.history, key=lambda record: record.max_dh)
        first, last = self.history[0].step, self.history[-1].step
        summary = (f"QuestsMonitor: {len(self.history)} evaluations, steps {first}-{last}; "
                   f"max dH {top.max_dh:.6g} nats at step {top.step}")
        return "\n".join([summary, self.monitor.report("QuestsMonitor")]).rstrip("\n")

    def table(self) -> str:
        """The history as text: one line per evaluation, the header first."""
        return "\n".join([_HEADER] + [_line(record) for record in self.history])

    # ----------------------------------------------------------------- internals
    def _save(self, dh: np.ndarray, step: int) -> int:
        """Hand the frame to the saver; append what it keeps. Returns the structures saved."""
        atoms = self.atoms
        frame = Structure(
            symbols=atoms.get_chemical_symbols(),
            positions=np.array(atoms.positions),
            cell=np.array(atoms.cell),
            pbc=np.array(atoms.pbc),
            columns={"id": np.arange(1, len(atoms) + 1, dtype=np.int64)},
            info={"step": step, "source": "ase"},
        )
        if self.save_target is None:
            raise QuestsInputError(f"this monitor was closed: it no longer saves to {self.save_path}; "
                                   "make a new QuestsMonitor to save again")
        pieces = self.monitor.save(frame, dh, step)
        for piece in pieces:
            piece.write(self.save_path)
        return len(pieces)

    def _print(self, record: Evaluation) -> None:
        stream = sys.stdout if self.log is True else self.log
        if len(self.history) == 1:
            print(_HEADER, file=stream)
        print(_line(record), file=stream, flush=True)


_HEADER = f"{'step':>8} {'max dH':>10} {'mean dH':>10} {'frac>t':>8} {'n>t':>6} {'saved':>6} {'new':>5}"


def _line(record: Evaluation) -> str:
    return (f"{record.step:>8d} {record.max_dh:>10.4f} {record.mean_dh:>10.4f} "
            f"{record.fraction_above:>8.4f} {record.count_above:>6d} {record.saved:>6d} {record.new:>5d}")


def check_structure(atoms) -> None:
    """Refuse structures the descriptors cannot describe, naming the fix.

    A direction that is periodic (``atoms.pbc``) needs a lattice vector: an ``Atoms`` built
    without a cell but with ``pbc=True`` has none, and its atoms would have no images.
    """
    if len(atoms) == 0:
        raise QuestsInputError("the Atoms object has no atoms; the monitor needs at least one")
    cell = np.asarray(atoms.cell, dtype=float)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    lengths = np.linalg.norm(cell, axis=1)
    missing = [axis for axis in range(3) if pbc[axis] and lengths[axis] <= _MISSING_VECTOR]
    if missing:
        names = ", ".join("abc"[axis] for axis in missing)
        raise QuestsInputError(
            f"atoms.pbc = {tuple(bool(p) for p in pbc)} but the cell has no lattice vector {names} "
            f"(cell lengths {np.round(lengths, 6).tolist()} Å): periodic directions need a cell; set "
            "one with atoms.set_cell(...) or make those directions non-periodic with "
            "atoms.pbc = False (a cluster or molecule)"
        )


def _save_options(save, cut) -> dict:
    """save_threshold, save_path and save_cut from the ``save=(t, FILE)`` and ``cut`` arguments
    (their values are checked by :class:`MonitorOptions`)."""
    if save is None:
        return {} if cut is None else {"save_cut": cut}
    if isinstance(save, (str, bytes, Path)) or not hasattr(save, "__len__") or len(save) != 2:
        raise QuestsInputError(
            f"save must be a pair (threshold in nats, file), e.g. save=(2.0, 'new.xyz'); got {save!r}"
        )
    path = Path(save[1])
    if not path.resolve().parent.is_dir():
        raise QuestsInputError(f"cannot save to {path}: its directory does not exist; create it first")
    return {"save_threshold": save[0], "save_path": str(path), "save_cut": cut}


def _as_reference(reference) -> Reference:
    if isinstance(reference, Reference):
        return reference
    if isinstance(reference, (str, Path)):
        return Reference.load(reference, mmap=True)
    raise QuestsInputError(
        f"reference must be a Reference or the path of a .qref file, got {type(reference).__name__}"
    )
