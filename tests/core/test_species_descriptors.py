"""Species-aware descriptors and dH: the published multicomponent blocks as oracle, the
one-species relation to the agnostic mode, exact separation of centre species, antisites."""

import numpy as np
import pytest
from ase.build import bulk

from crystals import thermal_inp
from lammps_quests.core._descriptors import descriptors, species_descriptors
from lammps_quests.core._information import delta_entropy, entropy
from lammps_quests.core._neighbors import descriptor_width
from lammps_quests.core._species import species_descriptor_width, species_descriptors_from_points
from lammps_quests.core._species_information import (
    delta_entropy_by_species,
    entropy_by_species,
    self_delta_entropy_by_species,
)

quests_descriptor = pytest.importorskip("quests.descriptor")

K = 32
WIDTH = descriptor_width(K)


def swap(atoms, first: int, second: int):
    """A copy with the elements of two atoms exchanged (an antisite pair)."""
    atoms = atoms.copy()
    numbers = atoms.numbers.copy()
    numbers[[first, second]] = numbers[[second, first]]
    atoms.numbers = numbers
    return atoms


def published_blocks(frames, species):
    """The oracle's S + 1 blocks (X1, X2 joined per block), from concat=False."""
    x1, x2 = quests_descriptor.get_descriptors_multicomponent(frames, k=K, cutoff=5.0,
                                                              species=species, concat=False)
    return [np.hstack([x1[:, b * K:(b + 1) * K], x2[:, b * (K - 1):(b + 1) * (K - 1)]])
            for b in range(len(species) + 1)]


def test_blocks_match_published_multicomponent():
    frames = [thermal_inp(0), thermal_inp(1)]
    ours, labels = species_descriptors(frames, ["In", "P"], k=K)
    assert ours.shape == (2 * 216, 3 * WIDTH)
    published = published_blocks(frames, ["In", "P"])
    np.testing.assert_allclose(ours[:, :WIDTH], published[0], rtol=0, atol=1e-10)
    for s in range(2):
        own = labels == s
        block = ours[:, WIDTH * (1 + s):WIDTH * (2 + s)]
        # the published block s: the descriptor on s's sublattice for atoms of s, zeros elsewhere
        np.testing.assert_allclose(block[own], published[1 + s][own], rtol=0, atol=1e-10)
        assert not published[1 + s][~own].any()
        # ours keeps the cross-species view there: the other species' atoms see s-neighbours
        assert (block[~own][:, 0] > 0).all()


def test_published_concat_true_is_not_per_species_pairs():
    """The oracle's concat=True meant to order columns (X1, X2) per block, but its slices are
    the width of all blocks, so it returns [all X1 blocks | all X2 blocks]: a column
    permutation of the per-block layout, which leaves distances and dH unchanged."""
    frames = [thermal_inp(2)]
    x1, x2 = quests_descriptor.get_descriptors_multicomponent(frames, k=K, cutoff=5.0, concat=False)
    joined = quests_descriptor.get_descriptors_multicomponent(frames, k=K, cutoff=5.0, concat=True)
    assert np.array_equal(joined, np.hstack([x1, x2]))
    per_block = np.hstack(published_blocks(frames, ["In", "P"]))
    assert not np.array_equal(joined, per_block)
    assert np.array_equal(np.sort(joined, axis=1), np.sort(per_block, axis=1))


def test_one_species_is_the_agnostic_mode_bit_for_bit():
    """S = 1: the sublattice block would repeat the all-atom block, so it is left out; the
    species-aware descriptors and dH are then exactly the agnostic ones."""
    frames = [bulk("Cu", "fcc", a=3.615, cubic=True).repeat(3) for _ in range(3)]
    for seed, atoms in enumerate(frames):
        atoms.rattle(0.05, seed=seed)
    X, labels = species_descriptors(frames[:2], ["Cu"])
    assert species_descriptor_width(K, 1) == WIDTH
    assert np.array_equal(X, descriptors(frames[:2]))
    assert not labels.any()
    Y, y_labels = species_descriptors(frames[2], ["Cu"])
    species_dh = delta_entropy_by_species(Y, y_labels, X, labels, 1, 0.015)
    assert np.array_equal(species_dh, delta_entropy(descriptors(frames[2]), descriptors(frames[:2]), 0.015))


