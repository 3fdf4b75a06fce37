"""Numerical core: periodic images, the neighbour kernel, QUESTS descriptors and the kernel sums
behind entropy, dH, diversity and overlap. numpy and numba only; imports nothing above it.

Units: positions and cutoffs in Å, descriptors and bandwidths in Å^-1, entropies and dH in
nats. The names below are also the numerical part of the top-level :mod:`lammps_quests`.
"""

from ._cluster_index import ClusterIndex
from ._defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_FAST_TOLERANCE, DEFAULT_K
from ._descriptors import (descriptor_width, descriptors, descriptors_from_arrays, descriptors_from_points,
                           species_labels)
from ._images import periodic_images
from ._information import (delta_entropy, delta_entropy_fast, delta_entropy_of_neighbours, diversity, entropy, novelty,
                           overlap, prepare_reference, self_delta_entropy)
from ._neighbors import DESCRIPTOR_VERSION

__all__ = [
    "DEFAULT_BANDWIDTH", "DEFAULT_CUTOFF", "DEFAULT_FAST_TOLERANCE", "DEFAULT_K", "DESCRIPTOR_VERSION", "ClusterIndex",
    "delta_entropy", "delta_entropy_fast", "delta_entropy_of_neighbours", "descriptor_width", "descriptors",
    "descriptors_from_arrays", "descriptors_from_points", "diversity", "entropy", "novelty", "overlap",
    "periodic_images", "prepare_reference", "self_delta_entropy", "species_labels",
]
