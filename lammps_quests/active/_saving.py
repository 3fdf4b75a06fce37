"""What is new in a frame and what to save: whole frames or cut-outs, without duplicates.

A :class:`Saver` keeps an :class:`._extension.Extension` (reference ∪ saved environments).
For each frame given to :meth:`Saver.structures` with the per-atom dH against the reference:

1. candidates: atoms with dH(reference) > t (only they can be new: adding rows to the kernel
   sum lowers dH);
2. new atoms: candidates with dH(reference ∪ saved) > t that the saved environments do not
   already cover, dH(saved) > 0 (:func:`new_atoms`; with ``deduplicate=False``: every
   candidate);
3. no new atom: nothing is saved. Otherwise the whole frame (``cut_radius=None``), or one
   cut-out per hot spot around the new atoms (``cut_radius=R``, R >= the descriptor cutoff so
   the new atoms' environments are whole in the cut-out). Hot spots are handled in order and
   each is checked against what the previous ones added, so two copies of one defect in a
   frame are saved once;
4. the new atoms' descriptors, computed from the saved structure itself, join the extension.

Saved structures carry columns dH (against the reference, nats), ``new`` (1 for the atoms that
joined the extension) and ``exact`` (1 where the descriptor equals the one in the frame), so
:func:`saved_rows` recomputes exactly the rows the extension holds from the file. With a
species-aware reference the element symbols of the structures give each atom's species, and
an atom is new against the reference and saved rows centred on its own element. With dH from
the fast index (``values``) the info key ``dH_values`` says what the dH column holds, and in
decide mode the column ``dH_bound`` is 1 where a value is only an upper bound (value <= the
smallest threshold) and 0 where it is within the tolerance of exact.
Everything is deterministic: MPI ranks given the same frame make the same decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lammps_quests.errors import QuestsInputError
from lammps_quests.dh._reference_dh import ReferenceDh
from lammps_quests.core._images import periodic_images
from lammps_quests.core._novelty import new_atoms

from ._cutout import cut_out
from ._extension import EntropyGain, Extension, union_entropy
from ._regions import PeriodicPoints, hot_spots
from ._structure import Structure

#: info key of every saved structure: the sha256 of the reference descriptors that judged it
REFERENCE_KEY = "reference_sha256"


@dataclass
class SaveCounts:
    """Totals of what a :class:`Saver` wrote."""

    structures: int = 0
    atoms: int = 0
    new: int = 0  # environments added to the extension


class Saver:
    """Decides what to save from frames and keeps the saved environments.

    Args:
        reference: the :class:`lammps_quests.formats.Reference` (descriptors, k,
            cutoff in Å; species-agnostic or species-aware).
        bandwidth: kernel bandwidth h in Å^-1.
        threshold: save threshold t in nats.
        cut_radius: None to save whole frames, else the hot-spot radius R in Å (>= cutoff).
        deduplicate: False saves whenever an atom has dH(reference) > t (every frame).
        reference_entropy: H(reference) at ``bandwidth`` in nats, if known (species-agnostic).
        values: the :class:`ReferenceDh` whose dH values the frames come with (their mode is
            recorded in the saved files), or None.

    An atom is new by :func:`new_atoms`; with a species-aware reference, against the reference
    and saved environments centred on its own element (the structures' element symbols give the
    species, and cut-outs carry them).
    """

    def __init__(self, reference, bandwidth: float, threshold: float, cut_radius: float | None = None,
                 deduplicate: bool = True, reference_entropy: float | None = None,
                 values: ReferenceDh | None = None):
        self.dh = ReferenceDh(reference, bandwidth)  # descriptors and labels, as every route
        self.values = values
        self.k = int(reference.k)
        self.cutoff = float(reference.cutoff)
        if cut_radius is not None and not cut_radius >= self.cutoff:
            raise QuestsInputError(
                f"cut radius {cut_radius} Å is smaller than the descriptor cutoff {self.cutoff} Å: "
                "the extrapolating atoms' environments would not be whole in the cut-out; "
                f"use a radius >= {self.cutoff}"
            )
        self.threshold = float(threshold)
        self.cut_radius = None if cut_radius is None else float(cut_radius)
        self.deduplicate = bool(deduplicate)
        self.bandwidth = float(bandwidth)
        species = self.dh.elements
        self.extension = Extension(
            reference.descriptors, bandwidth, reference_entropy,
            labels=None if species is None else reference.species_labels,
            n_species=1 if species is None else len(species))
        self.counts = SaveCounts()
        #: recorded in every saved structure's info line (see :mod:`._save_target`)
        self.reference_sha256 = str(getattr(reference, "sha256", "") or "")

    def new_mask(self, descriptors, dh_reference, labels=None) -> np.ndarray:
        """Which rows are new by :func:`new_atoms` (descriptors of candidates, their dH against
        the reference in nats, and their centre species for a species-aware reference)."""
        dh_reference = np.asarray(dh_reference, dtype=np.float64)
        candidates = dh_reference > self.threshold
        if not self.deduplicate or not candidates.any():
            return candidates
        mask = np.zeros(len(dh_reference), dtype=bool)
        rows = np.flatnonzero(candidates)
        Y = np.asarray(descriptors)[rows]
        row_labels = None if labels is None else np.asarray(labels)[rows]
        dh_saved = -self.extension.log_sums_saved(Y, row_labels)
        mask[rows] = new_atoms(dh_reference[rows], dh_saved, self.threshold)
        return mask

    def structures(self, frame: Structure, dh_reference, eligible=None) -> list[Structure]:
        """The structures to save for ``frame`` (empty if nothing is new); updates the extension.

        ``frame``: the whole structure (element symbols, positions Å, cell, pbc, columns such
        as id and type, info such as step and source); ``dh_reference``: (n,) dH against the
        reference, nats; ``eligible``: (n,) bool, the atoms that may be new (e.g. a LAMMPS
        group), default all.
        """
        dh = np.asarray(dh_reference, dtype=np.float64)
        above = dh > self.threshold
        if eligible is not None:
            above &= np.asarray(eligible, dtype=bool)
        candidates = np.flatnonzero(above)
        if len(candidates) == 0:
            return []
        if self.deduplicate:
            Y, labels = environments(frame, candidates, self.dh)
            new = candidates[self.new_mask(Y, dh[candidates], labels)]
        else:
            new = candidates
        if len(new) == 0:
            return []
        base = Structure(frame.symbols, frame.positions, frame.cell, frame.pbc,
                         {**frame.columns, "dH": dh}, self._info(frame.info))
        self._describe_values(base, dh)
        if self.cut_radius is None:
            base.columns["exact"] = np.ones(len(dh), dtype=np.int64)
            saved = self._keep(base, new, dh[new])
            return [] if saved is None else [saved]
        return self._cut_outs(base, new, dh)

    def _info(self, info: dict) -> dict:
        """The frame's info plus the sha256 of the reference that judged it."""
        return {**info, REFERENCE_KEY: self.reference_sha256} if self.reference_sha256 else dict(info)

    def _describe_values(self, base: Structure, dh: np.ndarray) -> None:
        """Record what the dH column holds: info ``dH_values`` (fast index only) and, in decide
        mode, the per-atom ``dH_bound`` (1: upper bound only; cut-outs carry it per atom)."""
        if self.values is None or self.values.fast_index is None:
            return
        base.info["dH_values"] = self.values.values_note()
        bound = self.values.bound_mask(dh)
        if bound is not None:
            base.columns["dH_bound"] = bound.astype(np.int64)

    def _cut_outs(self, base: Structure, new: np.ndarray, dh: np.ndarray) -> list[Structure]:
        space = PeriodicPoints.build(base.positions, base.cell, base.pbc,
                                     max(2.0 * self.cut_radius, self.cutoff))
        saved = []
        for number, spot in enumerate(hot_spots(base.positions, base.cell, base.pbc, new,
                                                self.cut_radius, space=space)):
            piece = cut_out(base, spot, space, self.cutoff)
            piece.info.update(hot_spot=number, cut_radius=self.cut_radius)
            rows = np.flatnonzero(np.isin(spot.atoms, spot.centres))
            kept = self._keep(piece, rows, dh[spot.atoms[rows]])
            if kept is not None:
                saved.append(kept)
        return saved

    def _keep(self, structure: Structure, rows: np.ndarray, dh_rows: np.ndarray) -> Structure | None:
        """Flag the still-new atoms among ``rows``, add them to the extension; None if none."""
        Y, labels = environments(structure, rows, self.dh)
        if self.deduplicate:
            keep = self.new_mask(Y, dh_rows, labels)
            if not keep.any():
                return None
            if not keep.all():  # the exact rows the offline tools will recompute
                rows = rows[keep]
                Y, labels = environments(structure, rows, self.dh)
        flags = np.zeros(len(structure), dtype=np.int64)
        flags[rows] = 1
        structure.columns["new"] = flags
        self.extension.add(Y, labels)
        self.counts.structures += 1
        self.counts.atoms += len(structure)
        self.counts.new += len(rows)
        return structure

    def entropy_gain(self) -> EntropyGain:
        """Entropy of the reference and of reference ∪ the new environments saved (nats; with
        a species-aware reference, the species kernel's, exactly)."""
        return self.extension.entropy_gain()


