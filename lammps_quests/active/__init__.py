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
``union_entropy(X, S, bandwidth, reference_entropy=None, *, x_labels=None, s_labels=None, n_species=None)``
    H(X) and H(X ∪ S) without the N^2 sums over X (an ``EntropyGain``); with the labels, the
    same with the species kernel (exact, per species).
``new_atoms(dh_reference, dh_saved, t) -> mask``
    The novelty rule of de-duplicated saves: dH against reference ∪ saved above t, and not
    covered by the saved environments (dH against them above 0), for any t.
``hot_spots(positions, cell, pbc, hot_mask, R, space=None) -> [HotSpot]``
    Spheres of R Å around hot atoms, merged when they overlap (through periodic images);
    ``HotSpot(centres, atoms, shifts, spans_box)``.
``cut_out(structure, spot, space, cutoff, vacuum=None) -> Structure``
    Non-periodic cluster in a vacuum box (or the whole periodic frame if the spot spans the
    box) with an ``exact`` column: 1 where the whole environment is inside the cut.
``Structure(symbols, positions, cell, pbc, columns, info)``
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
from ._extension import EntropyGain, Extension, union_entropy
from ._regions import HotSpot, PeriodicPoints, hot_spots
from ._saving import SaveCounts, Saver, new_atoms, saved_environments, saved_rows, saved_summary
from ._structure import Structure

__all__ = [
    "EntropyGain", "Extension", "HotSpot", "PeriodicPoints", "SaveCounts", "Saver", "Structure", "cut_out",
    "exact_flags", "hot_spots", "new_atoms", "saved_environments", "saved_rows", "saved_summary",
    "union_entropy",
]
