"""Whether LAMMPS's ghost atoms reach the descriptor cutoff around every owned atom.

The python/invoke route checks it here; the plugin extends LAMMPS's cutoff itself.

LAMMPS sends as ghosts the atoms within its communication cutoff of each MPI sub-domain. dH of
an owned atom needs every atom within the descriptor cutoff (Å), and owned atoms drift out of
their sub-domain between reneighbourings, so the check is geometric: :func:`check_ghost_cutoff`
measures how far the owned atoms' cutoff spheres reach beyond the sub-domain's faces.
"""

from __future__ import annotations

import numpy as np

from lammps_quests.errors import GhostCutoffError
from lammps_quests.lammps._arrays import box_cell


def ghost_cutoff_message(have: float, need: float, cutoff: float) -> str:
    """The error text: the ghost reach ``have``, the reach ``need`` and the cutoff (all Å)."""
    return (
        f"the ghost atoms reach {have:.6g} Angstrom around each MPI sub-domain (LAMMPS's "
        f"communication cutoff), but dH needs every atom within the descriptor cutoff "
        f"{cutoff:.6g} Angstrom of each owned atom ({need:.6g} Angstrom beyond the sub-domain "
        f"now); set comm_modify cutoff to the descriptor cutoff plus the neighbor skin (e.g. "
        f"comm_modify cutoff {cutoff + 2.0:.6g} with a skin of 2.0) before the python lines"
    )


def communication_cutoff(lmp, fix_id: str) -> float:
    """LAMMPS's ghost cutoff in Å (max of ``comm_modify cutoff`` and pair cutoff + skin).

    LAMMPS 2021 exposes it to Python only through the ``info communication`` command, which
    writes on rank 0; rank 0 hands the number to every rank through ``include`` (which LAMMPS
    reads on rank 0 and broadcasts). Call outside a run, after the run has been set up once.
    Returns -1.0 if the number cannot be read.
    """
    import os
    import re
    import shutil
    import tempfile

    name = f"quests_{fix_id}_ghost_cutoff"
    rank0 = lmp.extract_setting("world_rank") == 0
    folder = tempfile.mkdtemp(prefix="lammps-quests-") if rank0 else None
    info = os.path.join(folder, "info.txt") if rank0 else os.devnull
    script = os.path.join(folder, "cutoff.in") if rank0 else os.devnull
    try:
        lmp.command(f"info communication out overwrite {info}")
        if rank0:
            with open(info) as handle:
                found = re.search(r"Communication cutoff\s*=\s*(\S+)", handle.read())
            value = float(found.group(1)) if found else -1.0
            with open(script, "w") as handle:
                handle.write(f"variable {name} equal {value!r}\n")
        lmp.command(f"include {script}")
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    return float(lmp.extract_variable(name, None, 0))


def check_ghost_cutoff(lmp, cutoff: float, ghost_cutoff: float) -> None:
    """Ghost atoms must cover the descriptor cutoff (Å) around every owned atom.

    LAMMPS sends as ghosts the atoms within ``ghost_cutoff`` of each sub-domain, and owned
    atoms drift out of their sub-domain between reneighbourings: the farthest an owned atom's
    cutoff sphere reaches beyond a face with neighbours across it (periodic, or inside the box)
    must stay within the ghost cutoff. (Atoms also drift by up to half the neighbour skin after
    being sent; LAMMPS 2021 does not expose the skin, so that margin is the user's, as the
    message says.) Triclinic boxes are measured along the normals of their faces.
    """
    if ghost_cutoff < 0:
        return  # unknown: checked once at setup, where the user was warned
    nlocal = lmp.extract_setting("nlocal")
    if nlocal == 0:
        return
    x = np.asarray(lmp.numpy.extract_atom("x", nelem=nlocal, dim=3))[:nlocal]
    coords, lo, hi, spacing, interior = _face_frame(lmp, x)
    need = cutoff
    for d in range(3):
        for side, bound, open_face in ((-1, lo[d], interior[d][0]), (1, hi[d], interior[d][1])):
            if open_face:
                overhang = float((side * (coords[:, d] - bound) * spacing[d]).max())
                need = max(need, overhang + cutoff)
    if ghost_cutoff < need:
        raise GhostCutoffError(ghost_cutoff_message(ghost_cutoff, need, cutoff))


def _face_frame(lmp, x: np.ndarray):
    """Coordinates in which the sub-domain is a box, its bounds, Å per coordinate unit, and
    which faces have neighbours across them ((low, high) per dimension)."""
    boxlo, cell, periodicity = box_cell(lmp)
    if not lmp.extract_global("triclinic"):
        lo, hi = np.array(lmp.extract_global("sublo")), np.array(lmp.extract_global("subhi"))
        coords, spacing, box = x, np.ones(3), (boxlo, boxlo + np.diag(cell))
    else:
        inverse = np.linalg.inv(cell)  # rows of cell are lattice vectors: x = lamda @ cell
        coords = (x - boxlo) @ inverse
        lo = np.array(lmp.extract_global("sublo_lambda"))
        hi = np.array(lmp.extract_global("subhi_lambda"))
        spacing = 1.0 / np.linalg.norm(inverse, axis=0)  # distance between lattice planes
        box = (np.zeros(3), np.ones(3))
    tol = 1e-9 * max(1.0, float(np.max(np.abs(box[1]))))
    interior = [(bool(periodicity[d]) or lo[d] > box[0][d] + tol,
                 bool(periodicity[d]) or hi[d] < box[1][d] - tol) for d in range(3)]
    return coords, lo, hi, spacing, interior
