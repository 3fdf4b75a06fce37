"""One structure to save (a frame or a cut-out) and the descriptors of chosen atoms of it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lammps_quests.core._images import periodic_images
from lammps_quests.core._neighbors import descriptors_from_points
from lammps_quests.formats._extxyz import write_extxyz_frame


@dataclass
class Structure:
    """Atoms with per-atom columns, written as one extended-XYZ frame.

    positions (n, 3) and cell (3, 3, rows = lattice vectors) in Å; ``columns`` maps names to
    (n,) arrays (ids, types, dH in nats, ``new`` and ``exact`` flags); ``info`` holds ints,
    floats and strings without spaces (step, source, ...).
    """

    species: list
    positions: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    columns: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.positions)

    def write(self, path) -> None:
        """Append this structure to an extended-XYZ file at full precision."""
        write_extxyz_frame(path, species=list(self.species), positions=self.positions, cell=self.cell,
                           pbc=[bool(p) for p in self.pbc], columns=self.columns, info=self.info)

    def descriptors(self, rows, k: int, cutoff: float) -> np.ndarray:
        """Descriptors (Å^-1) of the atoms ``rows`` of this structure (see :func:`descriptors_of`)."""
        return descriptors_of(self.positions, self.cell, self.pbc, rows, k, cutoff)

    @classmethod
    def from_atoms(cls, atoms) -> Structure:
        """Structure from an ``ase.Atoms`` (its per-atom arrays become columns)."""
        columns = {name: np.asarray(values) for name, values in atoms.arrays.items()
                   if name not in ("numbers", "positions") and np.ndim(values) == 1}
        return cls(list(atoms.get_chemical_symbols()), np.array(atoms.positions), np.array(atoms.cell),
                   np.array(atoms.pbc), columns, dict(atoms.info))


def descriptors_of(positions, cell, pbc, rows, k: int, cutoff: float) -> np.ndarray:
    """Descriptors (Å^-1) of atoms ``rows`` of a structure, periodic along ``pbc``.

    The in-run saving code and the offline tools call this one function with the same rows on
    the same (written, re-read) positions, so both get bit-identical descriptors.
    """
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    points, _ = periodic_images(positions, cell, pbc, cutoff)
    return descriptors_from_points(points[rows], points, rows, k, cutoff)
