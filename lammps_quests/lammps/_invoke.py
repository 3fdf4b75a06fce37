"""``fix quests`` without the plugin: the route for any LAMMPS built with the PYTHON package.

Deck recipe (``quests.py`` is written once by ``lammps-quests invoke-script quests.py`` in the
environment where lammps-quests is installed; see :mod:`lammps_quests.lammps._bootstrap`)::

    fix     dH all property/atom d_dH
    python  quests input 2 SELF "q all 100 cu_fcc.qref d_dH threshold 0.0" format ps file quests.py
    python  quests invoke

The string is ``ID group-ID N reference-file d_NAME keyword value ...`` with the keywords of
``fix quests`` (:mod:`._keywords`). :func:`setup` (the ``python quests invoke`` line) checks
everything, runs ``run 0 post no`` so that ghost atoms exist, evaluates dH at the current step,
defines the equal-style variables ``v_ID_max``, ``v_ID_mean``, ``v_ID_fraction``, ``v_ID_count``
and ``v_ID_new`` (the plugin's ``f_ID[1..5]``) and ``fix ID group-ID python/invoke N end_of_step
quests_ID``, which calls :func:`step` every N steps.

Each evaluation runs the plugin's code (:meth:`~._session.FixSession.evaluate_rank`): dH of the
owned atoms goes into ``d_NAME``, then the same ``finish`` decides save and halt. Only the
reduction over MPI ranks differs: without an MPI library of its own (mpi4py would load a second
MPI into LAMMPS's process), each rank writes its owned atoms' dH and a code (outside the group,
in it, in it and new, or "this rank failed") into a private per-atom array that setup defines
(``fix quests_ID_state all property/atom d2_quests_ID_state 2``), and one collective
``gather_concat`` of that array gives every rank every atom's values: the statistics computed
from them are exact and identical on every rank, so every rank takes the same decisions, and a
failure on one rank makes every rank raise together, leaving no rank waiting. That costs 16
bytes per atom per evaluation on every rank (one more gather after a save, to agree on it).
The ghost-cutoff check is :mod:`._ghosts`, the LAMMPS data access :mod:`._arrays`.

Errors print one ``ERROR: ...`` line (``ERROR on proc N:`` for a failure on one rank). At setup
(outside a run) every rank then ends LAMMPS with ``quit 1``; during a run LAMMPS accepts no
commands, so every rank raises an exception whose traceback is suppressed and LAMMPS adds its
own ``ERROR: Fix python/invoke end_of_step() method failed``.
"""

from __future__ import annotations

import atexit
import sys
from dataclasses import dataclass

import numpy as np

from lammps_quests._terminal import drop_colour_reset_at_exit
from lammps_quests.errors import ReportedError, SaveFileBusy
from lammps_quests.lammps._arrays import as_lammps, capsule_address, dh_output, gather_all, group_bitmask
from lammps_quests.lammps._ghosts import check_ghost_cutoff, communication_cutoff, ghost_cutoff_message
from lammps_quests.lammps._host import host_lammps_module, quit_lammps, world_rank
from lammps_quests.lammps._keywords import parse_keywords
from lammps_quests.lammps._messages import error_text, prefix as error_prefix
from lammps_quests.lammps._session import FixSession
from lammps_quests.lammps._threads import prepare_numba_for_lammps
from lammps_quests.monitor._monitor import QUANTITIES

USAGE = ('python quests input 2 SELF "ID group-ID N reference-file d_NAME [keyword value ...]" '
         "format ps file quests.py")
#: names of the equal-style variables v_ID_<suffix>: the monitor core's five statistics
SUFFIXES = tuple(q.suffix for q in QUANTITIES)



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


def fail(lmp, message: str, *, local: bool = False) -> ReportedError:
    """Print the error line (rank 0, or this rank for a local failure); return the exception."""
    rank = lmp.extract_setting("world_rank")
    if local and lmp.extract_setting("world_size") > 1:
        _print(f"ERROR on proc {rank}: {message}")
    elif rank == 0:
        _print(f"ERROR: {message}")
    return ReportedError(message)


# ---- setup: the `python quests invoke` line ----------------------------------------------------

def setup(lmpptr, spec: str) -> None:
    """Check, define the variables and the python/invoke fix, and evaluate dH now (collective).

    An error here (outside a run, identical on every rank) is printed once and ends LAMMPS
    with ``quit 1`` on every rank, so that it is the only ERROR line.
    """
    prepare_numba_for_lammps()  # the route's entry: before any kernel runs
    install_excepthook()
    try:
        _setup(lmpptr, spec)
    except ReportedError:
        quit_lammps(capsule_address(lmpptr))
        raise


def _setup(lmpptr, spec: str) -> None:
    lmp = wrap(lmpptr)
    words = str(spec).split()
    fix_id = words[0] if words else "quests"
    prefix = error_prefix(fix_id)
    busy = ""  # the save file's lock, taken by rank 0 alone: agreed on below
    try:
        state = open_invoke_fix(lmp, words)
        _release_earlier(lmp, state.fix_id)  # the same fix defined again: its file is free
        try:
            save_log = state.session.check_save(lmp.extract_setting("world_rank"))
        except SaveFileBusy as error:
            save_log, busy = "", error_text(error)
    except ReportedError:
        raise
    except Exception as error:  # every rank reads the same deck and files: a global error
        raise fail(lmp, f"{prefix}: {error_text(error)}") from None
    _fixes[(id(lmp), state.fix_id)] = state
    define_variables(lmp, state)
    lmp.command(f"fix quests_{state.fix_id}_state all property/atom {state_property(state)} 2")
    _agree_after_save(lmp, state, busy, f"{prefix}: {busy}")
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
    evaluate_and_act(lmp, state)
    import __main__

    callback = f"quests_{state.fix_id}"
    setattr(__main__, callback, lambda ptr, *args, _id=state.fix_id: step(ptr, _id))
    lmp.command(f"fix {state.fix_id} {state.group} python/invoke {state.every} end_of_step {callback}")


