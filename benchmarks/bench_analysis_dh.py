"""Wall time of `dh` on 100,000 atoms against 4,224 reference environments, exact and approximate.

    python benchmarks/bench_analysis_dh.py [--threads 2] [--repeats 2] [--neighbors 10] [--no-cli]
        [--reference-size 4224] [--no-peer]

Data: a 100,000-atom thermally displaced FCC Cu cell (25 x 25 x 40 cubic cells, Gaussian
displacements of 0.08 Å) against the first 4,224 environments of 17 displaced 256-atom FCC
cells (0.06 Å), the reference of benchmarks/bench_core.py. Reported:

* the parts of the Python API (descriptors, exact dH, index build, approximate dH), each the
  best of --repeats runs, side by side with the published `quests` package (its
  ``delta_entropy`` and ``approx_delta_entropy``) in this one process;
* how far the approximate dH lies above the exact one (it must never lie below);
* end to end: ``lammps-quests dh FILE -r REF`` as a subprocess on an extended-XYZ file, serial
  and under ``mpirun -np 2`` (file reading and descriptors included), exact and --approx.

The machine is shared: take the minimum of repeated runs as the least disturbed number.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _threads import pin_threads


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="numba and BLAS threads")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per case")
    parser.add_argument("--neighbors", type=int, default=10, help="M of --approx")
    parser.add_argument("--reference-size", type=int, default=4224,
                        help="reference environments (256-atom displaced FCC frames, cut to this size); "
                             "e.g. 160000 for the paper's nucleation reference")
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end subprocess timings")
    parser.add_argument("--no-peer", action="store_true", help="skip the quests comparison")
    return parser.parse_args()


ARGS = parse_args()
pin_threads(ARGS.threads)

import numpy as np  # noqa: E402
from ase.build import bulk  # noqa: E402

from lammps_quests.analysis import dh_against_reference, load_or_build_ann_index, load_reference  # noqa: E402
from lammps_quests.analysis._approx import approx_delta_entropy, ann_index_path  # noqa: E402
from lammps_quests.core._defaults import DEFAULT_CUTOFF, DEFAULT_K  # noqa: E402
from lammps_quests.core._descriptors import descriptors  # noqa: E402
from lammps_quests.formats._reference import Reference  # noqa: E402

def thermal_fcc(repeat, sigma, seed):
    """FCC Cu (a = 3.61 Å) with Gaussian displacements of ``sigma`` Å per coordinate."""
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(repeat)
    atoms.positions += np.random.default_rng(seed).normal(0.0, sigma, atoms.positions.shape)
    return atoms


def timed(fn, repeats=1):
    """(best wall time in s, last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def line(name, seconds, extra=""):
    print(f"  {name:<52s} {seconds:8.2f} s  {extra}", flush=True)


def api_timings(test, ref_path, m, repeats):
    print(f"Python API ({ARGS.threads} threads, best of {repeats}):")
    reference = load_reference(ref_path)
    X = np.asarray(reference.descriptors)
    t, Y = timed(lambda: descriptors(test), repeats)
    line(f"descriptors of {len(test)} atoms", t)
    t, exact = timed(lambda: dh_against_reference(Y, reference, progress=False), repeats)
    line(f"exact dH, {len(Y)} x {len(X)}", t, f"{len(Y) * len(X) / t / 1e6:.0f} M pairs/s")

    stored = ann_index_path(ref_path, m)
    if stored.exists():
        stored.unlink()
    t, _ = timed(lambda: load_or_build_ann_index(reference, m))
    line(f"index build, M = {m} (first in process: numba compile)", t)
    stored.unlink()
    t, _ = timed(lambda: load_or_build_ann_index(reference, m))
    line(f"index build, M = {m} (compiled)", t)
    t, index = timed(lambda: load_or_build_ann_index(reference, m))
    line("index load from disk", t)
    approx_delta_entropy(Y[:100], X, reference.bandwidth, index, m)  # query compile
    t, approx = timed(lambda: dh_against_reference(Y, reference, approx=m, progress=False), repeats)
    line(f"approximate dH, M = {m} (stored index)", t)
    excess = approx - exact
    print(f"  approx - exact: min {excess.min():.3e}, median {np.median(excess):.3e}, max {excess.max():.3e} "
          f"nats; below exact (beyond 1e-9): {np.count_nonzero(excess < -1e-9)}; "
          f"sign of dH changed: {np.count_nonzero((approx > 0) != (exact > 0))} of {len(Y)}")
    print(f"  fraction dH > 0: exact {np.mean(exact > 0):.4f}, approximate {np.mean(approx > 0):.4f}")
    if not ARGS.no_peer:
        peer(Y, X, reference.bandwidth, m, exact, repeats)


def peer(Y, X, h, m, exact, repeats):
    try:
        from quests.entropy import approx_delta_entropy as quests_approx
        from quests.entropy import delta_entropy as quests_exact
    except ImportError:
        print("  (quests not installed: no peer comparison)")
        return
    print("published quests 2026.2.22, same process and data:")
    quests_exact(Y[:10], X, h)
    t, theirs = timed(lambda: quests_exact(Y, X, h), repeats)
    finite = np.isfinite(theirs)
    line(f"quests delta_entropy, {len(Y)} x {len(X)}", t,
         f"max |diff| vs ours {np.max(np.abs(theirs[finite] - exact[finite])):.1e}, {np.count_nonzero(~finite)} inf")
    t, theirs = timed(lambda: quests_approx(Y, X, h, n=m, graph_neighbors=m))
    line(f"quests approx_delta_entropy, n = graph_neighbors = {m} (index built inside)", t,
         f"below exact: {np.count_nonzero(theirs < exact - 1e-9)}")


def cli_timings(test, ref_path, m):
    import ase.io

    directory = ref_path.parent
    path = directory / "test100k.xyz"
    ase.io.write(path, test)
    base = [sys.executable, "-c", "from lammps_quests.cli import main; main()", "dh", str(path), "-r", str(ref_path)]
    mpirun = Path(sys.executable).parent / "mpirun"
    cases = [("lammps-quests dh (exact)", base, ARGS.threads),
             (f"lammps-quests dh --approx {m} (stored index)", base + ["--approx", str(m)], ARGS.threads)]
    if mpirun.exists():
        one_thread = max(1, ARGS.threads // 2)
        cases.append(("mpirun -np 2 lammps-quests dh (exact)", [str(mpirun), "-np", "2"] + base, one_thread))
        cases.append((f"mpirun -np 2 lammps-quests dh --approx {m}",
                      [str(mpirun), "-np", "2"] + base + ["--approx", str(m)], one_thread))
    print(f"end to end, {len(test)}-atom extended XYZ (reading + descriptors + dH):")
    for name, command, threads in cases:
        case_env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                        OPENBLAS_NUM_THREADS=str(threads))
        start = time.perf_counter()
        # run in the reference's directory: `python -c` puts its working directory first on
        # sys.path, and in the checkout that is the source tree, not the installed package
        result = subprocess.run(command, cwd=directory, env=case_env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            print(f"  {name}: FAILED\n{result.stderr}")
            continue
        fraction = [ln for ln in result.stdout.splitlines() if "fraction" in ln]
        line(f"{name} [{threads} thread(s)/rank]", elapsed, fraction[0].strip() if fraction else "")


def main():
    m = ARGS.neighbors
    test = thermal_fcc((25, 25, 40), 0.08, seed=1)  # 100,000 atoms
    n_frames = -(-ARGS.reference_size // 256)
    ref_frames = [thermal_fcc((4, 4, 4), 0.06, seed=100 + s) for s in range(n_frames)]
    with tempfile.TemporaryDirectory() as tmp:
        X = descriptors(ref_frames)[: ARGS.reference_size]
        reference = Reference.from_descriptors(X, k=DEFAULT_K, cutoff=DEFAULT_CUTOFF)
        ref_path = reference.save(Path(tmp) / f"ref{len(X)}.qref")
        print(f"test: {len(test)} atoms; reference: {len(X)} environments; numpy {np.__version__}")
        api_timings(test, ref_path, m, ARGS.repeats)
        if not ARGS.no_cli:
            cli_timings(test, ref_path, m)


if __name__ == "__main__":
    main()
