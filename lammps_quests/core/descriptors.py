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
from .species import (check_labels, empty_species_descriptors, species_descriptors_from_points,
                      species_numbers)
from .validation import check_cutoff, check_k, check_positions


def descriptors_from_arrays(
    positions: np.ndarray,
    cell: np.ndarray | None = None,
    pbc=False,
    k: int = DEFAULT_K,
    cutoff: float = DEFAULT_CUTOFF,
    rows: tuple[int, int] | None = None,
) -> np.ndarray:
    """Descriptors of every atom of one structure (or of the atoms ``rows``).

    Args:
        positions: (n, 3) array, Å.
        cell: (3, 3) lattice vectors as rows, Å (needed when any direction is periodic).
        pbc: bool or three bools; e.g. ``(True, True, False)`` for a slab, ``False`` for a molecule.
        k: number of neighbours.
        cutoff: cutoff radius, Å.
        rows: (first, last): describe only atoms first..last-1 (all atoms stay neighbours).

    Returns:
        (n, 2k - 1) float64 array, Å^-1, rows in atom order ((last - first, 2k - 1) with ``rows``).
    """
    k = check_k(k)
    cutoff = check_cutoff(cutoff)
    positions = check_positions(positions)
    n = len(positions)
    first, last = (0, n) if rows is None else (max(int(rows[0]), 0), min(int(rows[1]), n))
    if first >= last:
        return np.zeros((0, descriptor_width(k)))
    points, _ = periodic_images(positions, cell, pbc, cutoff)
    return descriptors_from_points(points[first:last], points, np.arange(first, last, dtype=np.int64), k, cutoff)


def descriptors(frames, k: int = DEFAULT_K, cutoff: float = DEFAULT_CUTOFF,
                rows: tuple[int, int] | None = None) -> np.ndarray:
    """Descriptors of all atoms of one ``ase.Atoms`` or a sequence of them, in order.

    Returns a single (total atoms, 2k - 1) float64 array in Å^-1. Periodicity follows each
    frame's ``pbc`` flags, so slabs (periodic in x and y only) and molecules are handled.
    ``rows=(start, stop)`` keeps only rows start..stop-1 of that array, computing no others
    (how MPI ranks share out the atoms of a dataset).
    """
    frames = _as_frame_list(frames)
    k = check_k(k)
    cutoff = check_cutoff(cutoff)
    start, stop = (0, sum(len(atoms) for atoms in frames)) if rows is None else rows
    blocks, offset = [], 0
    for atoms in frames:
        n = len(atoms)
        if start < offset + n and offset < stop:
            blocks.append(descriptors_from_arrays(atoms.positions, np.asarray(atoms.cell), atoms.pbc, k, cutoff,
                                                  rows=(start - offset, stop - offset)))
        offset += n
    return np.concatenate(blocks) if blocks else np.zeros((0, descriptor_width(k)))


def species_descriptors_from_arrays(
    positions: np.ndarray,
    labels: np.ndarray,
    n_species: int,
    cell: np.ndarray | None = None,
    pbc=False,
    k: int = DEFAULT_K,
    cutoff: float = DEFAULT_CUTOFF,
    rows: tuple[int, int] | None = None,
) -> np.ndarray:
    """Species-aware descriptors (:mod:`lammps_quests.core.species`) of every atom of one structure.

    ``labels`` (n,) are species numbers 0..n_species-1; the rest (``rows`` too) as for
    :func:`descriptors_from_arrays`. Returns (n, (S + 1)(2k - 1)) float64 in Å^-1 (2k - 1 for S = 1).
    """
    k = check_k(k)
    cutoff = check_cutoff(cutoff)
    positions = check_positions(positions)
    labels = check_labels(labels, len(positions), n_species)
    n = len(positions)
    first, last = (0, n) if rows is None else (max(int(rows[0]), 0), min(int(rows[1]), n))
    if first >= last:
        return empty_species_descriptors(k, n_species)
    points, image_of = periodic_images(positions, cell, pbc, cutoff)
    return species_descriptors_from_points(points[first:last], points, labels[image_of], n_species,
                                           np.arange(first, last, dtype=np.int64), k, cutoff)


def species_descriptors(frames, species, k: int = DEFAULT_K, cutoff: float = DEFAULT_CUTOFF,
                        rows: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Species-aware descriptors of all atoms of one ``ase.Atoms`` or a sequence of them.

    ``species``: the ordered element symbols (S of them); every atom's chemical symbol must be
    one of them. Returns (descriptors (total atoms, (S + 1)(2k - 1)) in Å^-1, species number of
    every atom (total atoms,) int64), rows in frame then atom order; ``rows=(start, stop)``
    keeps rows start..stop-1 only, as for :func:`descriptors`.
    """
    frames = _as_frame_list(frames)
    species = list(species)
    start, stop = (0, sum(len(atoms) for atoms in frames)) if rows is None else rows
    blocks, labels, offset = [], [], 0
    for atoms in frames:
        n = len(atoms)
        if start < offset + n and offset < stop:
            numbers = species_numbers(atoms.get_chemical_symbols(), species)
            part = (start - offset, stop - offset)
            blocks.append(species_descriptors_from_arrays(atoms.positions, numbers, len(species),
                                                          np.asarray(atoms.cell), atoms.pbc, k, cutoff, rows=part))
            labels.append(numbers[max(part[0], 0):part[1]])
        offset += n
    if not blocks:
        return empty_species_descriptors(check_k(k), len(species)), np.zeros(0, dtype=np.int64)
    return np.concatenate(blocks), np.concatenate(labels)


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
