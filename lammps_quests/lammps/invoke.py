"""``fix quests`` without the plugin: the route for any LAMMPS built with the PYTHON package.

Deck recipe (``quests.py`` is written once by ``lammps-quests invoke-script quests.py`` in the
environment where lammps-quests is installed; see :mod:`lammps_quests.lammps.bootstrap`)::

    fix     dH all property/atom d_dH
    python  quests input 2 SELF "q all 100 cu_fcc.qref d_dH threshold 0.0" format ps file quests.py
    python  quests invoke

The string is ``ID group-ID N reference-file d_NAME keyword value ...`` with the keywords of
``fix quests`` (:mod:`.keywords`). :func:`setup` (the ``python quests invoke`` line) checks
everything, runs ``run 0 post no`` so that ghost atoms exist, evaluates dH at the current step,
defines the equal-style variables ``v_ID_max``, ``v_ID_mean``, ``v_ID_fraction``, ``v_ID_count``
and ``v_ID_new`` (the plugin's ``f_ID[1..5]``) and ``fix ID group-ID python/invoke N end_of_step
quests_ID``, which calls :func:`step` every N steps.

Each evaluation runs the plugin's code (:class:`~.session.FixSession`): dH of the owned atoms
goes into ``d_NAME``, then the same ``finish`` decides save and halt. Only the reduction over
MPI ranks differs: without an MPI library of its own (mpi4py would load a second MPI into
LAMMPS's process), the route gathers every atom's dH and group mask with LAMMPS's collective
``gather_concat`` (exact, and identical on every rank, so every rank takes the same decision),
and computes the statistics from those. That costs 12 bytes per atom per evaluation on every
rank. With ``save``, each rank's "new" atoms travel the same way, in a second
``fix property/atom`` vector that setup defines (``d_quests_ID_new``). A failure on one rank
marks that rank's atoms NaN (the rank number in the NaN's payload) before the gather, so every
rank raises together and no rank is left waiting.

Errors print one ``ERROR: ...`` line (``ERROR on proc N:`` for a failure on one rank). At setup
(outside a run) every rank then ends LAMMPS with ``quit 1``; during a run LAMMPS accepts no
commands, so every rank raises an exception whose traceback is suppressed and LAMMPS adds its
own ``ERROR: Fix python/invoke end_of_step() method failed``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

# importing fix selects numba's private thread pool before any kernel runs (see threads.py)
from lammps_quests.lammps.fix import as_lammps, group_bitmask
from lammps_quests.lammps.host import capsule_address, host_lammps_module, quit_lammps, world_rank
from lammps_quests.core.terminal import drop_colour_reset_at_exit
from lammps_quests.lammps.keywords import parse_keywords
from lammps_quests.lammps.messages import error_text, prefix as error_prefix
from lammps_quests.active.monitor import QUANTITIES, Statistics
from lammps_quests.lammps.session import FixSession

USAGE = ('python quests input 2 SELF "ID group-ID N reference-file d_NAME [keyword value ...]" '
         "format ps file quests.py")
#: names of the equal-style variables v_ID_<suffix>: the monitor core's five statistics
SUFFIXES = tuple(q.suffix for q in QUANTITIES)

_QUIET_NAN = 0x7FF8000000000000


class QuestsError(RuntimeError):
    """An error already printed as a LAMMPS-style ERROR line; its traceback is not shown."""

    quiet = True


def _excepthook(kind, value, traceback, previous=sys.excepthook):
    if getattr(value, "quiet", False):
        return
    previous(kind, value, traceback)


def install_excepthook() -> None:
    """Show no traceback for errors already printed (LAMMPS prints Python errors with it)."""
    if getattr(sys.excepthook, "__name__", "") != "_excepthook":
        sys.excepthook = _excepthook


@dataclass
class InvokeFix:
    """One ``fix quests`` on the python/invoke route."""

    fix_id: str
    group: str
    every: int
    property: str  # d_NAME
    session: FixSession
    group_bit: int
    ghost_cutoff: float = -1.0  # Å, LAMMPS's communication cutoff (read at setup)


_fixes: dict[tuple[int, str], InvokeFix] = {}


def _print(text: str) -> None:
    """Print after LAMMPS's own buffered screen output (C stdio), so lines keep their order."""
    import ctypes

    ctypes.CDLL(None).fflush(None)
    print(text, flush=True)


