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
