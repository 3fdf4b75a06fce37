"""The fast-dH index of a species-aware reference: one cluster index per centre element.

Species-aware dH compares an atom of element A with the reference rows centred on A only
(:mod:`lammps_quests.core._information`), and a species-aware reference stores its rows grouped
by centre element. So the fast index of such a reference is simply one
:class:`~lammps_quests.core.ClusterIndex` per element, each built from that
element's contiguous block of rows, and the fast dH of an A-centred atom is the fast dH against
A's index. Each row's value comes from one per-element pruned sum, so both guarantees of
:mod:`lammps_quests.core._pruned_sums` hold row by row, unchanged: exact dH <= result <= exact
dH + tol, and with decision thresholds no atom whose exact dH is above t is reported at or below t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._cluster_index import ClusterIndex, build_cluster_index


@dataclass(frozen=True)
class SpeciesClusterIndex:
    """Per-element cluster indexes of a species-aware reference.

    parts: one :class:`ClusterIndex` per species (in the reference's species order), or None
        for a species without reference rows.
    row_offsets: (S + 1,) int64; rows row_offsets[s]:row_offsets[s + 1] of the reference are
        centred on species s (each part's ``order`` counts from its own first row).
    """

    parts: tuple
    row_offsets: np.ndarray

    @property
    def n_species(self) -> int:
        return len(self.parts)

    @property
    def n_clusters(self) -> int:
        """Clusters over all elements."""
        return sum(part.n_clusters for part in self.parts if part is not None)

    @property
    def n_rows(self) -> int:
        return int(self.row_offsets[-1])

    @property
    def width(self) -> int:
        """Descriptor width (columns), 0 if no species has rows."""
        return next((int(part.centroids.shape[1]) for part in self.parts if part is not None), 0)


def build_species_cluster_index(X, labels, n_species: int, cluster_size: int | None = None,
                                seed: int = 0, progress=None) -> SpeciesClusterIndex:
    """Cluster each element's rows of a species-aware reference separately.

    Args:
        X: (n, d) species-aware reference descriptors, Å^-1 (may be memory-mapped), rows
            grouped by centre species in species order (as a species-aware reference stores them).
        labels: (n,) centre species numbers 0..n_species-1, non-decreasing.
        n_species: S, the number of species.
        cluster_size, seed, progress: as for :func:`build_cluster_index` (per element).

    Returns:
        The :class:`SpeciesClusterIndex`.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(X),):
        raise ValueError(f"species labels must have one entry per reference row ({len(X)}), got {labels.shape}")
    if labels.size > 1 and bool(np.any(labels[1:] < labels[:-1])):
        raise ValueError("a per-element index needs the reference rows grouped by centre species "
                         "(as Reference files store them); sort the rows by species first")
    offsets = np.searchsorted(labels, np.arange(n_species + 1), side="left").astype(np.int64)
    parts = tuple(
        build_cluster_index(X[offsets[s]:offsets[s + 1]], cluster_size=cluster_size, seed=seed, progress=progress)
        if offsets[s + 1] > offsets[s] else None
        for s in range(n_species)
    )
    return SpeciesClusterIndex(parts=parts, row_offsets=offsets)


def check_part(index: SpeciesClusterIndex, s: int, elements=None) -> ClusterIndex:
    """The index of species ``s``; a ValueError naming it when the reference has none of it."""
    part = index.parts[s]
    if part is None:
        raise missing_species_error(s, elements)
    return part


def missing_species_error(s: int, elements=None) -> ValueError:
    """The error for atoms of species ``s`` when the reference has no rows centred on it
    (``elements``: the ordered element symbols naming it, or None)."""
    name = elements[s] if elements is not None else f"species {s}"
    return ValueError(f"the reference has no environments centred on {name}, but the structure has "
                      f"{name} atoms; add structures with {name} to the reference")


__all__ = ["SpeciesClusterIndex", "build_species_cluster_index", "check_part", "missing_species_error"]
