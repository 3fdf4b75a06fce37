"""Periodic images: turn (positions, cell, pbc) into explicit points for the neighbour kernel.

The descriptor kernel (:mod:`lammps_quests.core._neighbors`) knows nothing about cells; it takes
centre atoms and a cloud of candidate neighbour points. This module builds that cloud for a
periodic or partially periodic cell, the same way LAMMPS builds ghost atoms for a sub-domain:
every atom is wrapped into the cell along its periodic directions, and every image that lies
within one cutoff of the cell is added. Along non-periodic directions nothing is wrapped or
replicated, so a slab with ``pbc = (True, True, False)`` stays a slab.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_cutoff, check_positions


def complete_cell(cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """Return a full-rank copy of ``cell`` (rows = lattice vectors, Å).

    Lattice vectors of non-periodic directions may be zero (ASE allows this for molecules and
    slabs); they are replaced by unit vectors orthogonal to the others, which changes nothing
    physical because nothing is replicated along them. A periodic direction with a zero or
    degenerate vector is an error.
    """
    cell = np.array(cell, dtype=np.float64).reshape(3, 3)
    if not np.all(np.isfinite(cell)):
        raise ValueError("cell contains NaN or inf; give three finite lattice vectors in Å")
    for axis in range(3):
        if not pbc[axis] and np.linalg.norm(cell[axis]) <= 1e-12:
            others = [cell[a] for a in range(3) if a != axis and np.linalg.norm(cell[a]) > 1e-12]
            cell[axis] = _unit_orthogonal_to(others)
    volume = abs(np.linalg.det(cell))
    scale = np.prod(np.linalg.norm(cell, axis=1))
    if not volume > 1e-10 * scale:
        raise ValueError(
            f"the cell is singular (volume {volume:.3g} Å^3): its lattice vectors are linearly "
            "dependent; give three independent lattice vectors for the periodic directions"
        )
    return cell


def _unit_orthogonal_to(vectors: list[np.ndarray]) -> np.ndarray:
    """The Cartesian axis with the largest part orthogonal to ``vectors``, made orthonormal."""
    basis = []
    for v in vectors:  # Gram-Schmidt, so projections below are exact
        for b in basis:
            v = v - np.dot(v, b) * b
        if np.linalg.norm(v) > 1e-12:
            basis.append(v / np.linalg.norm(v))
    candidates = []
    for e in np.eye(3):
        for b in basis:
            e = e - np.dot(e, b) * b
        candidates.append(e)
    best = max(candidates, key=np.linalg.norm)
    return best / np.linalg.norm(best)


def plane_spacings(cell: np.ndarray) -> np.ndarray:
    """Distances (Å) between neighbouring lattice planes along each of the three directions."""
    volume = abs(np.linalg.det(cell))
    areas = np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    return volume / areas


def periodic_images(
    positions: np.ndarray,
    cell: np.ndarray | None,
    pbc,
    cutoff: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Explicit neighbour points for atoms in a (partially) periodic cell.

    Args:
        positions: (n, 3) array, Å.
        cell: (3, 3) array of lattice vectors (rows), Å; ignored when no direction is periodic.
        pbc: bool or three bools, periodicity along the three lattice vectors.
        cutoff: Å; images farther than this from the cell are left out.

    Returns:
        (points, index): points (m, 3) in Å, whose first n rows are the atoms themselves,
        wrapped into the cell along periodic directions, the rest images within ``cutoff`` of
        the cell; index (m,) int64, the atom each point is an image of (``index[:n] == arange(n)``).
    """
    positions = check_positions(positions)
    cutoff = check_cutoff(cutoff)
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)).copy()
    n = len(positions)
    if not pbc.any():
        return positions.copy(), np.arange(n, dtype=np.int64)
    if cell is None:
        raise ValueError("a periodic system needs a cell: give the (3, 3) lattice vectors in Å")
    cell = complete_cell(cell, pbc)

    frac = np.linalg.solve(cell.T, positions.T).T
    frac[:, pbc] -= np.floor(frac[:, pbc])
    frac[:, pbc] %= 1.0  # floor can leave exactly 1.0 after rounding
    wrapped = frac @ cell

    margin = np.where(pbc, cutoff / plane_spacings(cell), 0.0)
    reach = np.ceil(margin).astype(int)
    shifts = _shift_vectors(reach)
    points, index = [wrapped], [np.arange(n, dtype=np.int64)]
    for shift in shifts:
        shifted = frac + shift
        # only periodic directions bound the images; along the others atoms may lie anywhere
        near = (shifted[:, pbc] >= -margin[pbc]) & (shifted[:, pbc] <= 1.0 + margin[pbc])
        inside = np.all(near, axis=1)
        if inside.any():
            points.append(shifted[inside] @ cell)
            index.append(np.nonzero(inside)[0].astype(np.int64))
    return np.concatenate(points), np.concatenate(index)


def _shift_vectors(reach: np.ndarray) -> np.ndarray:
    """All integer lattice shifts within ``reach`` along each axis, except zero."""
    ranges = [np.arange(-r, r + 1) for r in reach]
    grid = np.stack(np.meshgrid(*ranges, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid[np.any(grid != 0, axis=1)].astype(np.float64)
