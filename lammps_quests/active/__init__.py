"""From extrapolation to new training data: what is new, what to save, cut-outs, selection.

Pure Python over :mod:`lammps_quests.core` and :mod:`lammps_quests.formats` (no LAMMPS): the
same code serves ``fix quests ... save``, ASE monitors and the offline commands. Units: Å for
positions and radii, Å^-1 for descriptors and bandwidths, nats for dH and entropies.

The monitor that runs these at every evaluation is :mod:`lammps_quests.monitor`.

Stable API
----------
``Extension(reference_descriptors, bandwidth, reference_entropy=None, *, labels=None, n_species=1)``
    Reference ∪ saved environments in memory (with ``labels``: species-aware, each row meets
    only rows centred on its own species). ``add(descriptors, labels=None)``,
    ``delta_entropy(Y, dh_reference=None, labels=None)`` (dH against the union from the
    reference's dH plus one kernel sum over the saved rows), ``log_sums_saved(Y, labels=None)``,
    ``n_saved``, ``saved``, ``saved_labels``,
    ``entropy_gain() -> EntropyGain(reference, union, n_reference, n_added; .added)``.
``union_entropy(X, S, h, reference_entropy=None) -> EntropyGain``
    H(X) and H(X ∪ S) without the N^2 sums over X; ``species_union_entropy(X, x_labels, S,
    s_labels, n_species, h)`` the same with the species kernel (exact, per species).
``new_atoms(dh_union, t) -> mask``
    Atoms whose dH against reference ∪ saved exceeds t.
``hot_spots(positions, cell, pbc, hot_mask, R, space=None) -> [HotSpot]``
    Spheres of R Å around hot atoms, merged when they overlap (through periodic images);
    ``HotSpot(centres, atoms, shifts, spans_box)``.
``cut_out(structure, spot, space, cutoff, vacuum=None) -> Structure``
    Non-periodic cluster in a vacuum box (or the whole periodic frame if the spot spans the
    box) with an ``exact`` column: 1 where the whole environment is inside the cut.
``Structure(species, positions, cell, pbc, columns, info)``
    ``write(path)`` appends full-precision extended XYZ; ``descriptors(rows, k, cutoff)``;
    ``Structure.from_atoms(atoms)``.
``Saver(reference, bandwidth, threshold, cut_radius=None, deduplicate=True)``
    ``structures(frame, dh_reference) -> [Structure]`` decides and remembers what is saved
    (columns dH, new, exact); ``new_mask(Y, dh_reference, labels=None)``;
    ``counts`` (structures, atoms, new); ``entropy_gain()``. Species-agnostic or species-aware.
``saved_rows(structures, reference_dh)``, ``saved_summary(structures, reference)``
    Recompute from saved files the rows a Saver added (with their species) and the entropy
    they add (offline); ``saved_environments(structures, k, cutoff)``: agnostic rows only.
"""

from ._cutout import cut_out, exact_flags
from ._extension import EntropyGain, Extension, species_union_entropy, union_entropy
from ._regions import HotSpot, PeriodicPoints, hot_spots
from ._saving import SaveCounts, Saver, new_atoms, saved_environments, saved_rows, saved_summary
from ._structure import Structure, descriptors_of

__all__ = [
    "EntropyGain", "Extension", "HotSpot", "PeriodicPoints", "SaveCounts", "Saver", "Structure", "cut_out",
    "descriptors_of", "exact_flags", "hot_spots", "new_atoms", "saved_environments", "saved_rows", "saved_summary",
    "species_union_entropy", "union_entropy",
]
