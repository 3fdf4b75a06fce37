"""The data the C++ fix hands to Python, as NumPy views of LAMMPS's own memory.

On the plugin route Python never reads LAMMPS back: at each evaluation ``FixQuests`` passes
(src/python_bridge.cpp, ``atoms_tuple``) one tuple with the fields :data:`ATOM_FIELDS`, whose
arrays are ``memoryview`` objects over LAMMPS's per-atom arrays (no copy) and over the fix's own
per-atom vector (writable: dH goes straight into it). For ``save`` the fix gathers the frame with
MPI itself and passes :data:`FRAME_FIELDS` the same way. The views are valid during the call only:
nothing here keeps them.

This module imports no ``lammps`` Python module, so the plugin runs in any LAMMPS whose C++
headers it was compiled against (the python/invoke route reads the same quantities through the
host's ``lammps`` module, :mod:`._arrays`, and builds the same objects from them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: fields of the atoms tuple, in the order src/python_bridge.cpp builds it
ATOM_FIELDS = ("nlocal", "nghost", "x", "type", "tag", "tag_bytes", "mask", "dh", "boxlo", "boxhi",
               "tilt", "periodic", "step", "units", "ntypes", "masses")
#: fields of the gathered frame (every atom, rank by rank), in the order of src/python_bridge.cpp
FRAME_FIELDS = ("tag", "type", "mask", "x", "dh")

_INTS = {4: np.int32, 8: np.int64}


@dataclass
class Box:
    """The simulation box: origin (3,) Å, cell (3, 3) Å with the lattice vectors as rows,
    periodicity (3,) bool."""

    origin: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray


def box_from(boxlo, boxhi, xy: float, xz: float, yz: float, periodic) -> Box:
    """LAMMPS's box (lo, hi, tilts xy xz yz in Å, periodic flags) as origin, cell rows, pbc."""
    origin = np.array(boxlo, dtype=float)
    span = np.array(boxhi, dtype=float) - origin
    cell = np.array([[span[0], 0.0, 0.0], [xy, span[1], 0.0], [xz, yz, span[2]]])
    return Box(origin, cell, np.array([bool(p) for p in periodic]))


@dataclass
class HostAtoms:
    """One rank's atoms as LAMMPS holds them (owned first, then ghosts), without copies.

    ``x`` (nlocal + nghost, 3) Å, ``type``/``tag`` (nlocal + nghost,), ``mask`` (nlocal,), ``dh``
    (nlocal,) nats, writable: the fix's per-atom vector. ``masses`` (ntypes + 1,) g/mol, or None
    when LAMMPS keeps per-atom masses. ``units``: LAMMPS's unit style (metal or real: Å).
    """

    nlocal: int
    nghost: int
    x: np.ndarray
    type: np.ndarray
    tag: np.ndarray
    mask: np.ndarray
    dh: np.ndarray
    box: Box
    step: int
    units: str
    ntypes: int
    masses: np.ndarray | None


def _view(buffer, dtype, rows: int, columns: int = 0) -> np.ndarray:
    array = np.frombuffer(buffer, dtype=dtype) if len(buffer) else np.zeros(0, dtype=dtype)
    shape = (rows, columns) if columns else (rows,)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"the fix handed over {array.size} values where {shape} were expected: "
                         "reinstall lammps-quests so that the plugin and its Python package match")
    return array.reshape(shape)


def type_masses(buffer) -> np.ndarray | None:
    """The type masses LAMMPS handed over (ntypes + 1 float64, g/mol, index = type), or None for
    the empty buffer of a LAMMPS that keeps per-atom masses."""
    return np.frombuffer(buffer, dtype=np.float64) if len(buffer) else None


