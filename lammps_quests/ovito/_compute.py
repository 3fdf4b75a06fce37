"""dH of one frame, in blocks of particles so that OVITO can show progress between them.

Every block goes through :class:`~lammps_quests.dh.ReferenceDh`, the same
descriptors and kernel sums as ``lammps-quests dh`` and ``fix quests``: periodic images are
built once per frame, then each block of centre atoms is described against all of them, as
:func:`lammps_quests.core.descriptors_from_arrays` does for rows of a frame.
"""

from __future__ import annotations

import numpy as np

from lammps_quests.errors import SpeciesMismatchError
from lammps_quests.monitor._monitor import QUANTITIES, Statistics
from lammps_quests.core._images import periodic_images
from lammps_quests.core._validation import check_positions

from ._elements import particle_symbols
from ._frames import FrameArrays, check_distances
from lammps_quests.errors import QuestsModifierError

BLOCK = 4096  # particles per progress step


def frame_dh(rdh, arrays: FrameArrays, elements: str, frame: int, block: int | None = None):
    """Generator yielding the fraction of particles done; its return value is the dH array.

    Args:
        rdh: the ReferenceDh (reference, bandwidth, mode).
        arrays: the frame (positions and cell in Å).
        elements: the modifier's type->element field (species-aware references only).
        frame: the frame number, for messages.
        block: particles per step (default BLOCK).

    Yields:
        floats in (0, 1] after each block.

    Returns:
        (n,) float64 dH in nats (``values = yield from frame_dh(...)``).
    """
    block = block or BLOCK
    positions = check_positions(arrays.positions)
    n = len(positions)
    labels = point_labels = None
    if rdh.elements is not None:
        symbols = particle_symbols(arrays.type_ids, arrays.type_names, elements, frame)
        try:
            labels = rdh.labels(symbols)
        except SpeciesMismatchError as error:
            raise QuestsModifierError(f"frame {frame}: {error}; or map the types to the reference's "
                                      f"elements ({' '.join(rdh.elements)}) in the elements field") from None
    points, image_of = periodic_images(positions, arrays.cell, arrays.pbc, rdh.cutoff)
    check_distances(points, n, frame)
    if labels is not None:
        point_labels = labels[image_of]
    values = np.empty(n)
    for first in range(0, n, block):
        last = min(first + block, n)
        Y = rdh.descriptors_from_points(points[first:last], points, np.arange(first, last, dtype=np.int64),
                                        point_labels)
        values[first:last] = rdh(Y, None if labels is None else labels[first:last])
        yield last / n
    return values


def summary(values: np.ndarray, threshold: float) -> dict:
    """The global attributes: the five statistics of every host
    (:data:`lammps_quests.monitor.QUANTITIES`, the values of ``fix quests``'s
    f_ID[1..5]), each named ``QUESTS.<suffix>`` as the python/invoke route's ``v_ID_<suffix>``.

    Returns:
        {"QUESTS.max": max dH (nats), "QUESTS.mean": mean dH (nats), "QUESTS.fraction":
        fraction of particles with dH > threshold, "QUESTS.count": their number, "QUESTS.new":
        0 (the modifier saves nothing)}.
    """
    stats = Statistics.of(values, threshold).quantities()
    return {attribute(q): int(stats[q.field]) if q.field in _COUNTS else float(stats[q.field]) for q in QUANTITIES}


#: statistics that are numbers of atoms
_COUNTS = ("count_above", "new")


def attribute(quantity) -> str:
    """The OVITO global attribute of one of the :data:`QUANTITIES`."""
    return f"QUESTS.{quantity.suffix}"
