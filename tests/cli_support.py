"""The command line run in the test process (click's CliRunner), for tests whose subject is not
the process boundary: each command in a process of its own costs about a second of interpreter
start-up and imports (numba, and ASE's input/output, which imports SciPy). Tests of exit codes
and stderr as a shell sees them, and every comparison with ``mpirun``, keep real processes.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner, Result


@contextmanager
def one_thread():
    """numba and BLAS on one thread, as in a process started with NUMBA_NUM_THREADS=1 and
    OMP_NUM_THREADS=1 (what the ``mpirun`` runs that these runs are compared with get)."""
    import numba
    from threadpoolctl import threadpool_limits

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        numba.set_num_threads(threads)


def invoke(*arguments, cwd: Path, threads_one: bool = False) -> Result:
    """``lammps-quests *arguments`` run from directory ``cwd`` in this process (``threads_one``:
    on one thread); the result has ``exit_code``, ``stdout``, ``stderr`` and ``output``."""
    from lammps_quests.cli import main

    here = os.getcwd()
    os.chdir(cwd)
    try:
        if threads_one:
            with one_thread():
                return CliRunner().invoke(main, [str(a) for a in arguments])
        return CliRunner().invoke(main, [str(a) for a in arguments])
    finally:
        os.chdir(here)


def invoke_json(directory: Path, *arguments):
    """``lammps-quests *arguments --json`` run from ``directory`` in this process: the parsed
    JSON it prints (the command must succeed)."""
    result = invoke(*arguments, "--json", cwd=directory)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)