def test_centre_species_never_cover_each_other():
    """dH of an In-centred environment comes from In-centred rows only, even when a P-centred
    reference row is its exact copy."""
    atoms = thermal_inp(3)
    X, labels = species_descriptors(atoms, ["In", "P"])
    y = X[:1]  # an In atom
    impostor_labels = np.array([1] + [0] * 10)  # row 0 (the same vector) labelled P
    reference = np.vstack([y, X[labels == 0][1:11]])
    dh = delta_entropy_by_species(y, np.array([0]), reference, impostor_labels, 2, 0.015)
    assert dh[0] == pytest.approx(delta_entropy(y, reference[1:], 0.015)[0], abs=1e-12)
    assert dh[0] > 0.0  # without its copy the environment is not covered
    assert delta_entropy(y, reference, 0.015)[0] <= 0.0  # one kernel sum over all rows: covered


def test_species_missing_from_reference_is_named():
    atoms = thermal_inp(4)
    X, labels = species_descriptors(atoms, ["In", "P"])
    with pytest.raises(ValueError, match="no environments centred on P"):
        delta_entropy_by_species(X, labels, X[labels == 0], labels[labels == 0], 2, 0.015,
                                 species_names=["In", "P"])
    with pytest.raises(ValueError, match="Ga are not among the species In, P"):
        species_descriptors(bulk("GaP", "zincblende", a=5.45), ["In", "P"])


def test_antisite_pair_is_flagged_species_aware_only():
    reference, reference_labels = species_descriptors([thermal_inp(s, 0.05) for s in range(5, 8)], ["In", "P"])
    atoms = thermal_inp(9, 0.05)
    symbols = atoms.get_chemical_symbols()
    pair = [symbols.index("In"), symbols.index("P")]
    Y, labels = species_descriptors(swap(atoms, *pair), ["In", "P"])
    aware = delta_entropy_by_species(Y, labels, reference, reference_labels, 2, 0.015)
    agnostic = delta_entropy(Y[:, :WIDTH], reference[:, :WIDTH], 0.015)
    assert (aware[pair] > 0).all()
    assert (agnostic[pair] <= 0).all()  # same geometry: the agnostic descriptor cannot tell
    others = np.setdiff1d(np.arange(len(atoms)), pair)
    assert np.median(aware[others]) <= 0


def test_sorted_and_unsorted_labels_agree_and_entropy_splits():
    frames = [thermal_inp(10), thermal_inp(11)]
    X, labels = species_descriptors(frames, ["In", "P"])
    order = np.argsort(labels, kind="stable")
    unsorted = self_delta_entropy_by_species(X, labels, 2, 0.015)
    grouped = self_delta_entropy_by_species(X[order], labels[order], 2, 0.015)
    np.testing.assert_allclose(unsorted[order], grouped, rtol=0, atol=1e-12)
    total, per_species = entropy_by_species(X, labels, 2, 0.015)
    p = np.bincount(labels) / len(labels)
    assert total == pytest.approx(float(p @ per_species - p @ np.log(p)), abs=1e-10)
    assert per_species[0] == pytest.approx(entropy(X[labels == 0], 0.015), abs=1e-10)


def test_empty_sublattice_gives_a_zero_block():
    """Neighbour points restricted to a species with no atom near the centre: zeros."""
    centers = np.zeros((1, 3))
    points = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 2.5, 0.0], [9.0, 0.0, 0.0]])
    X = species_descriptors_from_points(centers, points, np.array([0, 0, 0, 1]), 2,
                                        np.array([0]), k=4, cutoff=5.0)
    width = descriptor_width(4)
    assert X.shape == (1, 3 * width)
    np.testing.assert_array_equal(X[:, :width], X[:, width:2 * width])
    assert not X[:, 2 * width:].any()
