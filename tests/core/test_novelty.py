"""The one novelty rule (lammps_quests.core._novelty.new_atoms): an atom is new when
dH(y | reference ∪ saved) > t and the saved environments alone do not cover it
(dH(y | saved) > 0), for any threshold t; for t >= 0 the second condition follows from the
first, so the rule is dH against the union > t there."""

from __future__ import annotations

import numpy as np
import pytest

from novelty_cases import EXPECTED, ROWS, S1, S2, UNIT_H, X0
from lammps_quests.core._information import delta_entropy
from lammps_quests.core._novelty import NEW_MARGIN, new_atoms


def test_hand_worked_rows_have_the_stated_dh():
    """The table's dH values are those of the definition dH(y | Z) = -log sum_z K(y, z)."""
    Y = np.array([row[0] for row in ROWS.values()])
    for column, Z in ((1, [X0]), (2, [S1, S2]), (3, [X0, S1, S2])):
        stated = [row[column] for row in ROWS.values()]
        np.testing.assert_allclose(delta_entropy(Y, np.array(Z), UNIT_H), stated, rtol=0, atol=1e-12)


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
