"""lammps-quests: QUESTS descriptors, information entropy and on-the-fly uncertainty for LAMMPS.

Units throughout: positions and cutoffs in Å, descriptors and bandwidths in Å^-1, entropies in
nats.

Importing the package only defines names: it loads no MPI library, sets no environment
variable and leaves numba's threading layer and the BLAS thread pools alone. What LAMMPS needs
is done by the LAMMPS-facing entry points themselves (:mod:`lammps_quests.lammps.plugin`,
:mod:`lammps_quests.lammps.session`).
"""

from .core.defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K
from .core.descriptors import (
    descriptors,
    descriptors_from_arrays,
    species_descriptors,
    species_descriptors_from_arrays,
)
from .core.images import periodic_images
from .core.information import (
    delta_entropy,
    delta_entropy_of_neighbours,
    diversity,
    entropy,
    novelty,
    overlap,
    self_delta_entropy,
)
from .core.neighbors import DESCRIPTOR_VERSION, descriptor_width, descriptors_from_points
from .core.species import species_descriptor_width, species_descriptors_from_points
from .core.species_information import (
    delta_entropy_by_species,
    entropy_by_species,
    self_delta_entropy_by_species,
)
from .formats.reference import Reference
from .lammps.plugin import load_plugin

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
    "load_plugin",
    "novelty",
    "overlap",
    "periodic_images",
    "Reference",
    "self_delta_entropy",
    "self_delta_entropy_by_species",
    "delta_entropy_by_species",
    "entropy_by_species",
    "species_descriptor_width",
    "species_descriptors",
    "species_descriptors_from_arrays",
    "species_descriptors_from_points",
]
