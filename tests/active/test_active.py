"""lammps_quests.active: extension, entropy of a union, hot spots, cut-outs, de-duplicated saves."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from crystals import rattled_frames
from lammps_quests.active import (
    Extension,
    Saver,
    Structure,
    hot_spots,
    saved_summary,
    union_entropy,
)
from lammps_quests.active._cutout import cut_out
from lammps_quests.active._regions import PeriodicPoints
from lammps_quests.core._descriptors import descriptors_from_arrays
from lammps_quests.core._information import delta_entropy, entropy
from lammps_quests.formats._reference import Reference

H = 0.015


@pytest.fixture(scope="module")
def rattled_reference():
    return Reference.build(rattled_frames("fcc", 3.615, 6, 0.03, seed=3), k=32, cutoff=5.0, bandwidth=H)


def min_pair_distance(positions, cell=None, pbc=False):
    from ase import Atoms

    atoms = Atoms("X" * len(positions), positions=positions, cell=cell, pbc=pbc)
    d = atoms.get_all_distances(mic=bool(np.any(pbc)))
    return d[np.triu_indices(len(positions), 1)].min()


def test_extension_dh_and_entropy_equal_direct_computation(rattled_reference):
    X = rattled_reference.descriptors
    hot = descriptors_from_arrays(*_defect_frame(seed=1)[:3])
    S, Y = hot[:40], hot[40:]
    extension = Extension(X, H)
    assert np.array_equal(extension.delta_entropy(Y), delta_entropy(Y, X, H))
    extension.add(S[:10])
    extension.add(S[10:])
    direct = delta_entropy(Y, np.vstack([X, S]), H)
    np.testing.assert_allclose(extension.delta_entropy(Y), direct, rtol=0, atol=1e-9)
    np.testing.assert_allclose(extension.delta_entropy(Y, delta_entropy(Y, X, H)), direct, rtol=0, atol=1e-9)
    gain = extension.entropy_gain()
    assert gain.reference == pytest.approx(entropy(X, H), abs=1e-10)
    assert gain.union == pytest.approx(entropy(np.vstack([X, S]), H), abs=1e-9)
    assert gain.added > 0
    # an empty selection (no atom above the threshold) adds nothing, as the README's ext.add(Y[dh > 2.0])
    extension.add(Y[delta_entropy(Y, X, H) > 1e9])
    assert extension.n_saved == len(S) and extension.entropy_gain().union == pytest.approx(gain.union, abs=0)
    # covered rows lower the entropy; the shortcut stays exact for them too
    covered = union_entropy(X, X[:7], H)
    assert covered.union == pytest.approx(entropy(np.vstack([X, X[:7]]), H), abs=1e-9)


def _defect_frame(seed: int, vacancy: int = 0, cells: int = 3, squeeze: int | None = None):
    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(cells)
    atoms.rattle(0.03, seed=seed)
    if squeeze is not None:  # push one atom towards its neighbour: a new kind of environment
        atoms.positions[squeeze] += [0.6, 0.6, 0.0]
    del atoms[vacancy]
    return atoms.positions, np.array(atoms.cell), atoms.pbc, atoms


def test_cut_out_exact_atoms_reproduce_frame_and_no_pair_closer(rattled_reference):
    positions, cell, pbc, atoms = _defect_frame(seed=5, cells=5)
    hot = np.zeros(len(positions), dtype=bool)
    hot[[0, 1]] = True
    R = 5.0
    space = PeriodicPoints.build(positions, cell, pbc, 2 * R)
    spots = hot_spots(positions, cell, pbc, hot, R, space=space)
    frame = Structure(atoms.get_chemical_symbols(), positions, cell, pbc, {"id": np.arange(len(positions)) + 1})
    X_frame = descriptors_from_arrays(positions, cell, pbc)
    for spot in spots:
        assert not spot.spans_box
        piece = cut_out(frame, spot, space, 5.0)
        exact = piece.columns["exact"] == 1
        assert exact[np.isin(spot.atoms, spot.centres)].all()
        assert 0 < exact.sum() < len(piece)
        X_cut = descriptors_from_arrays(piece.positions, piece.cell, piece.pbc)
        original = piece.columns["id"] - 1
        np.testing.assert_allclose(X_cut[exact], X_frame[original[exact]], rtol=0, atol=1e-12)
        dh_cut = delta_entropy(X_cut[exact], rattled_reference.descriptors, H)
        dh_frame = delta_entropy(X_frame[original[exact]], rattled_reference.descriptors, H)
        np.testing.assert_allclose(dh_cut, dh_frame, rtol=0, atol=1e-9)
        assert min_pair_distance(piece.positions) >= min_pair_distance(positions, cell, pbc) - 1e-9
        # the vacuum box: read as periodic, the cluster keeps the same descriptors
        X_periodic = descriptors_from_arrays(piece.positions, piece.cell, True)
        np.testing.assert_allclose(X_periodic, X_cut, rtol=0, atol=1e-12)


def test_hot_spots_merge_across_the_boundary_and_detect_spanning():
    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(5)  # 18.1 Å box
    positions, cell = atoms.positions, np.array(atoms.cell)
    near_low = np.argmin(np.linalg.norm(positions - [0.0, 0.0, 0.0], axis=1))
    near_high = np.argmin(np.linalg.norm(positions - [16.27, 0.0, 0.0], axis=1))
    spots = hot_spots(positions, cell, True, np.array([near_low, near_high]), 3.0)
    assert len(spots) == 1 and not spots[0].spans_box  # 1.8 Å apart through the boundary
    keys = {(a, *s) for a, s in zip(spots[0].atoms, spots[0].shifts)}
    assert len(keys) == len(spots[0].atoms)
    placed = positions[spots[0].atoms] + spots[0].shifts @ cell
    assert min_pair_distance(placed) >= min_pair_distance(positions, cell, True) - 1e-9
    # a row of centres along x connects the region to its own image: it spans the box
    row = np.flatnonzero((np.abs(positions[:, 1]) < 0.1) & (np.abs(positions[:, 2]) < 0.1))
    spanning = hot_spots(positions, cell, True, row, 3.0)
    assert len(spanning) == 1 and spanning[0].spans_box and len(spanning[0].atoms) == len(positions)
    # no periodicity: two far-apart groups stay apart
    apart = hot_spots(positions, cell, False, np.array([near_low, near_high]), 3.0)
    assert len(apart) == 2


def test_saver_saves_a_persistent_defect_once_and_a_new_one_again(rattled_reference, tmp_path):
    saver = Saver(rattled_reference, H, threshold=0.0, cut_radius=5.0)
    every = Saver(rattled_reference, H, threshold=0.0, deduplicate=False)
    path = tmp_path / "saved.xyz"
    written = []
    for step, squeeze in [(0, None), (10, None), (20, None), (30, 40)]:
        positions, cell, pbc, atoms = _defect_frame(seed=7, cells=4, squeeze=squeeze)
        frame = Structure(atoms.get_chemical_symbols(), positions, cell, pbc,
                          {"id": np.arange(len(positions)) + 1}, {"step": step})
        dh = delta_entropy(descriptors_from_arrays(positions, cell, pbc), rattled_reference.descriptors, H)
        assert (dh > 0).any()
        pieces = saver.structures(frame, dh)
        assert len(every.structures(frame, dh)) == 1
        for piece in pieces:
            piece.write(path)
        written.append(len(pieces))
    assert written[0] >= 1 and written[1] == written[2] == 0 and written[3] >= 1
    assert every.counts.structures == 4
    import ase.io

    frames = ase.io.read(path, ":")
    counts, gain = saved_summary(frames, rattled_reference, H)
    assert counts.structures == saver.counts.structures == sum(written)
    assert counts.new == saver.counts.new == saver.extension.n_saved
    assert np.array_equal(saver.extension.saved, np.concatenate(
        [Structure.from_atoms(f).descriptors(np.flatnonzero(f.arrays["new"] == 1), 32, 5.0) for f in frames]))
    assert gain.added == saver.entropy_gain().added


def test_cut_radius_below_the_cutoff_is_refused(rattled_reference):
    with pytest.raises(ValueError, match="smaller than the descriptor cutoff"):
        Saver(rattled_reference, H, threshold=0.0, cut_radius=4.0)


def test_the_same_frame_twice_at_threshold_zero_is_saved_once(rattled_reference, tmp_path):
    """Rounding must not make an environment new against a set that already holds it: a hot,
    disordered frame (every atom far from the reference) evaluated twice is saved once."""
    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(3)
    atoms.rattle(0.4, seed=11)
    positions, cell, pbc = atoms.positions, np.array(atoms.cell), atoms.pbc
    frame = Structure(atoms.get_chemical_symbols(), positions, cell, pbc,
                      {"id": np.arange(len(positions)) + 1}, {"step": 0})
    dh = delta_entropy(descriptors_from_arrays(positions, cell, pbc), rattled_reference.descriptors, H)
    assert (dh > 0).all()
    for cut in (None, 5.0):
        saver = Saver(rattled_reference, H, threshold=0.0, cut_radius=cut)
        assert len(saver.structures(frame, dh)) >= 1
        again = saver.structures(frame, dh)
        assert again == [], f"cut={cut}: {sum(int(p.columns['new'].sum()) for p in again)} atoms new again"
