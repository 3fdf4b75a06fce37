"""QUESTS descriptors of whole structures: ASE frames, raw arrays (positions, cell, pbc) or points.

One family, one argument order: what is described (frames; positions, cell, pbc; or centres,
points, self_index), then ``k``, ``cutoff`` (Å) and ``rows``, then the species as keywords.
Image building (:func:`lammps_quests.core.periodic_images`) runs in front of the one neighbour
kernel.

Species are a parameter, not a second set of functions: frames take ``elements`` (the ordered
element symbols; each atom's chemical symbol gives its species), arrays and points take
``labels`` (species numbers 0..S-1) with ``n_species`` = S. Given them, the descriptors are the
species-aware ones of :mod:`lammps_quests.core._species`, width (S + 1)(2k - 1); without them
(``elements=None``, ``labels=None``: species-agnostic) the plain QUESTS descriptors, width
2k - 1, bit for bit (also with S = 1). The centre species of every row is a separate array:
:func:`species_labels` (frames) or the ``labels`` given (arrays).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ._defaults import DEFAULT_CUTOFF, DEFAULT_K
from ._images import periodic_images
from ._neighbors import agnostic_descriptors
from ._species import (check_labels, check_species_count, descriptor_width, empty_species_descriptors,
                      species_aware_descriptors, species_numbers)
from ._validation import check_cutoff, check_k, check_positions

__all__ = ["descriptor_width", "descriptors", "descriptors_from_arrays", "descriptors_from_points",
           "species_labels"]


def descriptors_from_points(
    centers: np.ndarray,
    points: np.ndarray,
    self_index: np.ndarray | None = None,
    k: int = DEFAULT_K,
    cutoff: float = DEFAULT_CUTOFF,
    *,
    labels: np.ndarray | None = None,
    n_species: int | None = None,
) -> np.ndarray:
    """Descriptors of ``centers`` given every candidate neighbour in ``points`` (LAMMPS-style).

    Args:
        centers: (nc, 3) positions, Å, of the atoms described.
        points: (np, 3) every atom that may be a neighbour (periodic images or ghosts included), Å.
        self_index: (nc,) row of each centre in ``points`` (-1: not among them); None: 0..nc-1.
        k: number of neighbours.
        cutoff: cutoff radius, Å.
        labels: (np,) species number of every point, for species-aware descriptors; None for
            species-agnostic ones.
        n_species: S, required with ``labels`` (the reference's number of species).

    Returns:
        (nc, descriptor_width(k, S)) float64, Å^-1.
    """
    if labels is None:
        if n_species not in (None, 1):
            raise ValueError("n_species needs labels: the species number of every point")
        return agnostic_descriptors(centers, points, self_index, k, cutoff)
    n_species = _species_count(n_species)
    points = check_positions(points, "neighbour positions")
    labels = check_labels(labels, len(points), n_species, "point labels")
    if self_index is None:
        self_index = np.arange(len(centers), dtype=np.int64)
    self_index = np.ascontiguousarray(self_index, dtype=np.int64)
    return species_aware_descriptors(centers, points, labels, n_species, self_index, k, cutoff)


def _species_count(n_species) -> int:
    if n_species is None:
        raise ValueError("species labels need n_species, the number of species of the reference "
                         "(it fixes the descriptor width)")
    return check_species_count(n_species)


def descriptors_from_arrays(
    positions: np.ndarray,
    cell: np.ndarray | None = None,
    pbc=False,
    k: int = DEFAULT_K,
    cutoff: float = DEFAULT_CUTOFF,
    rows: tuple[int, int] | None = None,
    *,
    labels: np.ndarray | None = None,
    n_species: int | None = None,
) -> np.ndarray:
    """Descriptors of every atom of one structure (or of the atoms ``rows``).

    Args:
        positions: (n, 3) array, Å.
        cell: (3, 3) lattice vectors as rows, Å (needed when any direction is periodic).
        pbc: bool or three bools; e.g. ``(True, True, False)`` for a slab, ``False`` for a molecule.
        k: number of neighbours.
        cutoff: cutoff radius, Å.
        rows: (first, last): describe only atoms first..last-1 (all atoms stay neighbours).
        labels: (n,) species numbers 0..S-1 of the atoms, for species-aware descriptors.
        n_species: S, required with ``labels``.

    Returns:
        (n, descriptor_width(k, S)) float64 array, Å^-1, rows in atom order ((last - first, ...)
        with ``rows``).
    """
    k = check_k(k)
    cutoff = check_cutoff(cutoff)
    positions = check_positions(positions)
    n = len(positions)
    if labels is not None:
        n_species = _species_count(n_species)
        labels = check_labels(labels, n, n_species)
    elif n_species not in (None, 1):
        raise ValueError("n_species needs labels: the species number of every atom")
    first, last = (0, n) if rows is None else (max(int(rows[0]), 0), min(int(rows[1]), n))
    if first >= last:
        return empty_species_descriptors(k, 1 if labels is None else n_species)
    points, image_of = periodic_images(positions, cell, pbc, cutoff)
    own = np.arange(first, last, dtype=np.int64)
    if labels is None:
        return agnostic_descriptors(points[first:last], points, own, k, cutoff)
    return species_aware_descriptors(points[first:last], points, labels[image_of], n_species, own, k, cutoff)


def descriptors(frames, k: int = DEFAULT_K, cutoff: float = DEFAULT_CUTOFF,
                rows: tuple[int, int] | None = None, *, elements=None) -> np.ndarray:
    """Descriptors of all atoms of one ``ase.Atoms`` or a sequence of them, in order.

    Args:
        frames: one ``ase.Atoms`` or a sequence of them (periodicity follows each frame's
            ``pbc``, so slabs and molecules are handled).
        k: number of neighbours.
        cutoff: cutoff radius, Å.
        rows: (start, stop): keep only rows start..stop-1 of the result, computing no others
            (how MPI ranks share out the atoms of a dataset).
        elements: None for species-agnostic descriptors, or the ordered element symbols (S of
            them) for species-aware ones; every atom's chemical symbol must be among them. The
            centre species of the rows: :func:`species_labels` with the same arguments.

    Returns:
        (total atoms, descriptor_width(k, S)) float64 array in Å^-1, frame then atom order.
    """
    frames = _as_frame_list(frames)
    k = check_k(k)
    cutoff = check_cutoff(cutoff)
    elements = None if elements is None else list(elements)
    start, stop = (0, sum(len(atoms) for atoms in frames)) if rows is None else rows
    blocks, offset = [], 0
    for atoms in frames:
        n = len(atoms)
        if start < offset + n and offset < stop:
            labels = None if elements is None else species_numbers(atoms.get_chemical_symbols(), elements)
            blocks.append(descriptors_from_arrays(
                atoms.positions, np.asarray(atoms.cell), atoms.pbc, k, cutoff, rows=(start - offset, stop - offset),
                labels=labels, n_species=None if elements is None else len(elements)))
        offset += n
    if not blocks:
        return empty_species_descriptors(k, 1 if elements is None else len(elements))
    return np.concatenate(blocks)


def species_labels(frames, elements, rows: tuple[int, int] | None = None) -> np.ndarray:
    """Centre species number (index in ``elements``, the ordered element symbols) of every
    atom of ``frames``, in the row order of :func:`descriptors` (``rows`` likewise); int64.

    An element not in ``elements`` is a ValueError naming it."""
    frames = _as_frame_list(frames)
    elements = list(elements)
    labels = [species_numbers(atoms.get_chemical_symbols(), elements) for atoms in frames]
    labels = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)
    return labels if rows is None else labels[max(int(rows[0]), 0):max(int(rows[1]), 0)]


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