def host_atoms(fields) -> HostAtoms:
    """:class:`HostAtoms` from the tuple of :data:`ATOM_FIELDS` built by the C++ fix."""
    if len(fields) != len(ATOM_FIELDS):
        raise ValueError(f"the fix handed over {len(fields)} atom fields, expected {len(ATOM_FIELDS)} "
                         f"({', '.join(ATOM_FIELDS)}): reinstall lammps-quests so that the plugin "
                         "and its Python package match")
    f = dict(zip(ATOM_FIELDS, fields))
    nlocal, nghost = int(f["nlocal"]), int(f["nghost"])
    nall = nlocal + nghost
    xy, xz, yz = f["tilt"]
    masses = type_masses(f["masses"])
    return HostAtoms(nlocal, nghost, _view(f["x"], np.float64, nall, 3), _view(f["type"], np.int32, nall),
                     _view(f["tag"], _INTS[int(f["tag_bytes"])], nall), _view(f["mask"], np.int32, nlocal),
                     _view(f["dh"], np.float64, nlocal), box_from(f["boxlo"], f["boxhi"], xy, xz, yz, f["periodic"]),
                     int(f["step"]), str(f["units"]), int(f["ntypes"]), masses)


@dataclass
class LocalAtoms:
    """This rank's atoms at one moment: owned first, then ghosts (LAMMPS's order)."""

    nlocal: int
    rows: np.ndarray  # (m,) int64: the owned atoms in the group
    points: np.ndarray  # (nlocal + nghost, 3) Å: owned and ghost positions
    types: np.ndarray | None  # (nlocal + nghost,) atom types, when asked for


def local_atoms(host: HostAtoms, group_bit: int, with_types: bool) -> LocalAtoms:
    """This rank's owned atoms of the group (bitmask ``group_bit``) and every owned and ghost
    position (Å), as views of ``host`` (the positions are copied to contiguous memory only if
    LAMMPS's are not); ``with_types``: also every atom's type."""
    nlocal = host.nlocal
    rows = np.flatnonzero(host.mask & int(group_bit)).astype(np.int64)
    if nlocal == 0 or len(rows) == 0:
        return LocalAtoms(nlocal, rows, np.zeros((0, 3)), None)
    return LocalAtoms(nlocal, rows, np.ascontiguousarray(host.x), host.type if with_types else None)


@dataclass
class GatheredFrame:
    """Every atom of the frame, rank by rank as the fix gathered them: ids, types, group masks,
    positions (n, 3) Å and dH (n,) nats."""

    tag: np.ndarray
    type: np.ndarray
    mask: np.ndarray
    x: np.ndarray
    dh: np.ndarray


def gathered_frame(fields) -> GatheredFrame:
    """:class:`GatheredFrame` from the tuple of :data:`FRAME_FIELDS` built by the C++ fix."""
    if len(fields) != len(FRAME_FIELDS):
        raise ValueError(f"the fix handed over {len(fields)} frame fields, expected {len(FRAME_FIELDS)}")
    f = dict(zip(FRAME_FIELDS, fields))
    n = len(f["tag"]) // 8
    return GatheredFrame(_view(f["tag"], np.int64, n), _view(f["type"], np.int32, n),
                         _view(f["mask"], np.int32, n), _view(f["x"], np.float64, n, 3),
                         _view(f["dh"], np.float64, n))


def build_frame(ids, types, positions, dh, box: Box, symbols, step: int, fix_id: str, mask=None):
    """The frame as a :class:`~lammps_quests.active.Structure` sorted by atom id, and
    its dH (nats) in the same order; copies, so the caller's buffers may go.

    Species from ``symbols`` (element per type, index = type), positions in Å relative to the
    box origin, columns id and type (and the group bitmask ``mask`` when given), info step and
    fix_id, the cell and pbc of ``box``.
    """
    from lammps_quests.active._structure import Structure

    order = np.argsort(ids, kind="stable")
    columns = {"id": np.asarray(ids)[order], "type": np.asarray(types)[order]}
    if mask is not None:
        columns["mask"] = np.asarray(mask)[order]
    frame = Structure(
        symbols=[symbols[t] for t in columns["type"]],
        positions=np.asarray(positions, dtype=float)[order] - box.origin,
        cell=box.cell,
        pbc=box.pbc,
        columns=columns,
        info={"step": int(step), "fix_id": str(fix_id)},
    )
    return frame, np.array(dh, dtype=np.float64)[order]
