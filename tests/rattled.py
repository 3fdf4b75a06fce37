"""Rattled copies of cubic Cu-like crystals: small, varied test data made on the spot."""

from __future__ import annotations

from ase.build import bulk


def rattled_frames(structure: str, a: float, n: int, amplitude: float, seed: int, repeat=2):
    """``n`` cubic ``structure`` cells (lattice constant ``a`` Å, repeated ``repeat`` times),
    each rattled with Gaussian noise of ``amplitude`` Å and seed ``seed + i``."""
    frames = []
    for i in range(n):
        atoms = bulk("Cu", structure, a=a, cubic=True).repeat(repeat)
        atoms.rattle(amplitude, seed=seed + i)
        frames.append(atoms)
    return frames