@atexit.register
def _release_all() -> None:
    """When LAMMPS ends its Python: every fix's save file is free (its lock file removed)."""
    for state in _fixes.values():
        state.session.close()


def _release_earlier(lmp, fix_id: str) -> None:
    """Close the session of an earlier ``python quests invoke`` of the same fix ID."""
    earlier = _fixes.pop((id(lmp), fix_id), None)
    if earlier is not None:
        earlier.session.close()


def wrap(lmpptr):
    """The running LAMMPS's own ``lammps`` object for the pointer (cached per instance)."""
    try:
        host_lammps_module(lmpptr)
    except Exception as error:  # the same on every rank: print once
        if world_rank(capsule_address(lmpptr)) == 0:
            print(f"ERROR: lammps-quests: {error}", flush=True)
        raise ReportedError(str(error)) from None
    return as_lammps(lmpptr)


def open_invoke_fix(lmp, words: list[str]) -> InvokeFix:
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


def state_property(state: InvokeFix) -> str:
    """The private per-atom array (two columns: dH in nats, :data:`CODES`) that carries each
    rank's results to every rank in one gather."""
    return f"d2_quests_{state.fix_id}_state"


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
    evaluate_and_act(lmp, _fixes[(id(lmp), fix_id)])
    drop_colour_reset_at_exit()  # numba may have started colorama during this call


def evaluate_and_act(lmp, state: InvokeFix) -> None:
    """dH into d_NAME on every rank, one gather, the statistics, then save/halt decisions."""
    prefix = error_prefix(state.fix_id)
    step_number = int(lmp.extract_global("ntimestep"))
    failure = ""
    try:
        check_ghost_cutoff(lmp, state.session.reference.cutoff, state.ghost_cutoff)
        state.session.evaluate_rank(lmp, state.group_bit, lmp.extract_setting("nthreads"))
        write_state(lmp, state)
    except Exception as error:
        failure = error_text(error)
        mark_failed(lmp, state)
    dh, code = gather_state(lmp, state)
    _stop_if_failed(lmp, failed_ranks(code), f"{prefix}: {failure} (computing dH at step {step_number})")
    stats = state.session.monitor.statistics(dh[code >= IN_GROUP], int(np.count_nonzero(code == NEW)))
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


def _stop_if_failed(lmp, ranks: list[int], message: str) -> None:
    """Every rank raises together; the lowest failing rank prints its message."""
    if not ranks:
        return
    if ranks[0] == lmp.extract_setting("world_rank"):
        raise fail(lmp, message, local=True)
    raise ReportedError(message)


def _agree_after_save(lmp, state: InvokeFix, failure: str, message: str) -> None:
    """Saving writes on rank 0 only: share its success through one more gather of the state."""
    if failure:
        mark_failed(lmp, state)
    _stop_if_failed(lmp, failed_ranks(gather_state(lmp, state)[1]), message)


# ---- the state array: what each rank tells the others ----------------------------------------

#: codes in the state array's second column (a failing rank writes -(rank + 1) instead)
OUTSIDE, IN_GROUP, NEW = 0.0, 1.0, 2.0
CODES = "0: outside the group, 1: in the group, 2: in the group and new, -(rank + 1): that rank failed"


def _state_view(lmp, state: InvokeFix) -> np.ndarray | None:
    """This rank's owned rows of the state array (None without owned atoms)."""
    from lammps import LAMMPS_DOUBLE_2D

    nlocal = lmp.extract_setting("nlocal")
    if nlocal == 0:
        return None
    # the data type is given: LAMMPS 2021's Python module does not detect it for d2_ arrays
    view = lmp.numpy.extract_atom(state_property(state), dtype=LAMMPS_DOUBLE_2D, nelem=nlocal, dim=2)
    if view is None:
        raise ValueError(f"LAMMPS lost the per-atom array {state_property(state)}; do not delete fix "
                         f"quests_{state.fix_id}_state")
    return view


def write_state(lmp, state: InvokeFix) -> None:
    """Owned atoms' dH (nats, as written into d_NAME) and codes, from the last evaluation."""
    view = _state_view(lmp, state)
    if view is None:
        return
    session = state.session
    view[:, 0] = dh_output(lmp, state.property, len(view))[: len(view)]
    view[:, 1] = OUTSIDE
    view[session.group_rows, 1] = IN_GROUP
    view[session.new_flags, 1] = NEW


def mark_failed(lmp, state: InvokeFix) -> None:
    """Owned atoms' code = -(rank + 1), so every rank sees this rank's failure."""
    view = _state_view(lmp, state)
    if view is not None:
        view[:, 1] = -(lmp.extract_setting("world_rank") + 1.0)


def gather_state(lmp, state: InvokeFix) -> tuple[np.ndarray, np.ndarray]:
    """Every atom's dH (nats) and code, on every rank: one ``gather_concat`` (16 bytes per atom)."""
    gathered = gather_all(lmp, state_property(state), 1, 2).reshape(-1, 2)
    return gathered[:, 0], gathered[:, 1]


def failed_ranks(code: np.ndarray) -> list[int]:
    """The ranks that marked their atoms failed, lowest first."""
    return sorted({int(-c) - 1 for c in np.unique(code[code < 0])})
