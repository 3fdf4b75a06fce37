"""Solid-like clusters in a melt (paper Methods, Fig. 5f, Fig. 31).

Atoms of a frame with dH <= 0 against a solid reference are the nodes of a graph; edges join
nodes at most 3.0 Å apart under the frame's periodic boundary conditions (minimum image in any
cell, orthogonal or triclinic, via ASE's neighbour list); clusters are connected components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EDGE_CUTOFF = 3.0  # Å, paper Methods


@dataclass(frozen=True)
class FrameClusters:
    """Clusters of one frame: per-atom labels (-1 = not solid-like) and sizes, largest first."""

    labels: np.ndarray
    sizes: np.ndarray

    @property
    def largest(self) -> int:
        return int(self.sizes[0]) if self.sizes.size else 0

    @property
    def n_solid_like(self) -> int:
        return int(np.count_nonzero(self.labels >= 0))


def periodic_components(positions, cell, pbc, cutoff: float = EDGE_CUTOFF):
    """Connected components of points joined when closer than ``cutoff`` Å (periodic images).

    Returns (labels (n,), sizes (n_components,)) with components numbered by decreasing size.
    """
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    positions = np.asarray(positions, dtype=float)
    n = len(positions)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    atoms = Atoms(numbers=np.zeros(n, dtype=int), positions=positions, cell=cell, pbc=pbc)
    first, second = neighbor_list("ij", atoms, float(cutoff), self_interaction=False)
    # imported here, not at module level: every LAMMPS rank that runs the monitor imports this
    # package, and scipy's sub-packages cost ~0.3 s of CPU there for nothing
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(first.size), (first, second)), shape=(n, n))
    _, raw = connected_components(graph, directed=False)
    counts = np.bincount(raw)
    order = np.argsort(-counts, kind="stable")  # new label r = r-th largest component
    relabel = np.empty_like(order)
    relabel[order] = np.arange(order.size)
    return relabel[raw].astype(np.int64), counts[order].astype(np.int64)


def frame_clusters(frame, dh_values, cutoff: float = EDGE_CUTOFF, threshold: float = 0.0) -> FrameClusters:
    """Clusters of the atoms of ``frame`` (ase.Atoms) with dH <= ``threshold`` (nats): two such
    atoms are joined when closer than ``cutoff`` Å (through periodic images)."""
    dh_values = np.asarray(dh_values)
    if dh_values.shape != (len(frame),):
        raise ValueError(f"need one dH per atom ({len(frame)}), got shape {dh_values.shape}")
    nodes = np.nonzero(dh_values <= threshold)[0]
    labels = np.full(len(frame), -1, dtype=np.int64)
    sub_labels, sizes = periodic_components(frame.positions[nodes], frame.cell, frame.pbc, cutoff)
    labels[nodes] = sub_labels
    return FrameClusters(labels=labels, sizes=sizes)


def size_distribution(clusters) -> tuple[np.ndarray, np.ndarray]:
    """(size, number of clusters of that size) over all frames, sizes ascending."""
    sizes = np.concatenate([c.sizes for c in clusters]) if clusters else np.zeros(0, dtype=np.int64)
    if sizes.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    values, counts = np.unique(sizes, return_counts=True)
    return values, counts


def write_clusters_csv(path, clusters, frame_labels=None) -> None:
    """CSV, one row per frame: frame, solid-like atoms, number of clusters, largest cluster."""
    import csv

    frame_labels = range(len(clusters)) if frame_labels is None else frame_labels
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["frame", "n_solid_like", "n_clusters", "largest_cluster"])
        for label, c in zip(frame_labels, clusters):
            writer.writerow([label, c.n_solid_like, int(c.sizes.size), c.largest])


def write_distribution_csv(path, sizes, counts) -> None:
    """CSV: cluster size, number of clusters of that size (all frames)."""
    import csv

    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["cluster_size", "count"])
        for size, count in zip(sizes, counts):
            writer.writerow([int(size), int(count)])