def say(lmp, text: str) -> None:
    """Print on rank 0 (LAMMPS's screen); Python cannot reach LAMMPS's log file."""
    if text and lmp.extract_setting("world_rank") == 0:
        _print(text.rstrip("\n"))


def fail(lmp, message: str, *, local: bool = False) -> QuestsError:
    """Print the error line (rank 0, or this rank for a local failure); return the exception."""
    rank = lmp.extract_setting("world_rank")
    if local and lmp.extract_setting("world_size") > 1:
        _print(f"ERROR on proc {rank}: {message}")
    elif rank == 0:
        _print(f"ERROR: {message}")
    return QuestsError(message)


# ---- setup: the `python quests invoke` line ----------------------------------------------------

def setup(lmpptr, spec: str) -> None:
    """Check, define the variables and the python/invoke fix, and evaluate dH now (collective).

    An error here (outside a run, identical on every rank) is printed once and ends LAMMPS
    with ``quit 1`` on every rank, so that it is the only ERROR line.
    """
    install_excepthook()
    try:
        _setup(lmpptr, spec)
    except QuestsError:
        quit_lammps(capsule_address(lmpptr))
        raise


def _setup(lmpptr, spec: str) -> None:
    lmp = wrap(lmpptr)
    words = str(spec).split()
    fix_id = words[0] if words else "quests"
    prefix = error_prefix(fix_id)
    try:
        state = open_fix(lmp, words)
        save_log = state.session.check_save(lmp.extract_setting("world_rank"))
    except QuestsError:
        raise
    except Exception as error:  # every rank reads the same deck and files: a global error
        raise fail(lmp, f"{prefix}: {error_text(error)}") from None
    _fixes[(id(lmp), state.fix_id)] = state
    define_variables(lmp, state)
    flags = new_flags_property(state)
    if flags:
        lmp.command(f"fix quests_{state.fix_id}_new all property/atom {flags}")
    say(lmp, state.session.setup_log())
    if lmp.extract_setting("world_rank") == 0:
        say(lmp, state.session.threshold_log())
    say(lmp, save_log)
    lmp.command("run 0 post no")  # builds the ghost atoms that dH needs
    state.ghost_cutoff = communication_cutoff(lmp, state.fix_id)
    cutoff = state.session.reference.cutoff
    if state.ghost_cutoff < 0:
        say(lmp, f"WARNING: {prefix}: cannot read LAMMPS's communication cutoff; make sure "
                 f"it is at least the descriptor cutoff {cutoff:.6g} Angstrom plus the neighbor skin")
    elif state.ghost_cutoff < cutoff:
        raise fail(lmp, f"{prefix}: {ghost_cutoff_message(state.ghost_cutoff, cutoff, cutoff)}")
    evaluate(lmp, state)
    import __main__

    callback = f"quests_{state.fix_id}"
    setattr(__main__, callback, lambda ptr, *args, _id=state.fix_id: step(ptr, _id))
    lmp.command(f"fix {state.fix_id} {state.group} python/invoke {state.every} end_of_step {callback}")


def wrap(lmpptr):
    """The running LAMMPS's own ``lammps`` object for the pointer (cached per instance)."""
    try:
        host_lammps_module(lmpptr)
    except Exception as error:  # the same on every rank: print once
        if world_rank(capsule_address(lmpptr)) == 0:
            print(f"ERROR: lammps-quests: {error}", flush=True)
        raise QuestsError(str(error)) from None
    return as_lammps(lmpptr)


