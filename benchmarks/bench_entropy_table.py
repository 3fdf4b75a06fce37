"""Speed of the entropy table (``lammps-quests entropy``): symmetric self-sum against row sums.

``entropy_summary`` (what the command runs) computes dH(x_j | X) of every row with the core's
symmetric self-sum (each pair of environments once, as ``lammps_quests.entropy``); the
comparison is the general row-by-row path, dH of every row against all of X
(``delta_entropy_rows(X, X, h)``, every pair twice). Both run in this process on the same
descriptors with the same thread count, alternating, best of ``--repeats``; the machine may be
shared, so the minimum is the least disturbed time.

    python benchmarks/bench_entropy_table.py [--n 20000] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

from _threads import pin_threads


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="environments (thermal FCC Cu)")
    parser.add_argument("--threads", type=int, default=2, help="numba and BLAS threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per path")
    return parser.parse_args()


ARGS = parse_args()
# thread counts must be fixed before numpy/numba start their pools
pin_threads(ARGS.threads)

import numpy as np  # noqa: E402
from ase.build import bulk  # noqa: E402

from lammps_quests.analysis._rows import delta_entropy_rows  # noqa: E402
from lammps_quests.analysis._summary import entropy_summary, summarize_from_dh  # noqa: E402
from lammps_quests.core._defaults import DEFAULT_BANDWIDTH  # noqa: E402
from lammps_quests.core._descriptors import descriptors  # noqa: E402


def thermal_fcc_descriptors(n: int, sigma: float = 0.08, seed: int = 1) -> np.ndarray:
    """Descriptors (Å^-1) of n atoms of FCC Cu (a = 3.61 Å) with Gaussian displacements σ Å."""
    repeat = int(np.ceil((n / 4) ** (1 / 3)))
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(repeat)
    atoms.positions += np.random.default_rng(seed).normal(0.0, sigma, atoms.positions.shape)
    return descriptors(atoms)[:n]


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main():
    X = thermal_fcc_descriptors(ARGS.n)
    h = DEFAULT_BANDWIDTH

    def symmetric():
        return entropy_summary(X, h, progress=False)

    def rows():
        return summarize_from_dh(delta_entropy_rows(X, X, h, progress=False), "", h)

    entropy_summary(X[:2000], h, progress=False)  # compile (or load) both paths' kernels
    delta_entropy_rows(X[:2000], X[:2000], h, progress=False)
    t_new, t_old = [], []
    for _ in range(ARGS.repeats):
        t, new = timed(symmetric)
        t_new.append(t)
        t, old = timed(rows)
        t_old.append(t)
    pairs = len(X) ** 2  # n^2 (x_i, x_j) terms, whichever way they are computed
    print(f"entropy table of {len(X)} environments (n^2 = {pairs:.2e} kernel terms), h = {h} Å^-1, "
          f"{ARGS.threads} threads, best of {ARGS.repeats}")
    print(f"  row sums (before):       {min(t_old):8.3f} s  ({pairs / min(t_old) / 1e6:7.0f} M terms/s)")
    print(f"  symmetric self-sum (now): {min(t_new):7.3f} s  ({pairs / min(t_new) / 1e6:7.0f} M terms/s)")
    print(f"  speed-up {min(t_old) / min(t_new):.2f}x;  H {new.entropy:.12f} vs {old.entropy:.12f} nats, "
          f"D {new.diversity:.12f} vs {old.diversity:.12f} nats")


if __name__ == "__main__":
    main()
