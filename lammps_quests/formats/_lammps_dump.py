"""Write frames with extra per-atom columns as a LAMMPS text dump (readable by OVITO/ASE).

ASE reads LAMMPS dumps but cannot write them, so this small writer exists. Cells are
converted to LAMMPS' restricted triclinic form (a along x, b in the xy plane) with ASE's
Prism, and positions rotated accordingly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_lammps_dump(path, frames, columns: dict, timesteps=None) -> Path:
    """Write ``frames`` (ase.Atoms) with per-atom columns ``{name: [one array per frame]}``.

    Columns: ``id type x y z <names...>``; ids count from 1 in atom order (ASE sorts dumps by
    id when reading). Types are the frames' LAMMPS types when they came from a LAMMPS file
    (ASE's ``type`` array), else the distinct atomic numbers numbered in ascending order.
    Timesteps are the frames' own when known (``info["timestep"]`` of a LAMMPS dump, else
    ``info["step"]`` of structures saved by ``fix quests ... save`` or a monitor), else 0, 1, 2, ...
    """
    path = Path(path)
    species = np.unique(np.concatenate([frame.numbers for frame in frames]))
    if timesteps is None:
        timesteps = [_timestep(frame, number) for number, frame in enumerate(frames)]
    with open(path, "w") as stream:
        for number, (frame, step) in enumerate(zip(frames, timesteps)):
            values = {name: np.asarray(per_frame[number]) for name, per_frame in columns.items()}
            _write_frame(stream, frame, values, species, step)
    return path


def _timestep(frame, number: int):
    """The frame's own MD step (LAMMPS dump ``timestep``, saved ``step``), else its number."""
    for key in ("timestep", "step"):
        value = frame.info.get(key)
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return int(value)
    return number


def _write_frame(stream, frame, values: dict, species, step) -> None:
    n = len(frame)
    types = frame.arrays["type"] if "type" in frame.arrays else np.searchsorted(species, frame.numbers) + 1
    bounds, positions, flags = _lammps_box(frame)
    stream.write(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{n}\n")
    stream.write(f"ITEM: BOX BOUNDS {flags}\n")
    for line in bounds:
        stream.write(" ".join(f"{value:.10g}" for value in line) + "\n")
    stream.write("ITEM: ATOMS id type x y z " + " ".join(values) + "\n")
    table = np.column_stack([np.arange(1, n + 1), types, positions, *values.values()])
    formats = ["%d", "%d", "%.8f", "%.8f", "%.8f"]
    formats += ["%d" if np.issubdtype(v.dtype, np.integer) else "%.17g" for v in values.values()]
    np.savetxt(stream, table, fmt=formats)


def _lammps_box(frame):
    """(bounds lines, positions in the LAMMPS frame, boundary flags) of one ase.Atoms."""
    pbc = ["pp" if periodic else "ff" for periodic in frame.pbc]
    cell = np.asarray(frame.cell[:], dtype=float)
    if np.linalg.matrix_rank(cell) < 3:
        # No full cell (molecule): an orthogonal box around the atoms.
        lo = frame.positions.min(axis=0) - 1.0
        hi = frame.positions.max(axis=0) + 1.0
        return [[lo[i], hi[i]] for i in range(3)], frame.positions, " ".join(pbc)
    from ase.calculators.lammps import Prism

    prism = Prism(cell, pbc=frame.pbc)
    xhi, yhi, zhi, xy, xz, yz = prism.get_lammps_prism()
    positions = prism.vector_to_lammps(frame.positions)
    if np.allclose([xy, xz, yz], 0.0):
        return [[0.0, xhi], [0.0, yhi], [0.0, zhi]], positions, " ".join(pbc)
    # Triclinic dumps give the bounding box of the tilted cell plus the tilt factors.
    xlo_bound = min(0.0, xy, xz, xy + xz)
    xhi_bound = max(xhi, xhi + xy, xhi + xz, xhi + xy + xz)
    ylo_bound = min(0.0, yz)
    yhi_bound = max(yhi, yhi + yz)
    bounds = [[xlo_bound, xhi_bound, xy], [ylo_bound, yhi_bound, xz], [0.0, zhi, yz]]
    return bounds, positions, "xy xz yz " + " ".join(pbc)
