"""Information quantities of species-aware descriptors, in nats.

Species-aware environments carry a centre species label next to their descriptor
(:mod:`lammps_quests.core.species`). They are compared with the kernel

    K_s(x, y) = K(x, y) if x and y are centred on the same species, else 0,

so dH of an atom of species A is computed against the reference rows centred on A only:

    dH(y | X) = -log sum_{i: species(x_i) = species(y)} exp(-|y - x_i|^2 / (2 h^2)).

This is exact (an atom of A is never covered by a B-centred environment, however close the
descriptors) and costs fewer kernel pairs than one sum over all rows. Entropy with this kernel
splits into the species' own entropies plus the mixing entropy of the labels:

    H(X) = log n + mean_i dH(x_i | X) = sum_s p_s H(X_s) - sum_s p_s log p_s,  p_s = n_s / n.
"""

from __future__ import annotations

import numpy as np

from .defaults import DEFAULT_BANDWIDTH
from .information import delta_entropy, self_delta_entropy
from .validation import check_bandwidths, check_descriptors


def species_groups(labels: np.ndarray, n_species: int) -> list:
    """Rows of each species: a slice when ``labels`` are sorted (no copy of X), else indices."""
    labels = np.asarray(labels)
    if labels.size < 2 or bool(np.all(labels[1:] >= labels[:-1])):
        edges = np.searchsorted(labels, np.arange(n_species + 1), side="left")
        return [slice(int(edges[s]), int(edges[s + 1])) for s in range(n_species)]
    return [np.flatnonzero(labels == s) for s in range(n_species)]


def _count(rows, n: int) -> int:
    return len(range(*rows.indices(n))) if isinstance(rows, slice) else len(rows)


def _output(n: int, h) -> tuple[np.ndarray, bool]:
    values, scalar = check_bandwidths(h)
    return np.empty((len(values), n)), scalar


def delta_entropy_by_species(Y, y_labels, X, x_labels, n_species: int, h=DEFAULT_BANDWIDTH,
                             species_names=None) -> np.ndarray:
    """dH(y | X) in nats of every row of Y against the rows of X centred on the same species.

    Y, X: species-aware descriptors (Å^-1); y_labels, x_labels: their centre species (0..S-1).
    Returns (ny,), or (nh, ny) for several bandwidths. A species present in Y but absent from X
    is a ValueError naming it (there is nothing to compare those atoms with).
    """
    Y = np.asarray(Y)
    X = np.asarray(X)
    y_groups = species_groups(y_labels, n_species)
    x_groups = species_groups(x_labels, n_species)
    out, scalar = _output(len(Y), h)
    for s in range(n_species):
        if _count(y_groups[s], len(Y)) == 0:
            continue
        if _count(x_groups[s], len(X)) == 0:
            name = species_names[s] if species_names is not None else f"species {s}"
            raise ValueError(
                f"the reference has no environments centred on {name}, but the structure has "
                f"{name} atoms; add structures with {name} to the reference"
            )
        values = delta_entropy(Y[y_groups[s]], X[x_groups[s]], h)
        out[:, y_groups[s]] = np.atleast_2d(values)
    return out[0] if scalar else out


def self_delta_entropy_by_species(X, labels, n_species: int, h=DEFAULT_BANDWIDTH) -> np.ndarray:
    """dH(x_i | X) of every row against the rows of its own species (self term included)."""
    X = check_descriptors(X, "X")
    groups = species_groups(labels, n_species)
    out, scalar = _output(len(X), h)
    for rows in groups:
        if _count(rows, len(X)):
            out[:, rows] = np.atleast_2d(self_delta_entropy(X[rows], h))
    return out[0] if scalar else out


def entropy_by_species(X, labels, n_species: int, h: float = DEFAULT_BANDWIDTH) -> tuple[float, np.ndarray]:
    """(H(X) with the species kernel, H(X_s) per species) in nats; NaN for absent species."""
    labels = np.asarray(labels)
    dh = self_delta_entropy_by_species(X, labels, n_species, h)
    total = float(np.log(len(dh)) + dh.mean())
    per_species = np.full(n_species, np.nan)
    for s in range(n_species):
        mine = dh[labels == s]
        if mine.size:
            per_species[s] = np.log(mine.size) + mine.mean()
    return total, per_species


__all__ = [
    "delta_entropy_by_species",
    "entropy_by_species",
    "self_delta_entropy_by_species",
    "species_groups",
]
