"""QUESTS descriptors of whole structures: ASE frames or raw arrays (positions, cell, pbc).

Image building (:func:`lammps_quests.core.images.periodic_images`) runs in front of the one neighbour
kernel (:func:`lammps_quests.core.neighbors.descriptors_from_points`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .defaults import DEFAULT_CUTOFF, DEFAULT_K
from .images import periodic_images
from .neighbors import descriptor_width, descriptors_from_points
from .validation import check_cutoff, check_k, check_positions


def descriptors_from_arrays(
    positions: np.ndarray,
    cell: np.ndarray | None = None,
    pbc=False,
    k: int = DEFAULT_K,
    cutoff: float = DEFAULT_CUTOFF,
) -> np.ndarray:
    """Descriptors of every atom of one structure.

    Parameters
    ----------
    positions : (n, 3) array, Å
    cell : (3, 3) lattice vectors as rows, Å (needed when any direction is periodic)
    pbc : bool or three bools; e.g. ``(True, True, False)`` for a slab, ``False`` for a molecule
    k : number of neighbours; cutoff : Å

    Returns
    -------
    (n, 2k - 1) float64 array, Å^-1, rows in atom order.
    """
    k = check_k(k)
    cutoff = check_cutoff(cutoff)
    positions = check_positions(positions)
    if len(positions) == 0:
        return np.zeros((0, descriptor_width(k)))
    points, _ = periodic_images(positions, cell, pbc, cutoff)
    n = len(positions)
    return descriptors_from_points(points[:n], points, np.arange(n, dtype=np.int64), k, cutoff)


def descriptors(frames, k: int = DEFAULT_K, cutoff: float = DEFAULT_CUTOFF) -> np.ndarray:
    """Descriptors of all atoms of one ``ase.Atoms`` or a sequence of them, in order.

    Returns a single (total atoms, 2k - 1) float64 array in Å^-1. Periodicity follows each
    frame's ``pbc`` flags, so slabs (periodic in x and y only) and molecules are handled.
    """
    frames = _as_frame_list(frames)
    k = check_k(k)
    cutoff = check_cutoff(cutoff)
    blocks = [
        descriptors_from_arrays(atoms.positions, np.asarray(atoms.cell), atoms.pbc, k, cutoff)
        for atoms in frames
    ]
    return np.concatenate(blocks) if blocks else np.zeros((0, descriptor_width(k)))


def _as_frame_list(frames) -> list:
    """Accept one ase.Atoms or an iterable of them (duck-typed, so the core needs no ASE)."""
    if _is_structure(frames):
        return [frames]
    if not isinstance(frames, Iterable):
        raise ValueError(f"frames must be an ase.Atoms or a sequence of them, got {type(frames).__name__}")
    frames = list(frames)
    for i, atoms in enumerate(frames):
        if not _is_structure(atoms):
            raise ValueError(f"frame {i} is a {type(atoms).__name__}, not an ase.Atoms")
    if not frames:
        raise ValueError("no frames given: pass at least one ase.Atoms")
    return frames


def _is_structure(obj) -> bool:
    """True for ase.Atoms and anything else with positions, cell and pbc."""
    return all(hasattr(obj, name) for name in ("positions", "cell", "pbc")) and not isinstance(obj, type)