def open_fix(lmp, words: list[str]) -> InvokeFix:
    """Parse ``ID group-ID N reference-file d_NAME keyword ...`` and open the session."""
    if len(words) < 5:
        raise ValueError(f"expected ID group-ID N reference-file d_NAME [keyword value ...], got "
                         f"'{' '.join(words)}'; usage: {USAGE}")
    fix_id, group, every_word, reference, prop = words[:5]
    try:
        every = int(every_word)
    except ValueError:
        every = 0
    if every <= 0:
        raise ValueError(f"N must be a positive number of steps, got '{every_word}'")
    units = lmp.extract_global("units")
    if units not in ("metal", "real"):
        raise ValueError(f"dH needs lengths in Angstrom: use 'units metal' or 'units real' (the "
                         f"current units are '{units}')")
    if not prop.startswith("d_"):
        raise ValueError(f"the per-atom output must be a d_NAME of fix property/atom, got '{prop}'")
    if lmp.numpy.extract_atom(prop) is None and lmp.extract_setting("nlocal") > 0:
        raise ValueError(f"no per-atom property {prop}: add `fix {prop[2:]} all property/atom "
                         f"{prop}` before the python lines")
    group_bit = group_bitmask(lmp, group)
    session = FixSession(fix_id, group, reference, parse_keywords(words[5:]))
    session.per_atom = prop
    if session.options.elements is not None:
        session.map_types(lmp)
    return InvokeFix(fix_id, group, every, prop, session, group_bit)


def new_flags_property(state: InvokeFix) -> str | None:
    """The d_NAME that carries each rank's de-duplicated "new" atoms (None if not needed)."""
    saver = state.session.saver
    return f"d_quests_{state.fix_id}_new" if saver is not None else None


def define_variables(lmp, state: InvokeFix) -> None:
    """``v_ID_max/mean/fraction/count/new``: equal-style (thermo, fix halt) over string holders."""
    for suffix in SUFFIXES:
        holder = f"quests_{state.fix_id}_{suffix}"
        lmp.command(f"variable {holder} string 0.0")
        lmp.command(f"variable {state.fix_id}_{suffix} equal v_{holder}")


def set_variables(lmp, state: InvokeFix, values) -> None:
    for suffix, value in zip(SUFFIXES, values):
        lmp.set_variable(f"quests_{state.fix_id}_{suffix}", repr(float(value)))


# ---- every N steps: fix python/invoke calls quests_ID ------------------------------------------

def step(lmpptr, fix_id: str) -> None:
    """The python/invoke callback of fix ``fix_id`` (collective over ranks)."""
    lmp = as_lammps(lmpptr)
    evaluate(lmp, _fixes[(id(lmp), fix_id)])
    drop_colour_reset_at_exit()  # numba may have started colorama during this call


def evaluate(lmp, state: InvokeFix) -> None:
    """dH into d_NAME on every rank, statistics through LAMMPS, then save/halt decisions."""
    prefix = error_prefix(state.fix_id)
    step_number = int(lmp.extract_global("ntimestep"))
    failure = ""
    try:
        check_ghost_cutoff(lmp, state.session.reference.cutoff, state.ghost_cutoff)
        state.session.evaluate(lmp, state.group_bit, lmp.extract_setting("nthreads"),
                               property=state.property)
    except Exception as error:
        failure = error_text(error)
        _mark_failed(lmp, state.property)
    flags = new_flags_property(state)
    if flags and not failure:
        _write_flags(lmp, flags, state.session.new_flags)
    dh, mask = gather(lmp, state.property)
    _stop_if_failed(lmp, _failed_ranks(dh), f"{prefix}: {failure} (computing dH at step {step_number})")
    stats = statistics(lmp, state, dh, mask, flags)
    try:
        failure = ""
        outcome = state.session.finish(lmp, step_number, stats.partials)
    except Exception as error:  # e.g. rank 0 cannot write the save file
        failure = error_text(error)
    if state.session.last_saved_step == step_number:  # the same on every rank
        _agree_after_save(lmp, state, failure, f"{prefix}: saving at step {step_number} failed: {failure}")
    elif failure:
        raise fail(lmp, f"{prefix}: acting on dH at step {step_number} failed: {failure}")
    set_variables(lmp, state, outcome.values)
    if outcome.warning:
        say(lmp, f"WARNING: {outcome.warning}")
    say(lmp, outcome.log)  # save lines (and with a hard halt the saved summary) come first
    if outcome.halt == 2:
        raise fail(lmp, f"{prefix}: {outcome.error}")
    if outcome.halt == 1:
        lmp.force_timeout()  # as fix halt ... error soft: the run ends after this step


