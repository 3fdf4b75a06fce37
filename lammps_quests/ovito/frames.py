"""What the modifier needs from an OVITO frame: positions, cell, periodicity, elements, in Å.

OVITO stores the cell as a 3 x 4 matrix: the three lattice vectors as columns, then the origin.
The QUESTS code takes lattice vectors as rows and positions relative to the cell, so the matrix
is transposed and the origin subtracted (tilted, non-orthogonal cells included).

Descriptors are defined in Å. OVITO converts GROMACS nanometres to Å on reading but keeps the
numbers of a LAMMPS dump as written, whatever ``units`` the run used; a dump that states its
units (``dump_modify ... units yes``) is checked here, and any frame whose closest atoms are
implausibly close for Å is refused. Reduced (``lj``) or Bohr lengths without such a statement
look like Å and cannot be told apart.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass

import numpy as np

from lammps_quests.errors import QuestsModifierError

#: LAMMPS unit styles whose lengths are Å
ANGSTROM_STYLES = ("metal", "real")
#: closer atoms than this (Å) mean the coordinates are not in Å (nm, reduced units) or broken
MIN_DISTANCE = 0.5




@dataclass
class FrameArrays:
    """One frame in the units and conventions of the QUESTS code.

    positions: (n, 3) Å, relative to the cell origin.
    cell: (3, 3) lattice vectors as rows, Å.
    pbc: three bools.
    type_ids: (n,) OVITO particle type id of each atom, or None without a type property.
    type_names: {type id: name} of the particle types (empty without a type property).
    """

    positions: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    type_ids: np.ndarray | None
    type_names: dict


def frame_arrays(data, frame: int) -> FrameArrays:
    """Positions, cell and types of an OVITO DataCollection; QuestsModifierError without a cell or atoms.

    Args:
        data: the ``ovito.data.DataCollection`` of the frame.
        frame: the frame number, for messages.

    Returns:
        A :class:`FrameArrays` (positions and cell in Å).
    """
    particles = data.particles
    if particles is None or particles.count == 0:
        raise QuestsModifierError(f"frame {frame} has no particles; dH is computed per particle")
    if data.cell is None:
        raise QuestsModifierError(
            f"frame {frame} has no simulation cell, so it is unknown whether and how the structure "
            "is periodic; write the trajectory with its cell (extended XYZ with Lattice=\"...\" and "
            "pbc=\"...\", a LAMMPS dump with its box), or give an isolated cluster a non-periodic cell")
    matrix = np.asarray(data.cell[...], dtype=np.float64)
    origin = matrix[:, 3]
    positions = np.asarray(particles.positions[...], dtype=np.float64) - origin
    types = particles.particle_types if "Particle Type" in particles else None
    type_ids = None if types is None else np.asarray(types[...], dtype=np.int64)
    type_names = {} if types is None else {int(t.id): str(t.name) for t in types.types}
    return FrameArrays(positions, matrix[:, :3].T.copy(), np.array(data.cell.pbc, dtype=bool), type_ids,
                       type_names)


def check_length_unit(data, frame: int) -> None:
    """Refuse a LAMMPS dump whose ``ITEM: UNITS`` line names a unit style without Å lengths.

    Args:
        data: the frame's DataCollection (its ``SourceFile`` attribute names the file OVITO read).
        frame: the frame number, for messages.
    """
    source = data.attributes.get("SourceFile")
    style = lammps_unit_style(source) if source else None
    if style is not None and style not in ANGSTROM_STYLES:
        raise QuestsModifierError(
            f"frame {frame} comes from {source}, a LAMMPS dump of a `units {style}` run: its lengths "
            "are not Å, and QUESTS descriptors and references are in Å; run with units metal or real, "
            "or convert the coordinates to Å first")


def lammps_unit_style(path) -> str | None:
    """The unit style a LAMMPS text dump states (``ITEM: UNITS``), or None if it states none."""
    try:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(os.fspath(path), "rt", errors="replace") as handle:
            first, second = handle.readline(), handle.readline()
    except (OSError, EOFError):
        return None  # not a file OVITO read from here (remote, removed since): nothing stated
    if first.strip() == "ITEM: UNITS" and second.strip():
        return second.split()[0].lower()
    return None


def check_distances(points: np.ndarray, n: int, frame: int) -> None:
    """Refuse atoms closer than MIN_DISTANCE Å to any other point (periodic images included).

    Args:
        points: the frame's atoms (first ``n`` rows) and their periodic images, Å.
        n: number of atoms.
        frame: the frame number, for messages.
    """
    from scipy.spatial import cKDTree

    if len(points) < 2:
        return
    distances, _ = cKDTree(points).query(points[:n], k=2)
    closest = float(distances[:, 1].min())
    if closest < MIN_DISTANCE:
        atom = int(np.argmin(distances[:, 1]))
        raise QuestsModifierError(
            f"frame {frame}: particle {atom} has a neighbour {closest:.3g} away, closer than any two atoms "
            f"can be in Å (< {MIN_DISTANCE} Å); the coordinates are probably in other units (nm, reduced "
            "units) or atoms overlap; QUESTS needs positions and cells in Å: convert them first")
