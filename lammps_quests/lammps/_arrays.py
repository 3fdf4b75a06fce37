"""LAMMPS data in and out: the instance behind a PyCapsule, this rank's atoms, the box, frames.

Every read of LAMMPS's memory and every write into it goes through here, once each:

* :func:`capsule_address` and :func:`as_lammps`: the ``LAMMPS*`` in the PyCapsule that the
  plugin and ``fix python/invoke`` pass, and the one ``lammps.lammps`` wrapper per instance;
* :func:`read_local_atoms`: this rank's owned and ghost positions (Å), types and the owned
  atoms of the group (the group mask read once);
* :func:`dh_output`: the per-atom vector dH (nats) goes to (``f_ID`` or a ``d_NAME``);
* :func:`box_cell`: the box as origin, cell rows and periodicity (the one box-to-cell step);
* :func:`gather_frame`: the whole frame on every rank, through LAMMPS's collectives;
* :func:`lammps_type_elements`, :func:`species_of_types`: the element of each atom type.

Nothing here imports the ``lammps`` module at import time: on the python/invoke route
:mod:`._host` must first pick the module that fits the running LAMMPS.
"""

from __future__ import annotations

import ctypes
import numpy as np

from lammps_quests.lammps._handoff import Box, LocalAtoms, box_from, build_frame
from lammps_quests.lammps._type_elements import elements_from_masses, type_elements, type_species_numbers

# one ctypes wrapper per LAMMPS instance address (building one declares ~300 prototypes, and the
# python/invoke route hands over a new PyCapsule at every call)
_wrappers: dict[int, object] = {}


def capsule_address(lmpptr) -> int:
    """The ``LAMMPS*`` held by the PyCapsule that LAMMPS passes to Python functions."""
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return int(get(lmpptr, None))


def as_lammps(lmp):
    """A ``lammps.lammps`` object for ``lmp``: itself, or the cached wrapper of a PyCapsule."""
    from lammps import lammps

    if isinstance(lmp, lammps):
        return lmp
    address = capsule_address(lmp)
    wrapper = _wrappers.get(address)
    if wrapper is None:
        wrapper = _wrappers[address] = lammps(ptr=lmp)
    return wrapper


def group_bitmask(lmp, group: str) -> int:
    """Bitmask of the LAMMPS group named ``group`` (ValueError if it does not exist)."""
    names = lmp.available_ids("group")
    if group not in names:
        raise ValueError(f"group {group!r} does not exist; defined groups: {', '.join(names)}")
    return 1 << names.index(group)


def read_local_atoms(lmp, group_bit: int, with_types: bool) -> LocalAtoms:
    """This rank's owned atoms of the group (mask read once) and every owned and ghost position
    (Å; current at ``end_of_step`` and in ``setup``); ``with_types``: also every atom's type."""
    nlocal = int(lmp.extract_setting("nlocal"))
    if nlocal == 0:
        return LocalAtoms(0, np.zeros(0, dtype=np.int64), np.zeros((0, 3)), None)
    mask = np.asarray(lmp.numpy.extract_atom("mask", nelem=nlocal))[:nlocal]
    rows = np.flatnonzero(mask & int(group_bit)).astype(np.int64)
    if len(rows) == 0:
        return LocalAtoms(nlocal, rows, np.zeros((0, 3)), None)
    total = nlocal + int(lmp.extract_setting("nghost"))
    points = np.ascontiguousarray(lmp.numpy.extract_atom("x", nelem=total, dim=3))
    types = np.asarray(lmp.numpy.extract_atom("type", nelem=total)) if with_types else None
    return LocalAtoms(nlocal, rows, points, types)


