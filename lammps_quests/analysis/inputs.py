"""Inputs of the analyses: frames from files (via lammps_quests.io) and reference files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lammps_quests.descriptors import descriptors


@dataclass
class Dataset:
    """Frames read from files and the descriptors of all their atoms.

    Attributes:
        name: label used in tables and plots (the file name, or names joined by '+').
        frames: list of ase.Atoms in file order.
        descriptors: (total atoms, 2k-1) float64, Å^-1, rows in frame then atom order.
        sources: provenance dicts from :func:`lammps_quests.io.read_frames`.
    """

    name: str
    frames: list
    descriptors: np.ndarray
    sources: list

    @property
    def frame_sizes(self) -> np.ndarray:
        """Number of atoms of each frame."""
        return np.array([len(frame) for frame in self.frames], dtype=np.int64)


def read_dataset(paths, index=":", k: int = 32, cutoff: float = 5.0, format: str | None = None) -> Dataset:
    """Read ``paths`` (one file or several) and compute descriptors with ``k``, ``cutoff`` (Å).

    Raises ValueError naming the file for unreadable input (see lammps_quests.io.read_frames).
    """
    from lammps_quests.io import read_frames

    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    frames, sources = read_frames(paths, index=index, format=format)
    X = descriptors(frames, k=k, cutoff=cutoff)
    return Dataset(name="+".join(p.name for p in paths), frames=frames, descriptors=X, sources=sources)


def load_reference(path):
    """Load a reference file (memory-mapped); errors name the file and the fix.

    Raises ValueError (lammps_quests.reference.ReferenceFileError) for missing, truncated,
    corrupt or unknown files.
    """
    from lammps_quests.reference import Reference

    path = Path(path)
    if not path.exists():
        raise ValueError(
            f"reference file {path}: no such file; build one with "
            "`lammps-quests reference build OUT FILES...`"
        )
    return Reference.load(path, mmap=True)


def check_reference_settings(reference, k: int | None, cutoff: float | None) -> None:
    """Refuse k or cutoff that differ from the ones the reference was built with."""
    where = reference.path if reference.path is not None else "the reference"
    if k is not None and int(k) != reference.k:
        raise ValueError(
            f"{where} was built with k = {reference.k}, but k = {k} was requested; descriptors "
            "of different k cannot be compared: drop --k or rebuild the reference"
        )
    if cutoff is not None and not np.isclose(float(cutoff), reference.cutoff, rtol=0, atol=1e-12):
        raise ValueError(
            f"{where} was built with cutoff = {reference.cutoff} Å, but {cutoff} Å was requested; "
            "drop --cutoff or rebuild the reference"
        )
