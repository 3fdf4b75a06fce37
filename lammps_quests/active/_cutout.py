"""Cut a hot spot out of a structure: a non-periodic cluster in a box with vacuum.

Each member atom is placed at its own periodic image (wrapped position + shift @ cell), so the
cluster is a finite piece of the infinite periodic structure: no atom is duplicated at one
image and no pair is closer than in the structure. The box around the cluster adds ``vacuum``
Å on every side (default: the descriptor cutoff), so read as periodic or not, no atom sees an
image of the cluster within the cutoff and the descriptors are those of the cluster.

``exact`` flags the atoms whose whole environment lies in the cut: every atom within the
descriptor cutoff of them in the periodic structure is in the cluster at the same relative
position, so their descriptors, and dH, equal the ones in the structure. A hot spot that spans
the box is returned as the whole periodic structure (every atom exact).
"""

from __future__ import annotations

import numpy as np

from ._regions import HotSpot, PeriodicPoints
from ._structure import Structure


def exact_flags(spot: HotSpot, space: PeriodicPoints, cutoff: float) -> np.ndarray:
    """(m,) bool: members whose neighbours within ``cutoff`` Å are all members (``space``
    needs reach >= cutoff)."""
    if spot.spans_box:
        return np.ones(len(spot.atoms), dtype=bool)
    members = {(int(a), *map(int, s)) for a, s in zip(spot.atoms, spot.shifts)}
    flags = np.empty(len(spot.atoms), dtype=bool)
    for row, (a, s) in enumerate(zip(spot.atoms, spot.shifts)):
        atoms, shifts = space.within(space.wrapped[a], cutoff)
        flags[row] = all((int(b), *map(int, t + s)) in members for b, t in zip(atoms, shifts))
    return flags


def cut_out(structure: Structure, spot: HotSpot, space: PeriodicPoints, cutoff: float,
            vacuum: float | None = None) -> Structure:
    """The cluster of ``spot`` cut from ``structure`` (whose arrays ``space`` was built from).

    Columns of ``structure`` are carried over per member (ids stay the original ones); an
    ``exact`` column (1/0) is added; ``info`` gets ``cut_atoms``, ``spans_box`` (0/1) and
    ``vacuum`` (Å) on top of the structure's info.
    """
    exact = exact_flags(spot, space, cutoff)
    columns = {name: np.asarray(values)[spot.atoms] for name, values in structure.columns.items()}
    columns["exact"] = exact.astype(np.int64)
    info = {**structure.info, "spans_box": int(spot.spans_box), "cut_atoms": len(spot.atoms)}
    species = [structure.species[a] for a in spot.atoms]
    if spot.spans_box:
        return Structure(species, structure.positions.copy(), np.array(structure.cell, dtype=float),
                         np.array(structure.pbc, dtype=bool), columns, info)
    vacuum = float(cutoff if vacuum is None else vacuum)
    positions = space.wrapped[spot.atoms] + spot.shifts @ space.cell
    low = positions.min(axis=0) - vacuum
    positions = positions - low
    extent = positions.max(axis=0) + vacuum
    info["vacuum"] = vacuum
    return Structure(species, positions, np.diag(extent), np.zeros(3, dtype=bool), columns, info)
