"""Cost per evaluation of the in-memory extension (de-duplicated `save`) next to the evaluation.

One process, one thread count, best of several runs. The evaluation is what ``fix quests``
does every N steps: descriptors of a 32,000-atom thermal FCC Cu cell and dH against a
4,000-environment thermal reference. The extension adds, for the atoms with dH(reference) > t
only (the candidates: nothing else can be new), one kernel sum over the saved environments
(``Saver.new_mask``; the fix reuses the descriptors of the evaluation). Rows: fraction of candidate atoms x number of
saved environments.

    python benchmarks/bench_extension.py [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

from _threads import pin_threads


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="numba and BLAS threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (best kept)")
    return parser.parse_args()


ARGS = parse_args()
pin_threads(ARGS.threads)

import numpy as np  # noqa: E402
from ase.build import bulk  # noqa: E402

from lammps_quests.active import Saver  # noqa: E402
from lammps_quests.core._defaults import DEFAULT_CUTOFF, DEFAULT_K  # noqa: E402
from lammps_quests.core._descriptors import descriptors_from_arrays  # noqa: E402
from lammps_quests.core._information import delta_entropy  # noqa: E402
from lammps_quests.formats._reference import Reference  # noqa: E402


def thermal_fcc(repeat, sigma, seed, a=3.61):
    atoms = bulk("Cu", "fcc", a=a, cubic=True).repeat(repeat)
    atoms.positions += np.random.default_rng(seed).normal(0.0, sigma, atoms.positions.shape)
    return atoms


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    frame = thermal_fcc(20, 0.08, seed=1)  # 32,000 atoms
    crystal = thermal_fcc(10, 0.08, seed=2)
    reference = Reference.from_descriptors(descriptors_from_arrays(crystal.positions, crystal.cell, True),
                                           k=DEFAULT_K, cutoff=DEFAULT_CUTOFF)
    hot_pool = np.vstack([descriptors_from_arrays(f.positions, f.cell, True)
                          for f in (thermal_fcc(14, 0.15, seed=s, a=3.45) for s in range(2))])  # 21,952
    positions, cell = frame.positions, np.array(frame.cell)

    def evaluation():
        Y = descriptors_from_arrays(positions, cell, True)
        return Y, delta_entropy(Y, reference.descriptors, reference.bandwidth)

    Y_all, dh = evaluation()
    base = best_of(evaluation, ARGS.repeats)
    print(f"evaluation (32,000 atoms, 4,000 reference environments, {ARGS.threads} threads): "
          f"{base * 1e3:.1f} ms")
    print(f"{'candidates':>10} {'saved':>7} {'added ms':>9} {'added/eval':>11}")
    rng = np.random.default_rng(0)
    for fraction in (0.01, 0.1, 1.0):
        rows = np.sort(rng.choice(len(positions), size=int(fraction * len(positions)), replace=False))
        for n_saved in (100, 1_000, 10_000):
            saver = Saver(reference, reference.bandwidth, threshold=-np.inf)
            saver.extension.add(hot_pool[:n_saved])

            def added():
                return saver.new_mask(Y_all[rows], dh[rows])

            added()
            cost = best_of(added, ARGS.repeats)
            print(f"{fraction:>10.0%} {n_saved:>7} {cost * 1e3:>9.1f} {cost / base:>11.3f}")


if __name__ == "__main__":
    main()
