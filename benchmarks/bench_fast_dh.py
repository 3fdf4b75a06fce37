"""Fast dH (cluster index) against brute force, at 10^4, 10^5 and 5 x 10^5 reference environments.

    python benchmarks/bench_fast_dh.py [--sizes 10000 100000 500000] [--queries 12000]
        [--threads 2] [--fast 1e-6] [--threshold 0] [--repeats 2]

Data: benchmarks/fast_dh_data.py (EAM MD of Cu, Al, Fe, W, Mg: FCC/BCC/HCP at several
temperatures, a Cu (111) slab, Cu with vacancies, liquid Cu; ~600,000 environments, cached
under /tmp). The reference of each size is a random subset; the queries are half in
distribution (other MD seeds of reference kinds), half out (Cu at 1600 K and 50 kbar, a Cu
(100) slab, Ni FCC, Zr HCP, liquid Al).

For each size, in this one process and side by side: building the index (seconds), brute force
(``delta_entropy``), the fast path exact to ``--fast`` nats, and the fast path with certified
decisions at ``--threshold``. Reported: time per query atom, speed-up, fraction of kernel terms
evaluated, the fraction an oracle knowing every term must keep (on 240 of the queries; the
floor of any bound) and the fraction an oracle knowing every cluster's sum must keep ("cl.
or."; the floor of any bound that keeps or skips whole clusters of this index), worst error
against brute force (tolerance mode; must be in [0, tol]), false negatives (must be 0) and
false positives of the decisions, the worst error of the decision mode's values above the
threshold (must be <= tol), and memory (the reference, the index file, peak resident size). The
machine is shared: timings are the minimum of ``--repeats`` round-robin runs and only their
ratios carry over.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from _threads import pin_threads


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 500_000])
    parser.add_argument("--queries", type=int, default=12_000, help="query atoms (half in, half out)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fast", type=float, default=None, metavar="TOL",
                        help="fast dH tolerance, nats (default: the package's, 1e-6)")
    parser.add_argument("--threshold", type=float, default=0.0, help="nats, for the decision mode")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=None)
    return parser.parse_args()


ARGS = parse_args()
pin_threads(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_dh_data import DEFAULT_CACHE, cluster_oracle_fraction, load_runs, oracle_fraction, queries  # noqa: E402

from lammps_quests.core._defaults import DEFAULT_CUTOFF, DEFAULT_FAST_TOLERANCE, DEFAULT_K  # noqa: E402
from lammps_quests.core._information import delta_entropy, delta_entropy_fast  # noqa: E402
from lammps_quests.formats._fast_index import build_fast_index, fast_index_path, load_fast_index, save_fast_index  # noqa: E402
from lammps_quests.formats._reference import Reference  # noqa: E402


def interleaved(repeats, functions):
    """Run the functions round-robin ``repeats`` times; (best time, last result) of each, so
    every contender sees the same mix of load on the shared machine."""
    times = [[] for _ in functions]
    results = [None] * len(functions)
    for _ in range(repeats):
        for i, function in enumerate(functions):
            start = time.perf_counter()
            results[i] = function()
            times[i].append(time.perf_counter() - start)
    return [(min(t), r) for t, r in zip(times, results)]


def main() -> None:
    cache = ARGS.cache or DEFAULT_CACHE
    if ARGS.fast is None:
        ARGS.fast = DEFAULT_FAST_TOLERANCE
    rng = np.random.default_rng(0)
    everything = np.concatenate(list(load_runs("ref", cache).values()))
    Y, n_in = queries(cache, ARGS.queries, rng)
    print(f"# reference pool {len(everything)} environments, {len(Y)} query atoms ({n_in} in distribution, "
          f"{len(Y) - n_in} out); {ARGS.threads} threads; load average at start "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)", flush=True)
    header = (f"{'n_ref':>8} {'build s':>8} {'exact us/atom':>14} {'fast us/atom':>13} {'speed-up':>9} "
              f"{'pairs %':>8} {'oracle %':>8} {'cl. or. %':>9} {'max err':>9} {'decide us/atom':>15} {'speed-up':>9} "
              f"{'pairs %':>8} "
              f"{'FN':>3} {'FP %':>6} {'err>t':>8} {'exact>t %':>9} {'ref MiB':>8} {'idx MiB':>8}")
    rows = []
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        for size in ARGS.sizes:
            X = everything[np.sort(rng.choice(len(everything), min(size, len(everything)), replace=False))]
            ref = Reference.from_descriptors(X, k=DEFAULT_K, cutoff=DEFAULT_CUTOFF)
            ref.save(Path(tmp) / "ref.qref")
            ref = Reference.load(Path(tmp) / "ref.qref", mmap=True)
            start = time.perf_counter()
            save_fast_index(build_fast_index(ref), ref)
            build = time.perf_counter() - start
            index = load_fast_index(ref)
            delta_entropy_fast(Y[:64], index, fast=ARGS.fast, thresholds=ARGS.threshold)  # compile
            tol_stats, dec_stats = {}, {}
            (t_exact, exact), (t_fast, fast), (t_dec, dec) = interleaved(ARGS.repeats, [
                lambda X=ref.descriptors: delta_entropy(Y, X),
                lambda i=index, s=tol_stats: delta_entropy_fast(Y, i, fast=ARGS.fast, stats=s),
                lambda i=index, s=dec_stats: delta_entropy_fast(Y, i, fast=ARGS.fast, thresholds=ARGS.threshold,
                                                                stats=s),
            ])
            t = ARGS.threshold
            err = fast - exact
            false_neg = int(np.sum((exact > t) & (dec <= t)))
            false_pos = float(np.mean((dec > t) & (exact <= t)))
            flagged_err = float(np.abs(dec - exact)[dec > t].max(initial=0.0))  # values above t: within tol
            oracle = oracle_fraction(Y, X, ref.bandwidth, ARGS.fast)
            cluster_oracle = cluster_oracle_fraction(Y, index, ref.bandwidth, ARGS.fast)
            total = len(Y) * len(X)
            row = (f"{len(X):>8} {build:>8.1f} {1e6 * t_exact / len(Y):>14.1f} {1e6 * t_fast / len(Y):>13.1f} "
                   f"{t_exact / t_fast:>9.2f} {100 * tol_stats['pairs'] / total:>8.2f} {100 * oracle:>8.2f} "
                   f"{100 * cluster_oracle:>9.2f} "
                   f"{err.max():>9.1e} "
                   f"{1e6 * t_dec / len(Y):>15.1f} {t_exact / t_dec:>9.2f} {100 * dec_stats['pairs'] / total:>8.2f} "
                   f"{false_neg:>3d} {100 * false_pos:>6.3f} {flagged_err:>8.1e} {100 * np.mean(exact > t):>9.2f} "
                   f"{os.path.getsize(ref.path) / 2**20:>8.1f} "
                   f"{os.path.getsize(fast_index_path(ref.path)) / 2**20:>8.1f}")
            if err.min() < -1e-9 or err.max() > ARGS.fast + 1e-9:
                row += f"  GUARANTEE VIOLATED: error in [{err.min():.2e}, {err.max():.2e}]"
            if false_neg or flagged_err > ARGS.fast + 1e-9:
                row += "  DECISION GUARANTEE VIOLATED"
            rows.append(row)
            print(header if len(rows) == 1 else "", end="\n" if len(rows) == 1 else "")
            print(row, flush=True)
            in_part = slice(0, n_in)
            print(f"#   in distribution: exact dH > t {100 * np.mean(exact[in_part] > t):.2f}%, out: "
                  f"{100 * np.mean(exact[n_in:] > t):.2f}%; load average {os.getloadavg()[0]:.1f}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# peak resident size of this process {peak:.0f} MiB (includes the brute-force inputs)")


if __name__ == "__main__":
    main()
