"""Fast dH at several cluster sizes of one reference, side by side: what ``default_cluster_size`` rests on.

    python benchmarks/bench_cluster_size.py [--rows 500000] [--queries 4000]
        [--sizes 512 1024 1536] [--threads 1] [--fast 1e-6] [--threshold none] [--repeats 3]

Data: benchmarks/fast_dh_data.py (the reference of ``--rows`` environments is a random subset of
its ~600,000, the queries half in distribution, half out, as in benchmarks/bench_fast_dh.py).
One cluster index per size is built in memory; the pruned kernel sums then run round-robin
over the sizes ``--repeats`` times, in the tolerance mode or, with ``--threshold t`` (nats),
the decision mode. Reported per size: clusters, median time per query atom (and every run),
fraction of kernel terms evaluated, and the load average (the machine is shared: compare the
sizes of one run only).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from _threads import pin_threads


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--queries", type=int, default=4_000, help="query atoms (half in, half out)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 1536])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--fast", type=float, default=1e-6, metavar="TOL", help="fast dH tolerance, nats")
    parser.add_argument("--threshold", type=float, default=None, help="nats: the decision mode")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=None)
    return parser.parse_args()


ARGS = parse_args()
pin_threads(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_dh_data import DEFAULT_CACHE, load_runs, queries  # noqa: E402

from lammps_quests.core._cluster_index import build_cluster_index  # noqa: E402
from lammps_quests.core._defaults import DEFAULT_BANDWIDTH  # noqa: E402
from lammps_quests.core._pruned_sums import pruned_log_kernel_sums  # noqa: E402


def main() -> None:
    cache = ARGS.cache or DEFAULT_CACHE
    rng = np.random.default_rng(0)
    everything = np.concatenate(list(load_runs("ref", cache).values()))
    X = everything[np.sort(rng.choice(len(everything), min(ARGS.rows, len(everything)), replace=False))]
    Y, _ = queries(cache, ARGS.queries, rng)
    scale = 1.0 / (2.0 * DEFAULT_BANDWIDTH ** 2)
    indexes = {size: build_cluster_index(X, cluster_size=size) for size in ARGS.sizes}
    mode = "tolerance" if ARGS.threshold is None else f"decisions at t = {ARGS.threshold}"
    print(f"# {len(X)} reference rows, {len(Y)} queries, tol {ARGS.fast}, {mode}, {ARGS.threads} thread(s); "
          f"load average at start {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared machine)", flush=True)
    pruned_log_kernel_sums(Y[:64], indexes[ARGS.sizes[0]], scale, ARGS.fast, ARGS.threshold)  # compile
    times = {size: [] for size in ARGS.sizes}
    pairs = {}
    for _ in range(ARGS.repeats):
        for size, index in indexes.items():
            stats = {}
            start = time.perf_counter()
            pruned_log_kernel_sums(Y, index, scale, ARGS.fast, ARGS.threshold, stats)
            times[size].append(time.perf_counter() - start)
            pairs[size] = stats["pairs"] / (len(X) * len(Y))
    print(f"{'size':>6} {'clusters':>9} {'us/atom':>9} {'terms %':>8}  runs (us/atom)")
    for size, index in indexes.items():
        runs = " ".join(f"{1e6 * t / len(Y):.1f}" for t in times[size])
        print(f"{size:>6} {index.n_clusters:>9} {1e6 * np.median(times[size]) / len(Y):>9.1f} "
              f"{100 * pairs[size]:>8.2f}  {runs}")
    print(f"# load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
