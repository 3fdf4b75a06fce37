"""Old names of the species-aware information quantities: thin aliases, kept for old scripts.

Species are a parameter of the one function per quantity in
:mod:`lammps_quests.core._information` (``labels=``, or ``y_labels=`` and ``x_labels=``); use
those. Each alias below returns exactly what it returned before.
"""

from __future__ import annotations

import numpy as np

from ._defaults import DEFAULT_BANDWIDTH
from ._information import delta_entropy, self_delta_entropy, species_groups


def delta_entropy_by_species(Y, y_labels, X, x_labels, n_species: int, h=DEFAULT_BANDWIDTH,
                             species_names=None) -> np.ndarray:
    """Alias: ``delta_entropy(Y, X, h, y_labels=..., x_labels=..., species=...)`` (nats)."""
    names = species_names if species_names is not None else [f"species {s}" for s in range(n_species)]
    return delta_entropy(Y, X, h, y_labels=y_labels, x_labels=x_labels, species=names)


def self_delta_entropy_by_species(X, labels, n_species: int, h=DEFAULT_BANDWIDTH) -> np.ndarray:
    """Alias: ``self_delta_entropy(X, h, labels=labels)`` (nats)."""
    return self_delta_entropy(X, h, labels=labels)


def entropy_by_species(X, labels, n_species: int, h: float = DEFAULT_BANDWIDTH) -> tuple[float, np.ndarray]:
    """(H(X) with the species kernel, H(X_s) per species) in nats; NaN for absent species.

    The first is ``entropy(X, h, labels=labels)``; the second is ``entropy(X[labels == s], h)``.
    """
    labels = np.asarray(labels)
    dh = self_delta_entropy(X, h, labels=labels)
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