def dh_output(lmp, name: str, nlocal: int) -> np.ndarray:
    """The writable float64 per-atom vector dH goes to: ``f_ID`` (the fix's own vector) or
    ``d_NAME`` (a fix property/atom vector); ValueError if LAMMPS has none with ``nlocal`` rows."""
    from lammps import LMP_STYLE_ATOM, LMP_TYPE_VECTOR

    if name.startswith("f_"):
        out = lmp.numpy.extract_fix(name[2:], LMP_STYLE_ATOM, LMP_TYPE_VECTOR)
        what = f"per-atom vector of fix {name[2:]}"
    elif name.startswith("d_"):
        out = lmp.numpy.extract_atom(name)
        what = f"per-atom property {name}"
    else:
        raise ValueError(f"dH goes to f_ID (a fix quests) or d_NAME (fix property/atom), not {name!r}")
    if out is None or getattr(out, "dtype", None) != np.float64 or len(out) < nlocal:
        raise ValueError(f"LAMMPS has no writable float64 {what} with {nlocal} local rows")
    return out


def box_cell(lmp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The simulation box: origin (3,) Å, cell (3, 3) Å with the lattice vectors as rows, and
    periodicity (3,) bool."""
    boxlo, boxhi, xy, yz, xz, periodicity, _ = lmp.extract_box()
    box = box_from(boxlo, boxhi, xy, xz, yz, periodicity)
    return box.origin, box.cell, box.pbc


def gather_all(lmp, name: str, kind: int, count: int = 1) -> np.ndarray:
    """Every atom's ``name`` (``kind`` 0 int, 1 double; ``count`` per atom) on every rank, in
    LAMMPS's gather order (collective: ``gather_concat``), as a copy."""
    natoms = int(lmp.get_natoms())
    data = lmp.gather_concat(name, kind, count)
    return np.ctypeslib.as_array(data, shape=(natoms * count,)).copy()


def gather_frame(lmp, fix_id: str, step: int, type_symbols=None, with_mask: bool = False,
                 per_atom: str | None = None):
    """The whole current frame on every rank (collective): (Structure, dH per atom in nats).

    Every rank gathers ids, types, positions and dH (``per_atom``: the fix's vector ``f_ID`` by
    default, a ``d_NAME`` of fix property/atom on the python/invoke route) through LAMMPS's
    collectives (``gather_concat`` returns the data on all ranks), sorted by atom id: species
    (``type_symbols`` per type, else from the type masses, 'X' if none matches), positions in
    Å relative to the box origin, columns id and type (and the group bitmask ``mask`` if
    ``with_mask``), info step and fix_id, the cell and pbc of the box. Every rank holds the
    same arrays, so decisions taken from them agree across ranks.
    """
    lmp = as_lammps(lmp)
    ids = gather_all(lmp, "id", 0)
    types = gather_all(lmp, "type", 0)
    positions = gather_all(lmp, "x", 1, 3).reshape(len(ids), 3)
    dh = gather_all(lmp, per_atom or f"f_{fix_id}", 1)
    mask = gather_all(lmp, "mask", 0) if with_mask else None
    origin, cell, pbc = box_cell(lmp)
    symbols = type_symbols or elements_from_masses(np.asarray(lmp.numpy.extract_atom("mass")))
    return build_frame(ids, types, positions, dh, Box(origin, cell, pbc), symbols, step, fix_id, mask)


def lammps_type_elements(lmp, elements=None) -> list[str]:
    """Element of each atom type of ``lmp`` (index 1..ntypes): ``elements`` (the fix's keyword)
    or the type masses; ValueError naming a type that matches no element."""
    lmp = as_lammps(lmp)
    ntypes = int(lmp.extract_setting("ntypes"))
    masses = None
    if elements is None:
        masses = lmp.numpy.extract_atom("mass")
        masses = None if masses is None else np.asarray(masses)[: ntypes + 1]
    return type_elements(ntypes, masses, elements)


def species_of_types(lmp, reference, elements=None, by: str = "the fix's atom types") -> np.ndarray:
    """Species number in ``reference`` of each atom type (index 1..ntypes), checked: an element
    the reference lacks raises ReferenceMismatchError naming it."""
    symbols = lammps_type_elements(lmp, elements)
    reference.check(symbols=symbols[1:], by=f"{by} ({' '.join(symbols[1:])})")
    return type_species_numbers(symbols, reference.elements)
