"""Hot spots of a (periodic) structure: atoms within R Å of extrapolating atoms, merged.

A hot spot is the union of the spheres of radius R around a set of centre atoms, taken in the
infinite periodic structure: each member is an atom together with the lattice image (integer
shift along the cell vectors) it sits in, so a member's position is its wrapped position plus
``shift @ cell``. Spheres whose centres lie within 2R of each other (through any periodic
image) belong to one hot spot; the centres of a hot spot are placed in one consistent
unwrapping found by a breadth-first walk.

If that walk reaches a centre through two different images, the merged region is connected to
its own periodic copy: it spans the box and has no finite cut-out. Such a hot spot is marked
``spans_box`` and holds every atom of the structure once, unshifted (the periodic frame itself
is then the smallest correct structure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lammps_quests.core._images import complete_cell, periodic_images
from lammps_quests.core._validation import check_positions


@dataclass
class HotSpot:
    """One merged hot spot (indices refer to the atoms of the structure it came from)."""

    centres: np.ndarray  # (nc,) atom indices of the sphere centres, ascending
    atoms: np.ndarray  # (m,) atom index of each member
    shifts: np.ndarray  # (m, 3) int lattice shift of each member
    spans_box: bool  # the region is connected to its own periodic image


@dataclass
class PeriodicPoints:
    """Wrapped atoms and their images within ``reach`` Å of the cell, with integer shifts."""

    wrapped: np.ndarray  # (n, 3) Å
    cell: np.ndarray  # (3, 3) full-rank, rows = lattice vectors, Å
    points: np.ndarray  # (p, 3) Å: wrapped atoms first, then images
    atom: np.ndarray  # (p,) atom index of each point
    shift: np.ndarray  # (p, 3) int: point = wrapped[atom] + shift @ cell
    tree: object  # scipy.spatial.cKDTree over ``points``

    @classmethod
    def build(cls, positions, cell, pbc, reach: float) -> PeriodicPoints:
        positions = check_positions(positions)
        pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)).copy()
        if pbc.any():
            full = complete_cell(cell, pbc)
        else:
            full = np.eye(3) if cell is None else complete_cell(cell, pbc)
        points, atom = periodic_images(positions, full, pbc, reach)
        n = len(positions)
        wrapped = points[:n]
        frac = np.linalg.solve(full.T, (points - wrapped[atom]).T).T
        shift = np.rint(frac).astype(np.int64)
        # imported here: scipy.spatial costs ~0.3 s of CPU at import, paid by every LAMMPS rank
        # that loads the monitor even when it never cuts out a hot spot
        from scipy.spatial import cKDTree

        return cls(wrapped, full, points, atom, shift, cKDTree(points))

    def within(self, centre: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """(atoms, shifts) of the points within ``radius`` Å of a point inside the cell."""
        rows = np.sort(np.asarray(self.tree.query_ball_point(centre, radius), dtype=np.int64))
        return self.atom[rows], self.shift[rows]


def hot_spots(positions, cell, pbc, hot, radius: float, space: PeriodicPoints | None = None) -> list[HotSpot]:
    """Merge the spheres of ``radius`` Å around the atoms flagged in ``hot`` into hot spots.

    positions : (n, 3) Å; cell : (3, 3) rows = lattice vectors, Å (None for a cluster);
    pbc : bool or three bools; hot : (n,) bool mask or index array of the centre atoms.
    space : the structure's :class:`PeriodicPoints` with reach >= 2R, if already built.
    Returns the hot spots ordered by their lowest centre index (deterministic).
    """
    positions = check_positions(positions)
    hot = np.asarray(hot)
    centres = np.flatnonzero(hot) if hot.dtype == bool else np.unique(hot.astype(np.int64))
    if not radius > 0:
        raise ValueError(f"the hot-spot radius must be > 0 Å, got {radius}")
    if len(centres) == 0:
        return []
    if space is None:
        space = PeriodicPoints.build(positions, cell, pbc, 2.0 * radius)
    is_centre = np.zeros(len(positions), dtype=bool)
    is_centre[centres] = True
    placed: dict[int, np.ndarray] = {}
    spots = []
    for seed in centres:
        if int(seed) in placed:
            continue
        component, spans = _walk(int(seed), space, is_centre, radius, placed)
        spots.append(_members(np.array(sorted(component)), placed, space, radius, spans,
                              len(positions)))
    return spots


def _walk(seed, space, is_centre, radius, placed):
    """Breadth-first walk over centres whose spheres overlap; record each centre's shift."""
    placed[seed] = np.zeros(3, dtype=np.int64)
    queue, component, spans = [seed], [seed], False
    while queue:
        i = queue.pop(0)
        atoms, shifts = space.within(space.wrapped[i], 2.0 * radius)
        for j, s in zip(atoms, shifts):
            if not is_centre[j]:
                continue
            target = placed[i] + s
            if int(j) not in placed:
                placed[int(j)] = target
                component.append(int(j))
                queue.append(int(j))
            elif not np.array_equal(placed[int(j)], target):
                spans = True  # j reached through two images: the region meets its own copy
    return component, spans


def _members(centres, placed, space, radius, spans, n_atoms) -> HotSpot:
    if spans:
        return HotSpot(centres, np.arange(n_atoms, dtype=np.int64),
                       np.zeros((n_atoms, 3), dtype=np.int64), True)
    keys = {}
    for i in centres:
        atoms, shifts = space.within(space.wrapped[i], radius)
        for a, s in zip(atoms, shifts + placed[int(i)]):
            keys[(int(a), *map(int, s))] = None
    ordered = sorted(keys)
    atoms = np.array([key[0] for key in ordered], dtype=np.int64)
    shifts = np.array([key[1:] for key in ordered], dtype=np.int64).reshape(-1, 3)
    return HotSpot(centres, atoms, shifts, False)