def environments(structure: Structure, rows, reference_dh: ReferenceDh) -> tuple[np.ndarray, np.ndarray | None]:
    """(descriptors in Å^-1, centre species or None) of atoms ``rows`` of ``structure`` as
    ``reference_dh`` computes them (species from the structure's element symbols).

    The in-run saver and the offline tools call this one function with the same rows on the
    same (written, re-read) positions, so both get bit-identical descriptors.
    """
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    labels = reference_dh.labels(structure.symbols)
    points, image_of = periodic_images(structure.positions, structure.cell, structure.pbc,
                                       reference_dh.cutoff)
    point_labels = None if labels is None else labels[image_of]
    Y = reference_dh.descriptors_from_points(points[rows], points, rows, point_labels)
    return Y, None if labels is None else labels[rows]


def _new_rows(structures):
    """(structure, its rows flagged ``new``) of saved structures (ASE Atoms or
    :class:`Structure`) that have such rows, in file order."""
    for item in structures:
        structure = item if isinstance(item, Structure) else Structure.from_atoms(item)
        if "new" not in structure.columns:
            raise QuestsInputError("a structure has no 'new' column: it was not written by a "
                                   "de-duplicating save of lammps-quests")
        rows = np.flatnonzero(np.asarray(structure.columns["new"]) == 1)
        if len(rows):
            yield structure, rows


