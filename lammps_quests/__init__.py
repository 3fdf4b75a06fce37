"""lammps-quests: QUESTS descriptors, information entropy and on-the-fly uncertainty for LAMMPS.

Units throughout: positions and cutoffs in Å, descriptors and bandwidths in Å^-1, entropies in
nats.

Importing the package only defines names: it loads no MPI library, sets no environment
variable and leaves numba's threading layer and the BLAS thread pools alone. What LAMMPS needs
is done by the LAMMPS-facing entry points themselves (:mod:`lammps_quests.lammps._plugin`,
:mod:`lammps_quests.lammps._session`).
"""

import importlib.metadata as _metadata

from .core._defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K
from .core._descriptors import (
    descriptor_width,
    descriptors,
    descriptors_from_arrays,
    descriptors_from_points,
    species_labels,
)
from .core._images import periodic_images
from .core._information import (
    delta_entropy,
    delta_entropy_fast,
    delta_entropy_of_neighbours,
    diversity,
    entropy,
    novelty,
    overlap,
    self_delta_entropy,
)
from .core._neighbors import DESCRIPTOR_VERSION
from .formats._reference import Reference
from .lammps._plugin import load_plugin



def _version() -> str:
    """The installed distribution's version (pyproject.toml's, recorded at install); a source tree
    imported without installing reads pyproject.toml beside it and says ``+source``."""
    try:
        return _metadata.version("lammps-quests")
    except _metadata.PackageNotFoundError:
        import re
        from pathlib import Path

        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        found = re.search(r'^version = "([^"]+)"', pyproject.read_text(), re.M) if pyproject.is_file() else None
        return f"{found.group(1)}+source" if found else "0+unknown"


__version__ = _version()

# One name per computation. Species are a parameter of each (``species=`` for frames,
# ``labels=``/``n_species=`` for arrays and points, ``labels=``/``y_labels=``/``x_labels=`` for
# the information quantities), never a second function.
__all__ = [
    "DEFAULT_BANDWIDTH",
    "DEFAULT_CUTOFF",
    "DEFAULT_K",
    "DESCRIPTOR_VERSION",
    "ReferenceDh",
    "delta_entropy",
    "delta_entropy_fast",
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
    "species_labels",
]


def __getattr__(name: str):
    """``ReferenceDh`` (dH against one reference, the one way every route computes it) is
    imported on first use: the analysis tier behind it doubles the package's import time."""
    if name == "ReferenceDh":
        from .dh._reference_dh import ReferenceDh

        return ReferenceDh
    raise AttributeError(f"module 'lammps_quests' has no attribute {name!r}")
