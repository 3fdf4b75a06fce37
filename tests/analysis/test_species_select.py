"""lammps-quests select with any reference (analysis.selection): species-agnostic picks equal
the original greedy selection bit for bit; with a species-aware reference the gains equal the
species-kernel entropy differences computed directly, the antisite frames are picked and the
covered ones never; the CLI runs on a species-aware reference."""

from __future__ import annotations

import subprocess
import sys

import ase.io
import numpy as np
import pytest
from crystals import thermal_inp

from lammps_quests.analysis._selection import select
from lammps_quests.core._descriptors import descriptors, species_labels
from lammps_quests.core._information import delta_entropy, entropy
from lammps_quests.formats._reference import Reference

H = 0.015
SPECIES = ("In", "P")


def swapped(seed, pairs=((0, 1),)):
    atoms = thermal_inp(seed, 0.05, repeat=2)
    symbols = atoms.get_chemical_symbols()
    for a, b in pairs:
        symbols[a], symbols[b] = symbols[b], symbols[a]
    atoms.set_chemical_symbols(symbols)
    return atoms


def test_species_aware_gains_equal_direct_entropy():
    frames = [thermal_inp(seed, 0.05, repeat=2) for seed in range(3)]
    reference = Reference.build(frames, species="auto", bandwidth=H)
    assert reference.species == SPECIES
    pool = [thermal_inp(20, 0.05, repeat=2), swapped(21), swapped(22, ((0, 1), (8, 9))), thermal_inp(23, 0.05, 2)]
    blocks = [descriptors(atoms, species=SPECIES) for atoms in pool]
    labels = [species_labels(atoms, SPECIES) for atoms in pool]
    U, U_labels = np.array(reference.descriptors), reference.species_labels
    covered = max(delta_entropy(blocks[c], U, H, y_labels=labels[c], x_labels=U_labels).max() for c in (0, 3))
    ticks = []
    result = select(blocks, reference.descriptors, H, until=covered, candidate_labels=labels,
                    reference_labels=reference.species_labels, n_species=2, progress=ticks.append)
    assert ticks == [1] * len(pool)
    assert result.reference_entropy == pytest.approx(entropy(U, H, labels=U_labels), abs=1e-10)
    assert sorted(p.candidate for p in result.picks) == [1, 2]  # the antisite frames only
    for pick in result.picks:
        c = pick.candidate
        dh = delta_entropy(blocks[c], U, H, y_labels=labels[c], x_labels=U_labels)
        assert dh.max() > covered and pick.max_dh == pytest.approx(dh.max(), abs=1e-9)
        after, after_labels = np.vstack([U, blocks[c]]), np.concatenate([U_labels, labels[c]])
        before = entropy(U, H, labels=U_labels)
        assert pick.gain == pytest.approx(entropy(after, H, labels=after_labels) - before, abs=1e-9)
        U, U_labels = after, after_labels
    with pytest.raises(ValueError, match="both the candidates and the reference"):
        select(blocks, reference.descriptors, H, candidate_labels=labels)


def test_cli_select_species_aware(tmp_path):
    Reference.build([thermal_inp(seed, 0.05, repeat=2) for seed in range(3)], species="auto",
                    bandwidth=H).save(tmp_path / "inp.qref")
    ase.io.write(tmp_path / "pool.xyz", [thermal_inp(20, 0.05, repeat=2), swapped(21)])
    run = subprocess.run([sys.executable, "-m", "lammps_quests", "select", "pool.xyz", "-r", "inp.qref",
                          "-o", "picked.xyz", "--max", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    picked = ase.io.read(tmp_path / "picked.xyz", ":")
    assert len(picked) == 1 and picked[0].info["select_rank"] == 1
    assert picked[0].get_chemical_symbols()[:2] == ["P", "In"]  # the antisite frame gains most
