"""The one novelty rule of de-duplicated saves (lammps_quests.active.new_atoms, used through
Saver.new_mask by every host): an atom is new when dH(y | reference ∪ saved) > t and the saved
environments alone do not cover it (dH(y | saved) > 0), for any threshold t; for t >= 0 the
second condition follows from the first, so the rule is dH against the union > t there."""

from __future__ import annotations

import ase.io
import numpy as np
import pytest

from crystals import rattled_frames
from lammps_quests.active import Saver, Structure, new_atoms, saved_rows
from lammps_quests.core._novelty import NEW_MARGIN
from lammps_quests.core._descriptors import descriptors_from_arrays
from lammps_quests.core._information import delta_entropy
from lammps_quests.formats._reference import Reference

#: a bandwidth of 1 Å^-1 makes the kernel exp(-d^2 / 2): weights worked out by hand below
UNIT_H = 1.0
#: sqrt(2 log 2): a distance at which the kernel weight is exactly 1/2
HALF = np.sqrt(2.0 * np.log(2.0))

# Descriptors of width 3 (k = 2). Reference X = {x0}, saved S = {s1, s2}.
X0 = [0.0, 0.0, 0.0]
S1, S2 = [10.0, 0.0, 0.0], [0.0, 0.0, 2.0]
ROWS = {
    # row: (descriptor, dH(y | X), dH(y | S), dH(y | X ∪ S)) worked out by hand, nats
    # a copy of s1: S gives it weight 1, X e^-50
    "copy": ([10.0, 0.0, 0.0], 50.0, 0.0, -np.log1p(np.exp(-50.0))),
    # x0 itself: X gives it weight 1, S e^-50 + e^-2
    "x0": ([0.0, 0.0, 0.0], 0.0, -np.log(np.exp(-50.0) + np.exp(-2.0)),
           -np.log(1.0 + np.exp(-50.0) + np.exp(-2.0))),
    # HALF from s1: S gives 1/2, X nothing that counts (e^-61.8)
    "half": ([10.0 + HALF, 0.0, 0.0], (10.0 + HALF) ** 2 / 2.0, np.log(2.0), np.log(2.0)),
    # 1 Å from x0 and from s2: weights e^-0.5 from each
    "between": ([0.0, 0.0, 1.0], 0.5, 0.5, 0.5 - np.log(2.0)),
    # 2 Å from x0 along y, sqrt(8) Å from s2: e^-2 and e^-4
    "aside": ([0.0, 2.0, 0.0], 2.0, 4.0, -np.log(np.exp(-2.0) + np.exp(-4.0))),
}
# The rule on these rows (new: dH(X ∪ S) > t and dH(S) > 0):
EXPECTED = {
    # t = -1: every row is a candidate (dH(X) > -1); the copy of s1 is covered by S (dH(S) = 0),
    # although dH(X ∪ S) = -e^-50 > -1; all others have dH(S) > 0 and dH(X ∪ S) > -1
    -1.0: {"copy": False, "x0": True, "half": True, "between": True, "aside": True},
    # t = -0.1: "between" has dH(X ∪ S) = 0.5 - log 2 = -0.193 <= -0.1; x0 has -0.127 <= -0.1
    -0.1: {"copy": False, "x0": False, "half": True, "between": False, "aside": True},
    # t = 0: the copy is not above 0 against the union either (dH(X ∪ S) < 0)
    0.0: {"copy": False, "x0": False, "half": True, "between": False, "aside": True},
    # t = 1: only "aside" (dH(X ∪ S) = 1.87) is above 1
    1.0: {"copy": False, "x0": False, "half": False, "between": False, "aside": True},
}


def _unit_saver(threshold: float) -> Saver:
    reference = Reference.from_descriptors([X0], k=2, cutoff=5.0, bandwidth=UNIT_H)
    saver = Saver(reference, UNIT_H, threshold=threshold)
    saver.extension.add(np.array([S1, S2]))
    return saver


def test_hand_worked_rows_have_the_stated_dh():
    """The table's dH values are those of the definition dH(y | Z) = -log sum_z K(y, z)."""
    Y = np.array([row[0] for row in ROWS.values()])
    for column, Z in ((1, [X0]), (2, [S1, S2]), (3, [X0, S1, S2])):
        stated = [row[column] for row in ROWS.values()]
        np.testing.assert_allclose(delta_entropy(Y, np.array(Z), UNIT_H), stated, rtol=0, atol=1e-12)


@pytest.mark.parametrize("threshold", sorted(EXPECTED))
def test_saver_new_mask_follows_the_rule_at_every_threshold(threshold):
    saver = _unit_saver(threshold)
    Y = np.array([row[0] for row in ROWS.values()])
    dh_reference = np.array([row[1] for row in ROWS.values()])
    new = saver.new_mask(Y, dh_reference)
    assert dict(zip(ROWS, new.tolist())) == EXPECTED[threshold]


@pytest.mark.parametrize("threshold", sorted(EXPECTED))
def test_new_atoms_follows_the_rule_at_every_threshold(threshold):
    dh_reference = np.array([row[1] for row in ROWS.values()])
    dh_saved = np.array([row[2] for row in ROWS.values()])
    new = new_atoms(dh_reference, dh_saved, threshold)
    assert dict(zip(ROWS, new.tolist())) == EXPECTED[threshold]


def test_nothing_saved_leaves_every_candidate_new():
    """With no saved environment dH(y | S) = +inf: new means dH(y | X) > t, for t < 0 too."""
    dh_reference = np.array([-3.0, -1.0 + 1e-6, -0.5, 0.0, 2.0])
    inf = np.full(len(dh_reference), np.inf)
    assert new_atoms(dh_reference, inf, -1.0).tolist() == [False, True, True, True, True]
    assert new_atoms(dh_reference, inf, 0.0).tolist() == [False, False, False, False, True]


@pytest.mark.parametrize("threshold", [0.0, 1e-12, 0.3, 2.0, 50.0])
def test_at_non_negative_thresholds_the_rule_is_dh_of_the_union_above_t(threshold):
    """For t >= 0 the saved-set condition never removes an atom (dH(y | S) >= dH(y | X ∪ S)):
    the mask is dH(X ∪ S) > t + NEW_MARGIN, on random values including rows at the margins."""
    rng = np.random.default_rng(11)
    n = 20000
    dh_reference = rng.normal(threshold, 3.0, n)
    dh_saved = np.concatenate([rng.normal(0.0, 3.0, n // 2), np.full(n // 4, np.inf),
                               rng.uniform(-1e-8, 1e-8, n - n // 2 - n // 4)])
    rng.shuffle(dh_saved)
    dh_reference[:100] = threshold + NEW_MARGIN * rng.uniform(0.5, 1.5, 100)
    union = -np.logaddexp(-dh_reference, -dh_saved)
    new = new_atoms(dh_reference, dh_saved, threshold)
    np.testing.assert_array_equal(new, union > threshold + NEW_MARGIN)
    assert 0 < new.sum() < n


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
