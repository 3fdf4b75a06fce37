"""Inputs of the analyses: frames from files (via lammps_quests.formats._structures) and reference files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lammps_quests.core._defaults import DEFAULT_CUTOFF, DEFAULT_K
from lammps_quests.core._descriptors import descriptors, species_labels

from ._parallel import gather_row_blocks, row_range


@dataclass
class Dataset:
    """Frames read from files and the descriptors of all their atoms.

    Attributes:
        name: label used in tables and plots (the file name, or names joined by '+').
        frames: list of ase.Atoms in file order.
        descriptors: (total atoms, 2k-1) float64, Å^-1, rows in frame then atom order.
        sources: provenance dicts from :func:`lammps_quests.formats.read_frames`.
        species: ordered element symbols of species-aware descriptors, () when agnostic.
        labels: centre species number of every row (species-aware), else None.
    """

    name: str
    frames: list
    descriptors: np.ndarray
    sources: list
    species: tuple = ()
    labels: np.ndarray | None = None

    @property
    def frame_sizes(self) -> np.ndarray:
        """Number of atoms of each frame."""
        return np.array([len(frame) for frame in self.frames], dtype=np.int64)


def read_dataset(
    paths, index=":", k: int = DEFAULT_K, cutoff: float = DEFAULT_CUTOFF, format: str | None = None, comm=None,
    species=None, elements=None,
) -> Dataset:
    """Read ``paths`` (one file or several) and compute descriptors with ``k``, ``cutoff`` (Å).

    ``species``: None for species-agnostic descriptors; ``"auto"``, ``"In,P"`` or a sequence of
    element symbols for species-aware ones (:mod:`lammps_quests.core._species`).
    ``elements``: the elements of the atom types of LAMMPS dumps without an element column
    (``read_frames(elements=)``); None takes ``species`` (a command's ``--species`` is both).
    Give it apart from ``species`` when the species list is a reference's: ``"auto"`` then
    refuses such a dump instead of naming its types after the reference's species order.

    With an MPI communicator every rank reads the files, computes the descriptors of its own
    block of rows, and the blocks are gathered so every rank holds all of them.

    Raises ValueError naming the file for unreadable input (see lammps_quests.formats.read_frames).
    """
    from lammps_quests.formats._structures import read_frames

    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    frames, sources = read_frames(paths, index=index, format=format,
                                  elements=species if elements is None else elements)
    name = "+".join(p.name for p in paths)
    if species is not None:
        return _species_dataset(name, frames, sources, species, k, cutoff, comm)
    if comm is None:
        X = descriptors(frames, k=k, cutoff=cutoff)
    else:
        n_rows = sum(len(frame) for frame in frames)
        start, stop = row_range(n_rows, comm)
        X = gather_row_blocks(descriptor_rows(frames, start, stop, k, cutoff), comm)
    return Dataset(name=name, frames=frames, descriptors=X, sources=sources)


def descriptor_rows(frames, start: int, stop: int, k: int = DEFAULT_K, cutoff: float = DEFAULT_CUTOFF) -> np.ndarray:
    """Descriptors (Å^-1) of rows [start, stop) of the atoms of ``frames`` taken in order: the
    core's ``descriptors(frames, k, cutoff, rows=(start, stop))``."""
    return descriptors(frames, k=k, cutoff=cutoff, rows=(start, stop))


def read_datasets(groups, index=":", k: int = DEFAULT_K, cutoff: float = DEFAULT_CUTOFF,
                  format: str | None = None, comm=None, species=None) -> list[Dataset]:
    """One Dataset per group of paths (descriptors of k neighbours within ``cutoff`` Å, in Å^-1),
    species-aware ones sharing one species list: with ``species="auto"`` it is the sorted
    elements of all groups together."""
    if species is not None and isinstance(species, str) and species.strip().lower() == "auto":
        from lammps_quests.formats._reference import resolve_species
        from lammps_quests.formats._structures import read_frames

        frames = [frame for group in groups
                  for frame in read_frames(group, index=index, format=format, elements="auto")[0]]
        species = resolve_species("auto", frames)
    datasets = [read_dataset(group, index=index, k=k, cutoff=cutoff, format=format, comm=comm, species=species)
                for group in groups]
    return _distinct_names(datasets, groups)


def _distinct_names(datasets: list[Dataset], groups) -> list[Dataset]:
    """Label datasets whose file names coincide (a/train.xyz, b/train.xyz) by their paths."""
    import dataclasses

    names = [data.name for data in datasets]
    return [dataclasses.replace(data, name="+".join(str(p) for p in ([group] if isinstance(group, (str, Path))
                                                                    else group)))
            if names.count(data.name) > 1 else data for data, group in zip(datasets, groups)]


def _species_dataset(name, frames, sources, species, k, cutoff, comm) -> Dataset:
    """A Dataset of species-aware descriptors; the species list resolved against the frames."""
    from lammps_quests.formats._reference import resolve_species

    species = resolve_species(species, frames)
    labels = species_labels(frames, species)
    if comm is None:
        X = descriptors(frames, k=k, cutoff=cutoff, species=species)
    else:
        start, stop = row_range(len(labels), comm)
        X = gather_row_blocks(species_descriptor_rows(frames, start, stop, species, k, cutoff), comm)
    return Dataset(name=name, frames=frames, descriptors=X, sources=sources, species=species, labels=labels)


def species_descriptor_rows(frames, start: int, stop: int, species, k: int = DEFAULT_K,
                            cutoff: float = DEFAULT_CUTOFF) -> np.ndarray:
    """Species-aware descriptors (Å^-1) of rows [start, stop) of the atoms of ``frames`` taken in
    order, ``species`` the element symbols: the core's ``descriptors(..., rows=(start, stop), species=species)``."""
    return descriptors(frames, k=k, cutoff=cutoff, rows=(start, stop), species=species)


def load_reference(path):
    """The reference file at ``path``, memory-mapped: ``Reference.load(path, mmap=True)``.

    Raises ValueError (lammps_quests.formats._reference.ReferenceFileError) naming the file and
    the fix for missing, truncated, corrupt or unknown files.
    """
    from lammps_quests.formats._reference import Reference

    return Reference.load(path, mmap=True)
