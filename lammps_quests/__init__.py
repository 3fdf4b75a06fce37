"""lammps-quests: QUESTS descriptors, information entropy and on-the-fly uncertainty for LAMMPS.

Units throughout: positions and cutoffs in Å, descriptors and bandwidths in Å^-1, entropies in
nats.
"""

from .descriptors import DEFAULT_CUTOFF, DEFAULT_K, descriptors, descriptors_from_arrays
from .images import periodic_images
from .information import (
    DEFAULT_BANDWIDTH,
    delta_entropy,
    delta_entropy_of_neighbours,
    diversity,
    entropy,
    novelty,
    overlap,
    self_delta_entropy,
)
from .neighbors import DESCRIPTOR_VERSION, descriptor_width, descriptors_from_points

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BANDWIDTH",
    "DEFAULT_CUTOFF",
    "DEFAULT_K",
    "DESCRIPTOR_VERSION",
    "delta_entropy",
    "delta_entropy_of_neighbours",
    "descriptor_width",
    "descriptors",
    "descriptors_from_arrays",
    "descriptors_from_points",
    "diversity",
    "entropy",
    "novelty",
    "overlap",
    "periodic_images",
    "self_delta_entropy",
]
