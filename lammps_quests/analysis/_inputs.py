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
        elements: ordered element symbols of species-aware descriptors, () when agnostic.
        labels: centre species number of every row (species-aware), else None.
    """

    name: str
    frames: list
    descriptors: np.ndarray
    sources: list
    elements: tuple = ()
    labels: np.ndarray | None = None

    @property
    def frame_sizes(self) -> np.ndarray:
        """Number of atoms of each frame."""
        return np.array([len(frame) for frame in self.frames], dtype=np.int64)


def read_dataset(
    paths, index=":", k: int = DEFAULT_K, cutoff: float = DEFAULT_CUTOFF, format: str | None = None, comm=None,
    elements=None, type_elements=None,
) -> Dataset:
    """Read ``paths`` (one file or several) and compute descriptors with ``k``, ``cutoff`` (Å).

    ``elements``: None for species-agnostic descriptors; ``"auto"``, ``"In,P"`` or a sequence of
    element symbols for species-aware ones (:mod:`lammps_quests.core._species`).
    ``type_elements``: the element of each atom type (type order) of LAMMPS dumps without an
    element column (``read_frames(elements=)``); None takes ``elements`` (a command's
    ``--elements`` is both). Give it apart from ``elements`` when those are a reference's:
    ``"auto"`` then refuses such a dump instead of naming its types in the reference's order.

    With an MPI communicator every rank reads the files, computes the descriptors of its own
    block of rows, and the blocks are gathered so every rank holds all of them.

    Raises ValueError naming the file for unreadable input (see lammps_quests.formats.read_frames).
    """
    from lammps_quests.formats._structures import read_frames

    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    frames, sources = read_frames(paths, index=index, format=format,
                                  elements=elements if type_elements is None else type_elements)
    name = "+".join(p.name for p in paths)
    if elements is not None:
        from lammps_quests.formats._building import resolve_elements

        elements = resolve_elements(elements, frames)
    labels = None if elements is None else species_labels(frames, elements)
    if comm is None:
        X = descriptors(frames, k=k, cutoff=cutoff, elements=elements)
    else:
        start, stop = row_range(sum(len(frame) for frame in frames), comm)
        X = gather_row_blocks(descriptors(frames, k, cutoff, (start, stop), elements=elements), comm)
    return Dataset(name=name, frames=frames, descriptors=X, sources=sources, elements=elements or (),
                   labels=labels)


def read_datasets(groups, index=":", k: int = DEFAULT_K, cutoff: float = DEFAULT_CUTOFF,
                  format: str | None = None, comm=None, elements=None) -> list[Dataset]:
    """One Dataset per group of paths (descriptors of k neighbours within ``cutoff`` Å, in Å^-1),
    species-aware ones sharing one list of elements: with ``elements="auto"`` it is the sorted
    elements of all groups together."""
    if elements is not None and isinstance(elements, str) and elements.strip().lower() == "auto":
        from lammps_quests.formats._building import resolve_elements
        from lammps_quests.formats._structures import read_frames

        frames = [frame for group in groups
                  for frame in read_frames(group, index=index, format=format, elements="auto")[0]]
        elements = resolve_elements("auto", frames)
    datasets = [read_dataset(group, index=index, k=k, cutoff=cutoff, format=format, comm=comm, elements=elements)
                for group in groups]
    return _distinct_names(datasets, groups)


def _distinct_names(datasets: list[Dataset], groups) -> list[Dataset]:
    """Label datasets whose file names coincide (a/train.xyz, b/train.xyz) by their paths."""
    import dataclasses

    names = [data.name for data in datasets]
    return [dataclasses.replace(data, name="+".join(str(p) for p in ([group] if isinstance(group, (str, Path))
                                                                    else group)))
            if names.count(data.name) > 1 else data for data, group in zip(datasets, groups)]


def load_reference(path):
    """The reference file at ``path``, memory-mapped: ``Reference.load(path, mmap=True)``.

    Raises :class:`~lammps_quests.errors.ReferenceFileError` (a ValueError) naming the file and
    the fix for missing, truncated, corrupt or unknown files.
    """
    from lammps_quests.formats._reference import Reference

    return Reference.load(path, mmap=True)
