"""Overlap matrix between datasets (paper Fig. 3a): fraction of rows of A with dH(a | B) <= 0."""

from __future__ import annotations

import numpy as np

from lammps_quests.core._defaults import DEFAULT_BANDWIDTH
from ._rows import delta_entropy_rows


def overlap_fraction(dh_values: np.ndarray) -> float:
    """Fraction of environments with dH <= 0 (covered by the set they were compared with)."""
    return float(np.mean(np.asarray(dh_values) <= 0.0))


def overlap_matrix(sets, h: float = DEFAULT_BANDWIDTH, names=None, comm=None, progress=None,
                   labels=None, species=()) -> np.ndarray:
    """(n_sets, n_sets) matrix: entry [i, j] = overlap of set i (rows) with set j (columns).

    Args:
        sets: sequence of (n_i, 2k-1) descriptor arrays (Å^-1), all of the same width.
        h: bandwidth in Å^-1.
        names: labels for the progress bar.
        labels, species: for species-aware descriptors, the centre species numbers of each
            set's rows and the element symbols; rows are compared within their species.
    """
    sets = [np.asarray(X) for X in sets]
    names = list(names) if names is not None else [f"set {i}" for i in range(len(sets))]
    widths = {X.shape[1] for X in sets}
    if len(widths) > 1:
        raise ValueError(f"datasets have different descriptor widths {sorted(widths)}; use one k for all")
    matrix = np.empty((len(sets), len(sets)))
    for i, Y in enumerate(sets):
        for j, X in enumerate(sets):
            values = delta_entropy_rows(
                Y, X, h, comm=comm, progress=progress, description=f"{names[i]} vs {names[j]}",
                y_labels=labels[i] if species else None, x_labels=labels[j] if species else None,
                species=species,
            )
            matrix[i, j] = overlap_fraction(values)
    return matrix


def write_overlap_csv(path, matrix: np.ndarray, names) -> None:
    """CSV with a header row of column names and one row per dataset (rows = compared set)."""
    import csv

    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["dataset"] + list(names))
        for name, row in zip(names, matrix):
            writer.writerow([name] + [f"{value:.6f}" for value in row])
