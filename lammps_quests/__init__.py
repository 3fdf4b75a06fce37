"""lammps-quests: QUESTS descriptors, information entropy and on-the-fly uncertainty for LAMMPS.

Units throughout: positions and cutoffs in Å, descriptors and bandwidths in Å^-1, entropies in
nats.

The public API is the packages: this one and its subpackages (:mod:`.core`, :mod:`.formats`,
:mod:`.dh`, :mod:`.analysis`, :mod:`.active`, :mod:`.monitor`, :mod:`.ase`, :mod:`.lammps`,
:mod:`.ovito`, :mod:`.render`, :mod:`.cli`, :mod:`.errors`), each listing its names in
``__all__``. Every module file inside a package is internal and its name starts with an
underscore (``lammps_quests/core/_descriptors.py``). A name is public if and only if it can be
reached without passing an underscore: ``lammps_quests.formats.Reference`` is public,
``lammps_quests.formats._reference.Reference`` is the same object reached through internals.

Importing the package only defines names: it loads no MPI library, sets no environment
variable and leaves numba's threading layer and the BLAS thread pools alone. What LAMMPS needs
is done where LAMMPS starts the Python side (the ``lammps.plugins`` entry point, the fix's
bridge, the python/invoke route's set-up).
"""

import importlib.metadata as _metadata

from .core import (
    DEFAULT_BANDWIDTH,
    DEFAULT_CUTOFF,
    DEFAULT_FAST_TOLERANCE,
    DEFAULT_K,
    DESCRIPTOR_VERSION,
    delta_entropy,
    delta_entropy_fast,
    delta_entropy_of_neighbours,
    descriptor_width,
    descriptors,
    descriptors_from_arrays,
    descriptors_from_points,
    diversity,
    entropy,
    novelty,
    overlap,
    periodic_images,
    prepare_reference,
    self_delta_entropy,
    species_labels,
)
from .dh import ReferenceDh
from .formats import Reference, build_fast_index, load_fast_index
from .lammps import load_plugin


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

# One name per computation, one word per concept (docs/glossary.md). Species are a parameter of
# each (``elements=`` for frames, ``labels=``/``n_species=`` for arrays and points,
# ``labels=``/``y_labels=``/``x_labels=`` for the information quantities), never a second function.
__all__ = [
    "DEFAULT_BANDWIDTH",
    "DEFAULT_CUTOFF",
    "DEFAULT_FAST_TOLERANCE",
    "DEFAULT_K",
    "DESCRIPTOR_VERSION",
    "Reference",
    "ReferenceDh",
    "build_fast_index",
    "delta_entropy",
    "delta_entropy_fast",
    "delta_entropy_of_neighbours",
    "descriptor_width",
    "descriptors",
    "descriptors_from_arrays",
    "descriptors_from_points",
    "diversity",
    "entropy",
    "load_fast_index",
    "load_plugin",
    "novelty",
    "overlap",
    "periodic_images",
    "prepare_reference",
    "self_delta_entropy",
    "species_labels",
]
