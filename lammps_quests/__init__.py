"""lammps-quests: QUESTS descriptors, information entropy and on-the-fly uncertainty for LAMMPS.

Units throughout: positions and cutoffs in Å, descriptors and bandwidths in Å^-1, entropies in
nats.
"""

# numba caches compiled kernels beside these files; a read-only install with a read-only HOME
# needs another writable place, chosen before the first kernel module is imported
from .lammps.threads import ensure_numba_cache_dir

ensure_numba_cache_dir()

from .core.defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K  # noqa: E402
from .core.descriptors import descriptors, descriptors_from_arrays  # noqa: E402
from .core.images import periodic_images  # noqa: E402
from .core.information import (  # noqa: E402
    delta_entropy,
    delta_entropy_of_neighbours,
    diversity,
    entropy,
    novelty,
    overlap,
    self_delta_entropy,
)
from .core.neighbors import DESCRIPTOR_VERSION, descriptor_width, descriptors_from_points  # noqa: E402
from .lammps.plugin import load_plugin  # noqa: E402
from .formats.reference import Reference  # noqa: E402

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
]
