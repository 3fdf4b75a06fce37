"""Species-aware QUESTS descriptors: which element the centre and its neighbours are.

The species-agnostic descriptor (:mod:`lammps_quests.core._neighbors`) sees geometry only, so an
In atom on a P site of zincblende InP looks like any other atom of the crystal. With S >= 2
species (numbered 0..S-1) the species-aware descriptor of a centre atom is the concatenation of
S + 1 blocks, each a full QUESTS descriptor (width 2k - 1, Å^-1) from the one neighbour kernel:

* block 0: all atoms as neighbour candidates (the species-agnostic descriptor);
* block 1 + s: only atoms of species s as neighbour candidates (the centre's view of the
  sublattice of species s; all zeros when none lies within the cutoff).

Width (S + 1)(2k - 1), whatever the centre's species. The centre's own species is not part of the
vector: it is a label, and dH is computed per centre species against only the reference rows of
that species (:mod:`lammps_quests.core._information`, ``y_labels=``), so an atom of species A is never
covered by environments centred on another species (exactly, not through a large distance).

For a centre of species A, block 1 + A is the published design's block of A (the descriptor on
A's sublattice) and block 1 + B, B != A, is the cross-species view the published design leaves
out: which species the neighbours are. With one species (S = 1) block 1 would repeat block 0
exactly, so it is left out and the species-aware descriptor IS the agnostic one, bit for bit.
"""

from __future__ import annotations

import numpy as np

from ._defaults import DEFAULT_CUTOFF, DEFAULT_K
from ._neighbors import descriptor_width, descriptors_from_points


def species_descriptor_width(k: int, n_species: int) -> int:
    """Columns of a species-aware descriptor: (S + 1)(2k - 1) for S >= 2, 2k - 1 for S = 1."""
    n_species = check_species_count(n_species)
    return descriptor_width(k) * (1 + n_species if n_species >= 2 else 1)


def check_species_count(n_species) -> int:
    """Number of species of a species-aware descriptor: an integer >= 1."""
    if isinstance(n_species, bool) or not isinstance(n_species, (int, np.integer)) or n_species < 1:
        raise ValueError(f"the number of species must be an integer >= 1, got {n_species!r}")
    return int(n_species)


def check_labels(labels, n: int, n_species: int, name: str = "species labels") -> np.ndarray:
    """Return ``labels`` as an (n,) int64 array of species numbers in 0..n_species-1."""
    array = np.ascontiguousarray(labels, dtype=np.int64)
    if array.shape != (n,):
        raise ValueError(f"{name} must have one entry per atom ({n}), got shape {array.shape}")
    if n and (array.min() < 0 or array.max() >= n_species):
        bad = int(array[(array < 0) | (array >= n_species)][0])
        raise ValueError(f"{name} must be species numbers 0..{n_species - 1}, found {bad}")
    return array


def species_descriptors_from_points(
    centers: np.ndarray,
    points: np.ndarray,
    point_species: np.ndarray,
    n_species: int,
    self_index: np.ndarray | None = None,
    k: int = DEFAULT_K,
    cutoff: float = DEFAULT_CUTOFF,
) -> np.ndarray:
    """Species-aware descriptors of ``centers`` given every candidate neighbour in ``points``.

    The kernel behind ``descriptors_from_points(..., labels=, n_species=)`` of
    :mod:`lammps_quests.core._descriptors` (the public name; this one is kept for old callers).

    Args:
        centers, points, self_index, k, cutoff: as for
            :func:`lammps_quests.core._neighbors.descriptors_from_points` (Å).
        point_species: (np,) ints, species number (0..S-1) of every point.
        n_species: S, the number of species of the reference the descriptors are compared with.

    Returns:
        (nc, (S + 1)(2k - 1)) float64 array in Å^-1 (for S = 1, the agnostic (nc, 2k - 1) one).
    """
    n_species = check_species_count(n_species)
    points = np.ascontiguousarray(points, dtype=np.float64)
    point_species = check_labels(point_species, len(points), n_species, "point species")
    if self_index is None:
        self_index = np.arange(len(centers), dtype=np.int64)
    self_index = np.ascontiguousarray(self_index, dtype=np.int64)
    everything = descriptors_from_points(centers, points, self_index, k, cutoff)
    if n_species == 1:
        return everything
    width = everything.shape[1]
    out = np.empty((len(everything), width * (1 + n_species)), dtype=np.float64)
    out[:, :width] = everything
    for s in range(n_species):
        sub_points, sub_self = _sublattice(points, point_species == s, self_index)
        block = slice(width * (1 + s), width * (2 + s))
        out[:, block] = descriptors_from_points(centers, sub_points, sub_self, k, cutoff)
    return out


def _sublattice(points: np.ndarray, keep: np.ndarray, self_index: np.ndarray):
    """Points of one species and each centre's row among them (-1 if it is not one of them)."""
    new_row = np.cumsum(keep) - 1
    sub_self = np.full(len(self_index), -1, dtype=np.int64)
    own = self_index >= 0
    own[own] = keep[self_index[own]]
    sub_self[own] = new_row[self_index[own]]
    return np.ascontiguousarray(points[keep]), sub_self


def species_numbers(symbols, species) -> np.ndarray:
    """Species number (index in ``species``) of every symbol; ValueError naming a missing one."""
    lookup = {symbol: number for number, symbol in enumerate(species)}
    symbols = list(symbols)
    missing = sorted({symbol for symbol in symbols if symbol not in lookup})
    if missing:
        raise ValueError(
            f"element(s) {', '.join(missing)} are not among the species {', '.join(species)}; "
            "add them to the species list (and to the reference) or remove those atoms"
        )
    return np.array([lookup[symbol] for symbol in symbols], dtype=np.int64)


def empty_species_descriptors(k: int, n_species: int) -> np.ndarray:
    """A (0, width) array for structures without atoms."""
    return np.zeros((0, species_descriptor_width(k, n_species)))


__all__ = [
    "check_labels",
    "check_species_count",
    "empty_species_descriptors",
    "species_descriptor_width",
    "species_descriptors_from_points",
    "species_numbers",
]
