"""Refuse coordinates that cannot be in Å: one check for every reader (command line, OVITO).

QUESTS descriptors, references and dH are defined in Å. Nothing in a LAMMPS dump says which
unit its numbers are in unless the run wrote ``dump_modify ... units yes`` (an ``ITEM: UNITS``
line), and OVITO and ASE keep the numbers as written. Two checks catch what can be caught:

* a dump that states a unit style whose lengths are not Å (``lj``, ``si``, ``cgs``, ``micro``,
  ``nano``, ``electron``) is refused;
* a frame with two atoms closer than :data:`MIN_DISTANCE` (0.5 Å; periodic images included)
  is refused: nm coordinates (nearest neighbours ~0.1-0.3) and reduced units of dense systems
  land there, and so do overlapping atoms, which no reference covers either.

Reduced (``lj``) or Bohr lengths without an ``ITEM: UNITS`` line whose atoms are 0.5 or more
apart look like Å and cannot be told apart.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from lammps_quests.errors import QuestsInputError

#: LAMMPS unit styles whose lengths are Å
ANGSTROM_STYLES = ("metal", "real")
#: closer atoms than this (Å) mean the coordinates are not in Å (nm, reduced units) or broken
MIN_DISTANCE = 0.5


def lammps_unit_style(path) -> str | None:
    """The unit style a LAMMPS text dump states (``ITEM: UNITS``), or None if it states none."""
    try:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(os.fspath(path), "rt", errors="replace") as handle:
            first, second = handle.readline(), handle.readline()
    except (OSError, EOFError):
        return None  # not a readable file here (remote, removed since): nothing stated
    if first.strip() == "ITEM: UNITS" and second.strip():
        return second.split()[0].lower()
    return None


def check_unit_style(path, where: str, error=QuestsInputError) -> None:
    """Refuse a LAMMPS dump whose ``ITEM: UNITS`` line names a unit style without Å lengths.

    Args:
        path: the file.
        where: what the file is, for messages (e.g. "frame 3 comes from dump.x", "dump.x is").
        error: the exception class raised (a QuestsInputError).
    """
    style = lammps_unit_style(path)
    if style is not None and style not in ANGSTROM_STYLES:
        raise error(
            f"{where} a LAMMPS dump of a `units {style}` run: its lengths are not Å, and QUESTS "
            "descriptors and references are in Å; run with units metal or real, or convert the "
            "coordinates to Å first")


def check_distances(points: np.ndarray, n: int, where: str, noun: str = "atom", error=QuestsInputError) -> None:
    """Refuse atoms closer than MIN_DISTANCE Å to any other point (periodic images included).

    Args:
        points: the frame's atoms (first ``n`` rows) and their periodic images, Å.
        n: number of atoms.
        where: the frame, for messages (e.g. "frame 3").
        noun: what the points are, for messages ("atom", OVITO's "particle").
        error: the exception class raised (a QuestsInputError).
    """
    from scipy.spatial import cKDTree

    if len(points) < 2:
        return
    distances, _ = cKDTree(points).query(points[:n], k=2)
    closest = float(distances[:, 1].min())
    if closest < MIN_DISTANCE:
        atom = int(np.argmin(distances[:, 1]))
        raise error(
            f"{where}: {noun} {atom} has a neighbour {closest:.3g} away, closer than any two atoms "
            f"can be in Å (< {MIN_DISTANCE} Å); the coordinates are probably in other units (nm, reduced "
            "units) or atoms overlap; QUESTS needs positions and cells in Å: convert them first")


def check_frame_distances(positions, cell, pbc, where: str, error=QuestsInputError) -> None:
    """:func:`check_distances` for one frame given as positions (n, 3), cell (3, 3) and pbc, Å."""
    from lammps_quests.core._images import periodic_images

    points, _ = periodic_images(positions, cell, pbc, MIN_DISTANCE)
    check_distances(points, len(positions), where, error=error)
