"""What the modifier needs from an OVITO frame: positions, cell, periodicity, elements, in Å.

OVITO stores the cell as a 3 x 4 matrix: the three lattice vectors as columns, then the origin.
The QUESTS code takes lattice vectors as rows and positions relative to the cell, so the matrix
is transposed and the origin subtracted (tilted, non-orthogonal cells included).

Descriptors are defined in Å. OVITO converts GROMACS nanometres to Å on reading but keeps the
numbers of a LAMMPS dump as written, whatever ``units`` the run used; a dump that states its
units (``dump_modify ... units yes``) is checked, and any frame whose closest atoms are
implausibly close for Å is refused, by the checks of :mod:`lammps_quests.formats._lengths` that
the command line shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lammps_quests.errors import QuestsModifierError
from lammps_quests.formats._lengths import ANGSTROM_STYLES, MIN_DISTANCE, check_unit_style, lammps_unit_style
from lammps_quests.formats._lengths import check_distances as shared_check_distances

__all__ = ["ANGSTROM_STYLES", "MIN_DISTANCE", "FrameArrays", "QuestsModifierError", "check_distances",
           "check_length_unit", "frame_arrays", "lammps_unit_style"]


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
    """Refuse a LAMMPS dump whose ``ITEM: UNITS`` line names a unit style without Å lengths
    (:func:`lammps_quests.formats._lengths.check_unit_style`).

    Args:
        data: the frame's DataCollection (its ``SourceFile`` attribute names the file OVITO read).
        frame: the frame number, for messages.
    """
    source = data.attributes.get("SourceFile")
    if source:
        check_unit_style(source, f"frame {frame} comes from {source},", error=QuestsModifierError)


def check_distances(points: np.ndarray, n: int, frame: int) -> None:
    """Refuse particles closer than MIN_DISTANCE Å to any other point (periodic images included):
    :func:`lammps_quests.formats._lengths.check_distances`."""
    shared_check_distances(points, n, f"frame {frame}", noun="particle", error=QuestsModifierError)