def _stop_if_failed(lmp, failed_ranks: list[int], message: str) -> None:
    """Every rank raises together; the lowest failing rank prints its message."""
    if not failed_ranks:
        return
    if failed_ranks[0] == lmp.extract_setting("world_rank"):
        raise fail(lmp, message, local=True)
    raise QuestsError(message)


def _agree_after_save(lmp, state: InvokeFix, failure: str, message: str) -> None:
    """Saving writes on rank 0 only: share its success through one more gather (the owned
    atoms' dH is marked on a failing rank, gathered, and put back)."""
    nlocal = lmp.extract_setting("nlocal")
    out = lmp.numpy.extract_atom(state.property)
    kept = np.array(out[:nlocal]) if out is not None else None
    if failure:
        _mark_failed(lmp, state.property)
    dh, _ = gather(lmp, state.property, with_mask=False)
    if kept is not None:
        out[:nlocal] = kept
    _stop_if_failed(lmp, _failed_ranks(dh), message)


def statistics(lmp, state: InvokeFix, dh: np.ndarray, mask: np.ndarray, flags: str | None) -> Statistics:
    """The reduced statistics, from every atom's dH (nats) and group mask (and each rank's
    new-atom flags, gathered)."""
    values = dh[(mask & state.group_bit) != 0]
    if flags:
        new = int(np.ctypeslib.as_array(lmp.gather_concat(flags, 1, 1), shape=(len(dh),)).sum())
    else:
        new = 0
    return state.session.monitor.statistics(values, new)


def _write_flags(lmp, prop: str, flags: np.ndarray) -> None:
    nlocal = lmp.extract_setting("nlocal")
    out = lmp.numpy.extract_atom(prop)
    if out is not None and nlocal:
        out[:nlocal] = flags[:nlocal] if len(flags) >= nlocal else 0.0


def gather(lmp, prop: str, with_mask: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Every atom's dH (nats) and group mask, on every rank (LAMMPS's gather_concat)."""
    natoms = int(lmp.get_natoms())
    dh = np.ctypeslib.as_array(lmp.gather_concat(prop, 1, 1), shape=(natoms,)).copy()
    if not with_mask:
        return dh, None
    mask = np.ctypeslib.as_array(lmp.gather_concat("mask", 0, 1), shape=(natoms,)).copy()
    return dh, mask


def _mark_failed(lmp, prop: str) -> None:
    """Owned atoms' dH = NaN carrying this rank's number, so every rank sees the failure."""
    nlocal = lmp.extract_setting("nlocal")
    out = lmp.numpy.extract_atom(prop)
    if out is None or nlocal == 0:
        return
    payload = np.uint64(_QUIET_NAN | lmp.extract_setting("world_rank"))
    out[:nlocal] = np.array([payload], dtype=np.uint64).view(np.float64)[0]


def _failed_ranks(dh: np.ndarray) -> list[int]:
    bad = np.isnan(dh)
    if not bad.any():
        return []
    return sorted(set((dh[bad].view(np.uint64) & np.uint64(0xFFFFFFFF)).tolist()))


# ---- ghost atoms ----------------------------------------------------------------------------------

class GhostCutoffError(ValueError):
    """The ghost atoms do not reach the descriptor cutoff around the owned atoms."""


def ghost_cutoff_message(have: float, need: float, cutoff: float) -> str:
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
    boxlo, boxhi, xy, yz, xz, periodicity, _ = lmp.extract_box()
    boxlo, boxhi = np.array(boxlo), np.array(boxhi)
    if not lmp.extract_global("triclinic"):
        lo, hi = np.array(lmp.extract_global("sublo")), np.array(lmp.extract_global("subhi"))
        coords, spacing, box = x, np.ones(3), (boxlo, boxhi)
    else:
        span = boxhi - boxlo
        cell = np.array([[span[0], 0.0, 0.0], [xy, span[1], 0.0], [xz, yz, span[2]]])
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
