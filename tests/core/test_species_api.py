"""One name per computation: species are a parameter (``species=`` for frames, ``labels=`` /
``n_species=`` for arrays and points, ``labels=`` / ``y_labels=`` / ``x_labels=`` for the
information quantities). Checked: the one-species case is the species-agnostic one bit for bit,
the species-aware results equal a brute-force numpy kernel sum and the published ``quests``
on the agnostic block, and the old names are thin aliases giving the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
from crystals import thermal_fcc, thermal_inp

import lammps_quests
import lammps_quests.core._descriptors as core_descriptors
import lammps_quests.core._information as information
import lammps_quests.core._species_information as old

SPECIES = ["In", "P"]
H = 0.015


def brute_dh(Y, y_labels, X, x_labels, h=H):
    """-log sum over same-species rows of exp(-|y - x|^2 / (2 h^2)), plain numpy."""
    out = np.empty(len(Y))
    for i, (y, s) in enumerate(zip(Y, y_labels)):
        z = ((X[x_labels == s] - y) ** 2).sum(axis=1) / (2 * h * h)
        out[i] = z.min() - np.log(np.exp(-(z - z.min())).sum())
    return out


@pytest.fixture(scope="module")
def inp():
    frames = [thermal_inp(seed, 0.06, repeat=2) for seed in range(3)]
    X = lammps_quests.descriptors(frames, species=SPECIES)
    labels = lammps_quests.species_labels(frames, SPECIES)
    test = thermal_inp(9, 0.12, repeat=2)
    return frames, X, labels, test


def test_root_exports_one_name_per_computation():
    names = set(lammps_quests.__all__)
    assert not [name for name in names if "species" in name and name != "species_labels"]
    assert {"descriptors", "descriptors_from_arrays", "descriptors_from_points", "delta_entropy",
            "self_delta_entropy", "entropy", "diversity", "overlap", "novelty", "delta_entropy_fast",
            "ReferenceDh"} <= names
    assert lammps_quests.ReferenceDh.__name__ == "ReferenceDh"


def test_one_species_is_the_agnostic_case_bit_for_bit():
    frames = [thermal_fcc(0.05, (2, 2, 2), seed=s) for s in range(3)]
    plain = lammps_quests.descriptors(frames)
    one = lammps_quests.descriptors(frames, species=["Cu"])
    labels = lammps_quests.species_labels(frames, ["Cu"])
    assert one.shape == plain.shape == (96, lammps_quests.descriptor_width(32))
    np.testing.assert_array_equal(one, plain)
    assert (labels == 0).all()
    X, Y = plain[:64], plain[64:]
    lx, ly = labels[:64], labels[64:]
    np.testing.assert_array_equal(lammps_quests.delta_entropy(Y, X, y_labels=ly, x_labels=lx),
                                  lammps_quests.delta_entropy(Y, X))
    np.testing.assert_array_equal(lammps_quests.delta_entropy(Y, X, [0.01, 0.02], y_labels=ly, x_labels=lx),
                                  lammps_quests.delta_entropy(Y, X, [0.01, 0.02]))
    np.testing.assert_array_equal(lammps_quests.self_delta_entropy(X, labels=lx), lammps_quests.self_delta_entropy(X))
    assert lammps_quests.entropy(X, labels=lx) == lammps_quests.entropy(X)
    assert lammps_quests.diversity(X, labels=lx) == lammps_quests.diversity(X)
    assert lammps_quests.overlap(Y, X, y_labels=ly, x_labels=lx) == lammps_quests.overlap(Y, X)
    atoms = frames[0]
    np.testing.assert_array_equal(
        lammps_quests.descriptors_from_arrays(atoms.positions, atoms.cell[:], True, labels=np.zeros(32, int),
                                              n_species=1),
        lammps_quests.descriptors_from_arrays(atoms.positions, atoms.cell[:], True))


def test_species_aware_values_against_brute_force_and_quests(inp):
    frames, X, labels, test = inp
    assert X.shape == (192, lammps_quests.descriptor_width(32, 2)) == (192, 189)
    Y = lammps_quests.descriptors(test, species=SPECIES)
    y_labels = lammps_quests.species_labels(test, SPECIES)
    dh = lammps_quests.delta_entropy(Y, X, y_labels=y_labels, x_labels=labels)
    np.testing.assert_allclose(dh, brute_dh(Y, y_labels, X, labels), rtol=1e-9, atol=1e-9)
    # entropy = log n + mean self dH, and splits into species entropies plus mixing
    H_all = lammps_quests.entropy(X, labels=labels)
    parts = [lammps_quests.entropy(X[labels == s]) for s in range(2)]
    assert H_all == pytest.approx(0.5 * sum(parts) + np.log(2), abs=1e-12)
    # the agnostic block (first 2k - 1 columns) equals the published code's descriptor
    quests = pytest.importorskip("quests.descriptor")
    published = quests.get_descriptors([test], k=32, cutoff=5.0)
    np.testing.assert_allclose(Y[:, :63], published, rtol=1e-6, atol=1e-9)


def test_old_names_are_aliases(inp):
    frames, X, labels, test = inp
    old_X, old_labels = core_descriptors.species_descriptors(frames, SPECIES)
    np.testing.assert_array_equal(old_X, X)
    np.testing.assert_array_equal(old_labels, labels)
    part, part_labels = core_descriptors.species_descriptors(frames, SPECIES, rows=(40, 100))
    np.testing.assert_array_equal(part, X[40:100])
    np.testing.assert_array_equal(part_labels, labels[40:100])
    np.testing.assert_array_equal(lammps_quests.descriptors(frames, species=SPECIES, rows=(40, 100)), X[40:100])
    atoms = test
    numbers = lammps_quests.species_labels(atoms, SPECIES)
    np.testing.assert_array_equal(
        core_descriptors.species_descriptors_from_arrays(atoms.positions, numbers, 2, atoms.cell[:], True),
        lammps_quests.descriptors_from_arrays(atoms.positions, atoms.cell[:], True, labels=numbers, n_species=2))
    Y = lammps_quests.descriptors(atoms, species=SPECIES)
    np.testing.assert_array_equal(old.delta_entropy_by_species(Y, numbers, X, labels, 2, H),
                                  information.delta_entropy(Y, X, H, y_labels=numbers, x_labels=labels))
    np.testing.assert_array_equal(old.self_delta_entropy_by_species(X, labels, 2, H),
                                  information.self_delta_entropy(X, H, labels=labels))
    total, per_species = old.entropy_by_species(X, labels, 2, H)
    assert total == information.entropy(X, H, labels=labels)
    np.testing.assert_allclose(per_species, [information.entropy(X[labels == s], H) for s in range(2)],
                               rtol=0, atol=1e-12)


def test_points_route_equals_frames_route(inp):
    from lammps_quests.core._images import periodic_images

    _, _, _, test = inp
    labels = lammps_quests.species_labels(test, SPECIES)
    points, image_of = periodic_images(test.positions, test.cell[:], test.pbc, 5.0)
    n = len(test)
    via_points = lammps_quests.descriptors_from_points(points[:n], points, np.arange(n), labels=labels[image_of],
                                                       n_species=2)
    np.testing.assert_array_equal(via_points, lammps_quests.descriptors(test, species=SPECIES))


def test_bad_species_arguments_are_named(inp):
    frames, X, labels, test = inp
    with pytest.raises(ValueError, match="n_species"):
        lammps_quests.descriptors_from_arrays(test.positions, test.cell[:], True, labels=np.zeros(64, int))
    with pytest.raises(ValueError, match="n_species needs labels"):
        lammps_quests.descriptors_from_arrays(test.positions, test.cell[:], True, n_species=2)
    with pytest.raises(ValueError, match="In are not among the species Ga, P"):
        lammps_quests.species_labels(frames, ["Ga", "P"])
    with pytest.raises(ValueError, match="y_labels and x_labels"):
        lammps_quests.delta_entropy(X, X, y_labels=labels)
    with pytest.raises(ValueError, match="no environments centred on P"):
        lammps_quests.delta_entropy(X, X[labels == 0], y_labels=labels, x_labels=labels[labels == 0],
                                    species=SPECIES)
    with pytest.raises(ValueError, match="one integer species number per row"):
        lammps_quests.delta_entropy(X, X, y_labels=labels[:5], x_labels=labels)
