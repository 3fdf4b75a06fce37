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

* ``atoms.arrays["dH"]`` holds each atom's dH (nats), so trajectory writers carry it;
* one :class:`Evaluation` is appended to ``monitor.history`` (step, max, mean, fraction and
  count above ``threshold``);
* ``save=(t, FILE)``: the frame is appended to FILE when max dH > t
  (:mod:`lammps_quests.active.saving`, the format of ``fix quests ... save``);
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

from lammps_quests.active.saving import SavedFrame, parse_save
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
    saved: bool
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
        save: ``(t, FILE)``: append frames with max dH > t (nats) to FILE (extended XYZ).
        dynamics: the ASE dynamics, to label evaluations with its step number; without it
            (and without :meth:`attach`) the step is the number of the call (0, 1, ...).
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
        self.save = parse_save(save)
        self.dynamics = dynamics
        self.log = log
        self.history: list[Evaluation] = []
        self.descriptors: np.ndarray | None = None  # of the last evaluated frame, Å^-1
        # centre species of the reference rows (species-aware references only)
        self._reference_labels = self.reference.species_labels if self.reference.species_aware else None

    # ----------------------------------------------------------------- observer
    def attach(self, dynamics, interval: int = 1) -> QuestsMonitor:
        """Attach to ``dynamics`` every ``interval`` steps and label evaluations by its steps."""
        self.dynamics = dynamics
        dynamics.attach(self, interval=interval)
        return self

    def __call__(self) -> Evaluation:
        """Evaluate the current frame; save and halt as configured. Returns the record."""
        start = time.perf_counter()
        step = int(self.dynamics.nsteps) if self.dynamics is not None else len(self.history)
        dh = self.evaluate()
        saved = False
        if self.save is not None and self.save.wants(dh):
            self.save.write(self._frame(dh, step))
            saved = True
        above = int(np.count_nonzero(dh > self.threshold))
        record = Evaluation(
            step=step,
            max_dh=float(dh.max()),
            mean_dh=float(dh.mean()),
            fraction_above=above / len(dh),
            count_above=above,
            saved=saved,
            seconds=time.perf_counter() - start,
        )
        self.history.append(record)
        if self.log is not None:
            self._print(record)
        if self.halt is not None and record.max_dh > self.halt:
            raise QuestsHalt(step, record.max_dh, self.halt, above)
        return record

    def evaluate(self) -> np.ndarray:
        """dH (nats) of every atom of the current frame; also stored in ``atoms.arrays["dH"]``."""
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
        return dh

    # ----------------------------------------------------------------- results
    @property
    def last(self) -> Evaluation | None:
        """The latest evaluation, or None before the first call."""
        return self.history[-1] if self.history else None

    def table(self) -> str:
        """The history as text: one line per evaluation, the header first."""
        return "\n".join([_HEADER] + [_line(record) for record in self.history])

    # ----------------------------------------------------------------- internals
    def _frame(self, dh: np.ndarray, step: int) -> SavedFrame:
        atoms = self.atoms
        return SavedFrame(
            species=atoms.get_chemical_symbols(),
            positions=atoms.positions,
            cell=np.asarray(atoms.cell),
            pbc=tuple(bool(p) for p in atoms.pbc),
            ids=np.arange(1, len(atoms) + 1),
            dh=dh,
            step=step,
            info={"source": "ase"},
        )

    def _print(self, record: Evaluation) -> None:
        stream = sys.stdout if self.log is True else self.log
        if len(self.history) == 1:
            print(_HEADER, file=stream)
        print(_line(record), file=stream, flush=True)


_HEADER = f"{'step':>8} {'max dH':>10} {'mean dH':>10} {'frac>t':>8} {'n>t':>6}  saved"


def _line(record: Evaluation) -> str:
    return (f"{record.step:>8d} {record.max_dh:>10.4f} {record.mean_dh:>10.4f} "
            f"{record.fraction_above:>8.4f} {record.count_above:>6d}  {'yes' if record.saved else ''}")


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
