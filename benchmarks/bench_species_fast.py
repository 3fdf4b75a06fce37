"""Species-aware fast dH (one cluster index per centre element) against exact species-aware dH.

    python benchmarks/bench_species_fast.py [--queries 8000] [--threads 2] [--fast 1e-6]
        [--threshold 0] [--repeats 3]

Data: the two-element Ni-Al set of benchmarks/fast_dh_data.py (``--two-elements``; EAM MD of B2
NiAl, L1_2 Ni3Al, Ni-10Al solid solution, liquid NiAl and Ni; species-aware descriptors, k = 32,
width 189; ~520,000 reference environments, cached under /tmp). The whole set is the
reference; the queries are half in distribution (other MD seeds of reference kinds), half out
(B2 NiAl at 1500 K and 100 kbar, Ni3Al with antisites, FCC Al with 10% Ni).

Everything goes through :class:`lammps_quests.dh._reference_dh.ReferenceDh`, the route
``lammps-quests dh`` and the fix use: exact, ``fast tol`` and ``fast tol decide t``. Reported:
the time to build and write the per-element index; the median time per query atom of each mode
over ``--repeats`` round-robin runs (all three see the same mix of load on the shared machine);
the speed-ups over exact; the fraction of kernel terms evaluated (of the exact per-element
count) against an oracle knowing every term and one knowing every cluster's sum (the floors of
any bound, and of any bound that keeps or skips whole clusters); the worst error of the
tolerance mode (must lie in [0, tol]); missed decisions (exact dH > t reported <= t: must be 0)
and false decisions (reported > t, exact <= t - tol: must be 0) plus the decisions only within
tol of t; and the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _threads import pin_threads


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=8_000, help="query atoms (half in, half out)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fast", type=float, default=None, metavar="TOL",
                        help="fast dH tolerance, nats (default: the package's, 1e-6)")
    parser.add_argument("--threshold", type=float, default=0.0, help="nats, for the decision mode")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=None)
    return parser.parse_args()


ARGS = parse_args()
pin_threads(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_dh_data import DEFAULT_CACHE, SPECIES, cluster_oracle_fraction, load_species_runs, oracle_fraction  # noqa: E402

from lammps_quests.dh._reference_dh import ReferenceDh  # noqa: E402
from lammps_quests.core._defaults import DEFAULT_CUTOFF, DEFAULT_FAST_TOLERANCE, DEFAULT_K  # noqa: E402
from lammps_quests.formats._fast_index import build_fast_index, fast_index_path, save_fast_index  # noqa: E402
from lammps_quests.formats._reference import Reference  # noqa: E402


def round_robin(repeats, functions):
    """Run the functions round-robin ``repeats`` times; (median time, last result) of each."""
    times = [[] for _ in functions]
    results = [None] * len(functions)
    for _ in range(repeats):
        for i, function in enumerate(functions):
            start = time.perf_counter()
            results[i] = function()
            times[i].append(time.perf_counter() - start)
    return [(statistics.median(t), r) for t, r in zip(times, results)]


def queries(cache, n, rng):
    """n query rows and their centre species: n/2 in distribution, n/2 out."""
    parts, labels = [], []
    for kind in ("in", "out"):
        runs = load_species_runs(kind, cache)
        pool = np.concatenate([X for X, _ in runs.values()])
        pool_labels = np.concatenate([lab for _, lab in runs.values()])
        pick = np.sort(rng.choice(len(pool), min(n // 2, len(pool)), replace=False))
        parts.append(pool[pick])
        labels.append(pool_labels[pick])
    return np.concatenate(parts), np.concatenate(labels), len(parts[0])


def main() -> None:
    cache = ARGS.cache or DEFAULT_CACHE
    tol = DEFAULT_FAST_TOLERANCE if ARGS.fast is None else ARGS.fast
    t = ARGS.threshold
    rng = np.random.default_rng(0)
    runs = load_species_runs("ref", cache)
    X = np.concatenate([X for X, _ in runs.values()])
    x_labels = np.concatenate([lab for _, lab in runs.values()])
    Y, y_labels, n_in = queries(cache, ARGS.queries, rng)
    print(f"# load average at start {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores "
          f"(shared machine); {ARGS.threads} threads; medians of {ARGS.repeats} round-robin runs", flush=True)
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        ref = Reference.from_descriptors(X, k=DEFAULT_K, cutoff=DEFAULT_CUTOFF, elements=SPECIES,
                                         species_labels=x_labels)
        del X
        ref.save(Path(tmp) / "nial.qref")
        ref = Reference.load(Path(tmp) / "nial.qref", mmap=True)
        counts = dict(zip(ref.elements, ref.species_counts))
        print(f"# reference {ref.n_environments} environments ({', '.join(f'{s} {n}' for s, n in counts.items())}), "
              f"width {ref.width}; {len(Y)} query atoms ({n_in} in distribution, {len(Y) - n_in} out; "
              f"{', '.join(f'{s} {int(np.sum(y_labels == i))}' for i, s in enumerate(SPECIES))})", flush=True)
        start = time.perf_counter()
        index = build_fast_index(ref)
        save_fast_index(index, ref)
        build = time.perf_counter() - start
        exact_dh = ReferenceDh(ref)
        fast_dh = ReferenceDh(ref, fast=tol)
        decide_dh = ReferenceDh(ref, fast=tol, decide=True, thresholds=[t])
        fast_dh(Y[:64], y_labels[:64])  # compile or load the kernels
        decide_dh(Y[:64], y_labels[:64])
        stats = {"fast": {}, "decide": {}}
        (t_exact, exact), (t_fast, fast), (t_dec, dec) = round_robin(ARGS.repeats, [
            lambda: exact_dh(Y, y_labels),
            lambda: fast_dh(Y, y_labels, stats=stats["fast"]),
            lambda: decide_dh(Y, y_labels, stats=stats["decide"]),
        ])
        exact_pairs = sum(int(np.sum(y_labels == s)) * n for s, n in enumerate(ref.species_counts))
        err = fast - exact
        missed = int(np.sum((exact > t) & (dec <= t)))
        false = int(np.sum((dec > t) & (exact <= t - tol)))
        near = int(np.sum((dec > t) & (exact <= t) & (exact > t - tol)))
        flagged_err = float(np.abs(dec - exact)[dec > t].max(initial=0.0))  # values above t: within tol
        # the oracle per centre element (each atom's terms are its own element's rows), weighted
        # like the pairs: queries of the element x its reference rows
        oracle = sum(int(np.sum(y_labels == e)) * n * oracle_fraction(
            Y[y_labels == e], ref.descriptors[ref.species_labels == e], ref.bandwidth, tol, sample=120)
            for e, n in enumerate(ref.species_counts) if np.any(y_labels == e)) / exact_pairs
        cluster_oracle = sum(int(np.sum(y_labels == e)) * n * cluster_oracle_fraction(
            Y[y_labels == e], index.parts[e], ref.bandwidth, tol, sample=120)
            for e, n in enumerate(ref.species_counts) if np.any(y_labels == e)) / exact_pairs
        index_mib = os.path.getsize(fast_index_path(ref.path)) / 2**20
        print(f"{'mode':<22} {'us/atom':>9} {'speed-up':>9} {'pairs %':>8}  notes")
        print(f"{'exact':<22} {1e6 * t_exact / len(Y):>9.1f} {1.0:>9.2f} {100.0:>8.2f}  "
              f"exact dH > {t:g}: {100 * np.mean(exact > t):.2f}% (in {100 * np.mean(exact[:n_in] > t):.2f}%, "
              f"out {100 * np.mean(exact[n_in:] > t):.2f}%)")
        print(f"{f'fast tol {tol:g}':<22} {1e6 * t_fast / len(Y):>9.1f} {t_exact / t_fast:>9.2f} "
              f"{100 * stats['fast']['pairs'] / exact_pairs:>8.2f}  oracle {100 * oracle:.2f}% of the "
              f"pairs, cluster oracle {100 * cluster_oracle:.2f}%; error vs "
              f"exact in [{err.min():.1e}, "
              f"{err.max():.1e}] nats" + ("" if err.min() >= -1e-9 and err.max() <= tol + 1e-9
                                          else "  GUARANTEE VIOLATED"))
        print(f"{f'fast tol decide {t:g}':<22} {1e6 * t_dec / len(Y):>9.1f} {t_exact / t_dec:>9.2f} "
              f"{100 * stats['decide']['pairs'] / exact_pairs:>8.2f}  missed {missed}, false {false}, "
              f"within tol of t {near}; values > t off exact by <= {flagged_err:.1e}"
              + ("" if missed == 0 and false == 0 and flagged_err <= tol + 1e-9 else "  GUARANTEE VIOLATED"))
        per_element = ", ".join(f"{s} {part.n_clusters}" for s, part in zip(SPECIES, index.parts))
        print(f"# index: {index.n_clusters} clusters ({per_element}), "
              f"built and written in {build:.1f} s, {index_mib:.0f} MiB; reference file "
              f"{os.path.getsize(ref.path) / 2**20:.0f} MiB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# load average at end {' '.join(f'{v:.2f}' for v in os.getloadavg())}; peak resident size {peak:.0f} MiB")


if __name__ == "__main__":
    main()
