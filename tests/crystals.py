"""Small crystals made on the spot for tests: rattled or thermally displaced copies of cubic cells.

Every builder is deterministic (seeded), so each test sees the same structures on every run.
"""

from __future__ import annotations

import numpy as np
from ase.build import bulk


def rattled_frames(structure: str, a: float, n: int, amplitude: float, seed: int, repeat=2):
    """``n`` cubic Cu ``structure`` cells (lattice constant ``a`` Å, repeated ``repeat`` times),
    each rattled by ASE with Gaussian noise of ``amplitude`` Å and seed ``seed + i``."""
    frames = []
    for i in range(n):
        atoms = bulk("Cu", structure, a=a, cubic=True).repeat(repeat)
        atoms.rattle(amplitude, seed=seed + i)
        frames.append(atoms)
    return frames


def thermal_crystal(name: str, structure: str, a: float, sigma: float, seed: int = 0, repeat=3):
    """A cubic ``name`` crystal (lattice constant ``a`` Å, repeated ``repeat`` times) with
    Gaussian displacements of ``sigma`` Å per coordinate: no tied neighbour distances."""
    atoms = bulk(name, structure, a=a, cubic=True).repeat(repeat)
    atoms.positions += np.random.default_rng(seed).normal(0.0, sigma, atoms.positions.shape)
    return atoms


def thermal_fcc(sigma: float, repeat=(3, 3, 3), seed: int = 0, a: float = 3.61):
    """FCC Cu with Gaussian displacements of ``sigma`` Å."""
    return thermal_crystal("Cu", "fcc", a, sigma, seed, repeat)


def thermal_inp(seed: int, sigma: float = 0.08, repeat: int = 3):
    """Zincblende InP (a = 5.87 Å) with Gaussian displacements of ``sigma`` Å."""
    return thermal_crystal("InP", "zincblende", 5.87, sigma, seed, repeat)


def thermal_cu_frames(n_frames: int = 2, seed: int = 0, sigma: float = 0.05):
    """``n_frames`` 2x2x2 cubic FCC Cu cells (a = 3.615 Å), displacements of ``sigma`` Å drawn
    in turn from one generator seeded ``seed``."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n_frames):
        atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
        atoms.positions += rng.normal(scale=sigma, size=atoms.positions.shape)
        frames.append(atoms)
    return frames


def dh_test_frames():
    """The test frames of the dh tests (reference: ``rattled_frames("fcc", 3.615, 6, 0.05, 0)``):
    rattled FCC Cu close to it (0.05 Å) and far from it (0.12 Å), and a triclinic frame (cell and
    atoms sheared) for which the dump writer needs tilt factors."""
    frames = rattled_frames("fcc", 3.615, 2, 0.05, 100) + rattled_frames("fcc", 3.615, 2, 0.12, 200)
    sheared = rattled_frames("fcc", 3.615, 1, 0.05, 300)[0]
    sheared.set_cell(sheared.cell[:] + [[0, 0, 0], [1.2, 0, 0], [0.4, -0.8, 0]], scale_atoms=True)
    return frames + [sheared]


def inp_frames(n: int, seed: int, sigma: float = 0.06, swap: bool = False):
    """``n`` 2x2x2 cubic zincblende InP cells (a = 5.87 Å) with Gaussian displacements of
    ``sigma`` Å (seed ``seed + i``); ``swap`` exchanges atoms 0 (In) and 29 (P): an antisite pair."""
    frames = []
    for i in range(n):
        atoms = bulk("InP", "zincblende", a=5.87, cubic=True).repeat(2)
        atoms.positions += np.random.default_rng(seed + i).normal(0.0, sigma, atoms.positions.shape)
        if swap:
            numbers = atoms.numbers.copy()
            numbers[[0, 29]] = numbers[[29, 0]]
            atoms.numbers = numbers
        frames.append(atoms)
    return frames


def saved_cu_reference(directory):
    """A small Cu reference (2x2x2 cubic cells, 3 rattled frames, k = 32, cutoff 5 Å) saved as
    ``directory/cu.qref`` and loaded back from that file."""
    from lammps_quests.formats._reference import Reference

    reference = Reference.build(rattled_frames("fcc", 3.615, 3, 0.03, 7), k=32, cutoff=5.0)
    reference.save(directory / "cu.qref")
    return Reference.load(directory / "cu.qref")
