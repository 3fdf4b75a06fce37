"""Descriptors: the published `quests` package as oracle, geometry invariances, bad input."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, fcc111, molecule

import lammps_quests as lq

quests_descriptor = pytest.importorskip("quests.descriptor")


def displaced(atoms, sigma=0.05, seed=0):
    """A thermally displaced copy: breaks the distance ties of perfect crystals, whose k-th
    neighbour is otherwise an arbitrary choice among equidistant ones."""
    atoms = atoms.copy()
    atoms.positions += np.random.default_rng(seed).normal(0.0, sigma, atoms.positions.shape)
    return atoms


ORACLE_CASES = {
    "fcc": lambda: displaced(bulk("Cu", "fcc", a=3.61, cubic=True).repeat((3, 3, 3))),
    "bcc": lambda: displaced(bulk("Ta", "bcc", a=3.30, cubic=True).repeat((3, 3, 3))),
    "hcp": lambda: displaced(bulk("Mg", "hcp", a=3.21, c=5.21).repeat((3, 3, 2))),
    "triclinic": lambda: displaced(bulk("Cu", "fcc", a=3.61).repeat((4, 4, 4))),
    "short_cell": lambda: displaced(bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 1))),
    "molecule": lambda: displaced(molecule("C6H6"), 0.01),
}


@pytest.mark.parametrize("name", sorted(ORACLE_CASES))
def test_matches_published_quests(name):
    atoms = ORACLE_CASES[name]()
    ours = lq.descriptors(atoms)
    oracle = quests_descriptor.get_descriptors([atoms], k=32, cutoff=5.0)
    assert ours.shape == (len(atoms), 63)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, oracle, rtol=0, atol=1e-10)


def test_matches_oracle_with_other_k_and_cutoff():
    atoms = ORACLE_CASES["bcc"]()
    ours = lq.descriptors(atoms, k=12, cutoff=4.0)
    oracle = quests_descriptor.get_descriptors([atoms], k=12, cutoff=4.0)
    assert ours.shape == (len(atoms), 23)
    np.testing.assert_allclose(ours, oracle, rtol=0, atol=1e-10)


def test_short_cell_sees_several_images_of_one_atom():
    # a single-atom cell much shorter than the cutoff: all neighbours are images of atom 0
    # simple cubic, a = 2.4 Å: shells of 6, 12, 8 and 6 images at 2.4, 3.39, 4.16 and 4.8 Å
    atoms = Atoms("Cu", positions=[[0, 0, 0]], cell=np.eye(3) * 2.4, pbc=True)
    x = lq.descriptors(atoms)
    shells = np.repeat([2.4, 2.4 * 2**0.5, 2.4 * 3**0.5, 4.8], [6, 12, 8, 6])
    np.testing.assert_allclose(x[0, :32], (1 - (shells / 5) ** 2) ** 2 / shells, rtol=1e-13)


def test_sequence_of_frames_concatenates_in_order():
    a, b = ORACLE_CASES["fcc"](), ORACLE_CASES["bcc"]()
    both = lq.descriptors([a, b])
    np.testing.assert_array_equal(both, np.concatenate([lq.descriptors(a), lq.descriptors(b)]))


def test_slab_equals_slab_in_vacuum_padded_periodic_cell():
    slab = displaced(fcc111("Cu", size=(3, 3, 4), vacuum=0.0, a=3.61), 0.04, seed=3)
    slab.pbc = (True, True, False)
    padded = slab.copy()
    padded.cell[2] = [0, 0, np.ptp(slab.positions[:, 2]) + 2 * 5.0 + 1.0]
    padded.pbc = True
    padded.positions[:, 2] += 5.5 - slab.positions[:, 2].min()
    ours = lq.descriptors(slab)
    np.testing.assert_allclose(ours, lq.descriptors(padded), rtol=0, atol=1e-12)
    # and a slab is not a cluster: lateral images must count (the published code drops them)
    cluster = slab.copy()
    cluster.pbc = False
    assert np.abs(ours - lq.descriptors(cluster)).max() > 1e-2


def test_slab_with_zero_third_cell_vector():
    slab = displaced(fcc111("Cu", size=(2, 2, 3), vacuum=0.0, a=3.61), 0.04, seed=4)
    slab.pbc = (True, True, False)
    flat = slab.copy()
    flat.cell[2] = 0.0
    np.testing.assert_allclose(lq.descriptors(flat), lq.descriptors(slab), rtol=0, atol=1e-12)


def test_translation_rotation_permutation_and_rewrapping():
    atoms = ORACLE_CASES["triclinic"]()
    base = lq.descriptors(atoms)

    moved = atoms.copy()
    moved.positions += [13.1, -7.3, 2.9]  # now partly outside the cell: re-wrapped inside
    np.testing.assert_allclose(lq.descriptors(moved), base, atol=1e-12)

    rotated = atoms.copy()
    rotated.rotate(37, (1, 2, 3), rotate_cell=True)
    np.testing.assert_allclose(lq.descriptors(rotated), base, atol=1e-12)

    order = np.random.default_rng(1).permutation(len(atoms))
    np.testing.assert_allclose(lq.descriptors(atoms[order]), base[order], atol=1e-12)

    wrapped = atoms.copy()
    wrapped.wrap()
    np.testing.assert_allclose(lq.descriptors(wrapped), base, atol=1e-12)


def test_isolated_atoms_give_zero_padding():
    dimer = Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 2.5]])
    x = lq.descriptors(dimer, k=4)
    w = (1 - (2.5 / 5) ** 2) ** 2
    np.testing.assert_allclose(x[:, 0], w / 2.5)
    np.testing.assert_array_equal(x[:, 1:4], 0.0)  # only one neighbour
    np.testing.assert_array_equal(x[:, 4:], 0.0)  # no neighbour pairs
    far = Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 9.0]])
    np.testing.assert_array_equal(lq.descriptors(far), 0.0)


def test_x2_by_hand_for_an_equilateral_triangle_neighbourhood():
    # centre with two neighbours at r = 2 Å, 2 Å apart from each other
    h = np.sqrt(3.0)
    atoms = Atoms("Cu3", positions=[[0, 0, 0], [2, 0, 0], [1, h, 0]])
    k = 3
    x = lq.descriptors(atoms, k=k)
    w = (1 - (2 / 5) ** 2) ** 2
    # R: rows 0 and 1 have one cross term sqrt(w w)/2 each, row 2 zeros; sorted rows put it in
    # the last column: column means = [0, 0, 2 * (w / 2) / 3]; X2 = reversed columns 1..k-1
    np.testing.assert_allclose(x[0, k:], [2 * (w / 2) / 3, 0.0])
    np.testing.assert_allclose(x[0, :k], [w / 2, w / 2, 0.0])


def test_points_kernel_matches_frame_api_with_explicit_images():
    atoms = ORACLE_CASES["hcp"]()
    points, index = lq.periodic_images(atoms.positions, atoms.cell[:], True, 5.0)
    n = len(atoms)
    assert np.array_equal(index[:n], np.arange(n))
    # centres given separately and in another order, self rows named explicitly
    order = np.arange(n)[::-1]
    x = lq.descriptors_from_points(points[order], points, order, k=32, cutoff=5.0)
    np.testing.assert_allclose(x, lq.descriptors(atoms)[order], atol=1e-13)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Atoms("Cu2", positions=[[0, 0, 0], [np.nan, 0, 0]]), "NaN or inf"),
        (lambda: Atoms("Cu2", positions=[[0, 0, 0], [np.inf, 0, 0]]), "NaN or inf"),
        (lambda: Atoms("Cu2", positions=[[0, 0, 0], [1, 0, 0]],
                       cell=[[3, 0, 0], [6, 0, 0], [0, 0, 3]], pbc=True), "singular"),
        (lambda: Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 0]]), "coincide"),
    ],
)
def test_bad_structures_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        lq.descriptors(make())


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 1}, "k must be an integer >= 2"),
    ({"k": 2.5}, "k must be an integer >= 2"),
    ({"cutoff": 0.0}, "cutoff must be"),
    ({"cutoff": -1.0}, "cutoff must be"),
    ({"cutoff": float("nan")}, "cutoff must be"),
])
def test_bad_parameters_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lq.descriptors(ORACLE_CASES["fcc"](), **kwargs)


def test_empty_input_raises():
    with pytest.raises(ValueError, match="no frames"):
        lq.descriptors([])
    with pytest.raises(ValueError, match="not an ase.Atoms"):
        lq.descriptors([np.zeros((3, 3))])


@pytest.mark.parametrize("atoms", [
    bulk("Cu", "fcc", a=3.61, cubic=True).repeat((3, 3, 3)),
    bulk("Ta", "bcc", a=3.30, cubic=True).repeat((3, 3, 3)),
    bulk("Cu", "fcc", a=3.61).repeat((4, 4, 4)),  # triclinic primitive cell
], ids=["fcc", "bcc", "fcc-primitive"])
def test_perfect_lattice_atoms_get_identical_descriptors_in_any_order(atoms):
    # k = 32 cuts through a shell of equidistant neighbours; the choice among them must be the
    # same for every atom and must not depend on atom order or the origin (serial vs MPI ghosts)
    x = lq.descriptors(atoms)
    np.testing.assert_allclose(x, np.broadcast_to(x[0], x.shape), rtol=0, atol=1e-12)
    order = np.random.default_rng(2).permutation(len(atoms))
    shifted = atoms[order]
    shifted.positions += [0.3, -1.7, 2.2]
    np.testing.assert_allclose(lq.descriptors(shifted), x[order], rtol=0, atol=1e-12)
    assert lq.entropy(x) == pytest.approx(0.0, abs=1e-12)


def test_rows_describe_a_slice_of_the_atoms_without_the_others():
    """descriptors(frames, rows=(start, stop)) equals rows start..stop-1 of the full array,
    across frame boundaries (how MPI ranks share out a dataset's atoms)."""
    slab = fcc111("Cu", size=(3, 3, 3), vacuum=5.0)
    slab.rattle(0.05, seed=1)
    crystal = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    crystal.rattle(0.05, seed=2)
    frames = [crystal, slab, molecule("C6H6")]
    full = lq.descriptors(frames)
    n = len(full)
    for start, stop in [(0, n), (0, 1), (10, 75), (31, 33), (n - 3, n), (5, 5), (-4, 2), (n - 1, n + 9)]:
        part = lq.descriptors(frames, rows=(start, stop))
        assert np.array_equal(part, full[max(start, 0):stop]), (start, stop)


def test_species_rows_describe_a_slice_of_the_atoms():
    from lammps_quests.core._descriptors import descriptors, species_labels

    rocksalt = bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat(2)
    rocksalt.rattle(0.05, seed=4)
    alloy = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    alloy.symbols[::3] = "Na"
    alloy.rattle(0.05, seed=5)
    frames, species = [rocksalt, alloy], ["Cl", "Cu", "Na"]
    full, labels = descriptors(frames, species=species), species_labels(frames, species)
    n = len(full)
    for start, stop in [(0, n), (3, 70), (63, 65), (n - 2, n + 5), (7, 7)]:
        part = descriptors(frames, species=species, rows=(start, stop))
        part_labels = species_labels(frames, species, rows=(start, stop))
        assert np.array_equal(part, full[start:stop]) and part.shape[1] == full.shape[1]
        assert np.array_equal(part_labels, labels[start:stop])
