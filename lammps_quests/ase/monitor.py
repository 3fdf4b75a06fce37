"""A QUESTS monitor for ASE dynamics: per-atom dH (nats) every N steps, halt and save.

The monitor is an ASE observer. Attach it like ASE's own (``dyn.attach(monitor,
interval=N)``); each call computes the descriptors of ``atoms`` with the reference's k and
cutoff (:func:`lammps_quests.core.descriptors.descriptors_from_arrays`, the path of offline
``lammps-quests dh``) and dH against the reference with
:func:`lammps_quests.core.information.delta_entropy`, so the numbers equal the offline ones
for the same positions. A species-aware reference takes the species-aware core path
(:func:`~lammps_quests.core.descriptors.species_descriptors_from_arrays`,
:func:`~lammps_quests.core.species_information.delta_entropy_by_species`) with the elements of
``atoms.get_chemical_symbols()``.

Per call:

* ``atoms.arrays["dH"]`` holds each atom's dH (nats), which extended-XYZ writers carry, and
  ``atoms.info["dH_max"]``, ``atoms.info["dH_mean"]`` the frame's max and mean (ASE's ``.traj``
  format keeps these but no extra per-atom arrays);
* one :class:`Evaluation` is appended to ``monitor.history`` (step, max, mean, fraction and
  count above ``threshold``);
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

import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from lammps_quests.active import Saver, Structure
from lammps_quests.active.save_target import check_save_target
from lammps_quests.active.saving import describe_saved
from lammps_quests.ase.steps import calling_dynamics, check_interval
from lammps_quests.core.descriptors import (
    descriptors_from_arrays,
    species_descriptors_from_arrays,
)
from lammps_quests.core.information import delta_entropy
from lammps_quests.core.species import species_numbers
from lammps_quests.core.species_information import delta_entropy_by_species
from lammps_quests.errors import QuestsHalt
from lammps_quests.formats.reference import Reference

DH_ARRAY = "dH"
# a lattice vector shorter than this (Å) counts as missing
_MISSING_VECTOR = 1e-12


@dataclass(frozen=True)
class Evaluation:
    """Statistics of one monitor call.

    step: MD step (``dynamics.nsteps``), or the call number when the monitor was given no
    dynamics; max_dh, mean_dh: nats; fraction_above, count_above: atoms with dH > the
    monitor's threshold; saved: frame appended to the save file; seconds: wall time of the
    call (descriptors, dH, saving).
    """

    step: int
    max_dh: float
    mean_dh: float
    fraction_above: float
    count_above: int
    saved: int
    new: int
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


class QuestsMonitor:
    """Per-atom dH of ``atoms`` against a reference, as an ASE dynamics observer.

    Args:
        atoms: the ``ase.Atoms`` the dynamics moves (read at each call, never modified
            except for ``atoms.arrays["dH"]``).
        reference: a :class:`lammps_quests.formats.reference.Reference` or the path of a
            ``.qref`` file.
        threshold: dH (nats) above which an atom counts as extrapolating in the history;
            0 is the theory's boundary of the reference.
        halt: raise :class:`QuestsHalt` once max dH > halt (nats); None: never.
        save: ``(t, FILE)``: append what is new (dH > t nats against the reference and all
            saved so far) to FILE, extended XYZ with columns id (atom index + 1), dH (against
            the reference, nats), new, exact and the step in the info line.
        cut: with ``save``, one cut-out per hot spot (atoms within ``cut`` Å of a new atom, a
            cluster in a vacuum box) instead of the whole frame; ``cut`` >= the cutoff.
        deduplicate: with ``save``, False saves every frame with max dH > t (the only
            choice with a species-aware reference: de-duplication is species-agnostic).
        dynamics: the ASE dynamics, to label evaluations with its step number; without it
            the monitor finds the dynamics that calls it (``dyn.attach(monitor, interval=N)``),
            and outside any dynamics the step is the number of the call (0, 1, ...).
        bandwidth: kernel bandwidth in Å^-1 (default: the reference's).
        k, cutoff: expected descriptor settings (cutoff in Å); refused if the reference was
            built with others (:meth:`Reference.check`). Default: the reference's.
        log: a text stream (or True for standard output) to print one line per evaluation.

    A species-aware reference compares each atom with the reference environments centred on
    its own element (``atoms.get_chemical_symbols()``); an element the reference lacks is
    refused with a ValueError naming it. A species-agnostic reference ignores elements.
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
        log=None,
    ):
        self.atoms = atoms
        self.reference = _as_reference(reference)
        check_structure(atoms)
        self.reference.check(k, cutoff, species=atoms.get_chemical_symbols(), by="the monitor")
        self.bandwidth = self.reference.bandwidth if bandwidth is None else _positive(bandwidth, "bandwidth")
        self.threshold = _finite(threshold, "threshold")
        self.halt = None if halt is None else _finite(halt, "halt")
        self.seeded = 0  # environments of earlier saves in the save file (same reference)
        self.save_path, self.saver = self._saver(save, cut, deduplicate)
        self.dynamics = dynamics
        self.log = log
        self.history: list[Evaluation] = []
        self.descriptors: np.ndarray | None = None  # of the last evaluated frame, Å^-1
        # centre species of the reference rows (species-aware references only)
        self._reference_labels = self.reference.species_labels if self.reference.species_aware else None

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
        saved, new = self._save(dh, step)
        above = int(np.count_nonzero(dh > self.threshold))
        record = Evaluation(
            step=step,
            max_dh=float(dh.max()),
            mean_dh=float(dh.mean()),
            fraction_above=above / len(dh),
            count_above=above,
            saved=saved,
            new=new,
            seconds=time.perf_counter() - start,
        )
        self.history.append(record)
        if self.log is not None:
            self._print(record)
        if self.halt is not None and record.max_dh > self.halt:
            raise QuestsHalt(step, record.max_dh, self.halt, above)
        return record

    def evaluate(self) -> np.ndarray:
        """dH (nats) of every atom of the current frame.

        Also stored in ``atoms.arrays["dH"]``, its max and mean in ``atoms.info["dH_max"]`` and
        ``atoms.info["dH_mean"]``.
        """
        atoms = self.atoms
        check_structure(atoms)
        reference = self.reference
        settings = (np.asarray(atoms.cell), atoms.pbc, reference.k, reference.cutoff)
        if not reference.species_aware:
            self.descriptors = descriptors_from_arrays(atoms.positions, *settings)
            dh = delta_entropy(self.descriptors, reference.descriptors, self.bandwidth)
        else:
            symbols = atoms.get_chemical_symbols()
            reference.check(species=symbols, by="the monitor")
            labels = species_numbers(symbols, reference.species)
            self.descriptors = species_descriptors_from_arrays(
                atoms.positions, labels, len(reference.species), *settings
            )
            dh = delta_entropy_by_species(
                self.descriptors, labels, reference.descriptors, self._reference_labels,
                len(reference.species), self.bandwidth, species_names=reference.species,
            )
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
        lines = [summary]
        if self.saver is not None:
            counts = self.saver.counts
            gain = self.saver.entropy_gain() if counts.new else None
            lines.append(describe_saved("QuestsMonitor", counts, gain, self.saver.bandwidth, self.save_path))
        return "\n".join(lines)

    def table(self) -> str:
        """The history as text: one line per evaluation, the header first."""
        return "\n".join([_HEADER] + [_line(record) for record in self.history])

    # ----------------------------------------------------------------- internals
    def _saver(self, save, cut, deduplicate):
        if save is None:
            if cut is not None:
                raise ValueError("cut only applies with save=(threshold, file); give save too")
            return None, None
        if isinstance(save, (str, bytes, Path)) or not hasattr(save, "__len__") or len(save) != 2:
            raise ValueError(
                f"save must be a pair (threshold in nats, file), e.g. save=(2.0, 'new.xyz'); got {save!r}"
            )
        threshold = _finite(save[0], "save threshold")
        target = check_save_target(save[1], self.reference, what="save file")  # at construction
        saver = Saver(self.reference, self.bandwidth, threshold,
                      cut_radius=None if cut is None else _finite(cut, "cut"), deduplicate=deduplicate)
        self.seeded = target.seed(saver)  # a restart does not save the same environments again
        return target.path, saver

    def _save(self, dh: np.ndarray, step: int) -> tuple[int, int]:
        """Hand the frame to the saver; append what it keeps. Returns (structures, new atoms)."""
        if self.saver is None:
            return 0, 0
        atoms = self.atoms
        frame = Structure(
            species=atoms.get_chemical_symbols(),
            positions=np.array(atoms.positions),
            cell=np.array(atoms.cell),
            pbc=np.array(atoms.pbc),
            columns={"id": np.arange(1, len(atoms) + 1, dtype=np.int64)},
            info={"step": step, "source": "ase"},
        )
        pieces = self.saver.structures(frame, dh)
        for piece in pieces:
            piece.write(self.save_path)
        return len(pieces), int(sum(np.count_nonzero(piece.columns["new"]) for piece in pieces))

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
        raise ValueError("the Atoms object has no atoms; the monitor needs at least one")
    cell = np.asarray(atoms.cell, dtype=float)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    lengths = np.linalg.norm(cell, axis=1)
    missing = [axis for axis in range(3) if pbc[axis] and lengths[axis] <= _MISSING_VECTOR]
    if missing:
        names = ", ".join("abc"[axis] for axis in missing)
        raise ValueError(
            f"atoms.pbc = {tuple(bool(p) for p in pbc)} but the cell has no lattice vector {names} "
            f"(cell lengths {np.round(lengths, 6).tolist()} Å): periodic directions need a cell; set "
            "one with atoms.set_cell(...) or make those directions non-periodic with "
            "atoms.pbc = False (a cluster or molecule)"
        )


def _as_reference(reference) -> Reference:
    if isinstance(reference, Reference):
        return reference
    if isinstance(reference, (str, Path)):
        return Reference.load(reference, mmap=True)
    raise ValueError(
        f"reference must be a Reference or the path of a .qref file, got {type(reference).__name__}"
    )


def _finite(value, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of nats, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite (nats), got {value!r}")
    return number


def _positive(value, name: str) -> float:
    number = _finite(value, name)
    if number <= 0:
        raise ValueError(f"{name} must be > 0 (Å^-1), got {value!r}")
    return number