def saved_rows(structures, reference_dh: ReferenceDh) -> tuple[np.ndarray, np.ndarray | None]:
    """(descriptors in Å^-1, centre species or None) of the atoms flagged ``new`` in saved
    structures (ASE Atoms or :class:`Structure`), in file order: the rows a :class:`Saver`
    added to its extension."""
    blocks, labels = [], []
    for structure, rows in _new_rows(structures):
        Y, row_labels = environments(structure, rows, reference_dh)
        blocks.append(Y)
        labels.append(row_labels)
    species = reference_dh.elements
    if not blocks:
        return np.zeros((0, reference_dh.reference.width)), None if species is None else np.zeros(0, np.int64)
    return np.concatenate(blocks), None if species is None else np.concatenate(labels)


def saved_environments(structures, k: int, cutoff: float) -> np.ndarray:
    """Species-agnostic descriptors (Å^-1) of the atoms flagged ``new`` in saved structures
    (see :func:`saved_rows` for any reference)."""
    blocks = [structure.descriptors(rows, k, cutoff) for structure, rows in _new_rows(structures)]
    width = 2 * k - 1
    return np.concatenate(blocks) if blocks else np.zeros((0, width))


def saved_summary(structures, reference, bandwidth: float | None = None,
                  reference_entropy: float | None = None) -> tuple[SaveCounts, EntropyGain]:
    """Counts and entropy added by saved structures, recomputed from them (offline check);
    species-aware when the reference is (``reference_entropy`` then unused)."""
    structures = list(structures)
    h = reference.bandwidth if bandwidth is None else float(bandwidth)
    reference_dh = ReferenceDh(reference, h)
    S, labels = saved_rows(structures, reference_dh)
    counts = SaveCounts(len(structures), int(sum(len(s) for s in structures)), len(S))
    if labels is None:
        return counts, union_entropy(reference.descriptors, S, h, reference_entropy)
    return counts, union_entropy(reference.descriptors, S, h, x_labels=reference.species_labels, s_labels=labels,
                                 n_species=len(reference.elements))


def describe_saved(prefix: str, counts: SaveCounts, gain: EntropyGain | None, bandwidth: float, path) -> str:
    """One line: structures, atoms and new environments saved to ``path``, entropy added.

    The fix's end-of-run log and ``lammps-quests saved`` print it, so their numbers compare
    as text.
    """
    text = (f"{prefix}: {counts.structures} structure(s) with {counts.atoms} atoms saved to {path}; "
            f"{counts.new} new environment(s)")
    if gain is None or counts.new == 0:
        return text
    return (text + f" add {gain.added:.9g} nats to the reference's entropy (H = {gain.reference:.9g} -> "
            f"{gain.union:.9g} nats at h = {bandwidth:g} 1/Angstrom)")
