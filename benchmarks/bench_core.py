"""Speed of the numerical core against the published `quests` package, side by side.

Both run in this one process on the same data with the same numba thread count; each case is
timed several times, alternating the two codes, and the best time of each is kept (the
machines are shared, so the minimum is the least disturbed measurement). First calls, which
include numba compilation (or loading it from the cache), are timed separately.

    python benchmarks/bench_core.py [--threads 2] [--repeats 3]

Cases: descriptors of a 32,000-atom thermally displaced FCC Cu cell; dH of
32,000 environments against 4,224 reference environments; entropy of 20,000 environments.
"""

from __future__ import annotations

import argparse
import time

from _threads import pin_threads


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="numba and BLAS threads for both codes")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per code and case")
    return parser.parse_args()


ARGS = parse_args()
# thread counts must be fixed before numpy/numba start their pools
pin_threads(ARGS.threads)

import numpy as np  # noqa: E402
from ase.build import bulk  # noqa: E402
from quests.descriptor import get_descriptors  # noqa: E402
from quests.entropy import delta_entropy as quests_delta_entropy  # noqa: E402
from quests.entropy import entropy as quests_entropy  # noqa: E402

import lammps_quests as lq  # noqa: E402


def thermal_fcc(repeat, sigma, seed):
    """FCC Cu (a = 3.61 Å) with Gaussian displacements of ``sigma`` Å per coordinate."""
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(repeat)
    atoms.positions += np.random.default_rng(seed).normal(0.0, sigma, atoms.positions.shape)
    return atoms


def best_of(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def first_call(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name, ours, theirs, repeats, check):
    """Time both (alternating), check agreement, print one line; return the speed-up."""
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        t, r_ours = best_of(ours, 1)
        t_ours.append(t)
        t, r_theirs = best_of(theirs, 1)
        t_theirs.append(t)
    agreement = check(r_ours, r_theirs)
    ratio = min(t_theirs) / min(t_ours)
    print(f"{name:<44s} ours {min(t_ours):8.3f} s   quests {min(t_theirs):8.3f} s   "
          f"speed-up {ratio:6.1f}x   {agreement}", flush=True)
    return ratio


def max_abs(a, b):
    return f"max |diff| {np.max(np.abs(a - b)):.1e}"


def max_rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    finite = np.isfinite(b)
    return f"max rel diff {np.max(np.abs(a[finite] - b[finite]) / np.abs(b[finite])):.1e}" \
        f" ({np.count_nonzero(~finite)} inf in quests)"


def main():
    print(f"threads: {ARGS.threads}, repeats: {ARGS.repeats}, numpy {np.__version__}")
    big = thermal_fcc((20, 20, 20), 0.08, seed=1)  # 32,000 atoms
    small = thermal_fcc((2, 2, 2), 0.08, seed=2)
    ref_frames = [thermal_fcc((4, 4, 4), 0.06, seed=100 + s) for s in range(17)]

    print("first calls (compilation or cache load, small inputs):")
    print(f"  descriptors: ours {first_call(lambda: lq.descriptors(small)):.2f} s, "
          f"quests {first_call(lambda: get_descriptors([small])):.2f} s")
    x_small = lq.descriptors(small)
    print(f"  entropy/dH:  ours {first_call(lambda: lq.delta_entropy(x_small, x_small)):.2f} s, "
          f"quests {first_call(lambda: quests_delta_entropy(x_small, x_small)):.2f} s")
    first_call(lambda: quests_entropy(x_small))

    Y = lq.descriptors(big)
    X = lq.descriptors(ref_frames)[:4224]
    Z = lq.descriptors([thermal_fcc((5, 5, 5), 0.1, seed=200 + s) for s in range(40)])[:20000]
    h = lq.DEFAULT_BANDWIDTH
    ratios = {
        "descriptors": compare(f"descriptors, {len(big)} atoms", lambda: lq.descriptors(big),
                               lambda: get_descriptors([big]), ARGS.repeats, max_abs),
        "dH": compare(f"dH, {len(Y)} x {len(X)} environments", lambda: lq.delta_entropy(Y, X, h),
                      lambda: quests_delta_entropy(Y, X, h), ARGS.repeats, max_rel),
        "entropy": compare(f"entropy, {len(Z)} environments", lambda: lq.entropy(Z, h),
                           lambda: quests_entropy(Z, h), ARGS.repeats, max_rel),
    }
    goals = {"descriptors": 3.0, "dH": 10.0, "entropy": 10.0}
    for name, ratio in ratios.items():
        verdict = "meets" if ratio >= goals[name] else "MISSES"
        print(f"{name}: {ratio:.1f}x, goal >= {goals[name]:.0f}x: {verdict}")


if __name__ == "__main__":
    main()
