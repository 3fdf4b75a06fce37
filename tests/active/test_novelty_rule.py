"""De-duplicated saves through the one novelty rule (Saver.new_mask and the public
lammps_quests.active.new_atoms): an environment the saved ones cover is not new at any save
threshold, also for the same frame evaluated twice and after a restart from the save file."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest

from crystals import rattled_frames
from novelty_cases import EXPECTED, ROWS, S1, S2, UNIT_H, X0
from lammps_quests.active import Saver, Structure, new_atoms, saved_rows
from lammps_quests.core import _novelty
from lammps_quests.core._descriptors import descriptors_from_arrays
from lammps_quests.core._information import delta_entropy
from lammps_quests.formats._reference import Reference


def _unit_saver(threshold: float) -> Saver:
    reference = Reference.from_descriptors([X0], k=2, cutoff=5.0, bandwidth=UNIT_H)
    saver = Saver(reference, UNIT_H, threshold=threshold)
    saver.extension.add(np.array([S1, S2]))
    return saver


@pytest.mark.parametrize("threshold", sorted(EXPECTED))
def test_saver_new_mask_follows_the_rule_at_every_threshold(threshold):
    saver = _unit_saver(threshold)
    Y = np.array([row[0] for row in ROWS.values()])
    dh_reference = np.array([row[1] for row in ROWS.values()])
    new = saver.new_mask(Y, dh_reference)
    assert dict(zip(ROWS, new.tolist())) == EXPECTED[threshold]


def test_the_public_rule_is_the_core_one():
    assert new_atoms is _novelty.new_atoms


@pytest.fixture(scope="module")
def cu_reference_small():
    return Reference.build(rattled_frames("fcc", 3.615, 4, 0.03, seed=3), k=32, cutoff=5.0, bandwidth=0.015)


def _vacancy_frame(step: int) -> Structure:
    atoms = rattled_frames("fcc", 3.615, 1, 0.05, seed=40)[0]
    del atoms[0]
    return Structure(atoms.get_chemical_symbols(), atoms.positions, np.array(atoms.cell), atoms.pbc,
                     {"id": np.arange(1, len(atoms) + 1)}, {"step": step})


@pytest.mark.parametrize("cut_radius", [None, 5.0])
def test_a_frame_evaluated_again_at_a_negative_threshold_is_saved_once(cu_reference_small, cut_radius, tmp_path):
    """The same configuration twice (as at the end of one LAMMPS run and the setup of the
    next) at t = -1: saved the first time, nothing new the second; also after a restart that
    recovers the saved set from the file."""
    reference = cu_reference_small
    frame = _vacancy_frame(0)
    dh = delta_entropy(descriptors_from_arrays(frame.positions, frame.cell, frame.pbc), reference.descriptors,
                       reference.bandwidth)
    # atoms that a single saved copy would leave above t against reference ∪ saved
    assert (dh > -np.log(np.e - 1.0)).any()
    saver = Saver(reference, reference.bandwidth, threshold=-1.0, cut_radius=cut_radius)
    first = saver.structures(frame, dh)
    assert first and all(piece.columns["new"].sum() > 0 for piece in first)
    path = tmp_path / "saved.xyz"
    for piece in first:
        piece.write(path)
    assert saver.structures(_vacancy_frame(0), dh) == []
    assert saver.counts.structures == len(first)
    # a restart: a new saver seeded with the rows recovered from the file
    restarted = Saver(reference, reference.bandwidth, threshold=-1.0, cut_radius=cut_radius)
    rows, labels = saved_rows(ase.io.read(path, ":"), restarted.dh)
    restarted.extension.add(rows, labels)
    assert restarted.structures(_vacancy_frame(0), dh) == []
