"""Thread counts of a benchmark, set before numpy, numba or BLAS are imported (they read them once)."""

import os

THREAD_VARIABLES = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pin_threads(threads: int) -> None:
    """Give numba, OpenMP and the BLAS libraries ``threads`` threads each."""
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
