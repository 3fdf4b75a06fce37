"""The monitor core (lammps_quests.monitor._monitor) without LAMMPS: the one table of statistics,
their reduction over ranks, decisions, and species-aware de-duplication and entropy gain."""

from __future__ import annotations

import numpy as np
import pytest

from crystals import thermal_inp
from lammps_quests.active import Extension, Saver, Structure, saved_summary
from lammps_quests.active._extension import species_union_entropy
from lammps_quests.monitor._monitor import (PARTIALS, QUANTITIES, REDUCTIONS, Evaluation, Monitor,
                                          MonitorSettings, Statistics)
from lammps_quests.active._saving import saved_rows
from lammps_quests.dh._reference_dh import ReferenceDh
from lammps_quests.core._species_information import delta_entropy_by_species, entropy_by_species
from lammps_quests.formats._reference import Reference

H = 0.015


@pytest.fixture(scope="module")
def inp_reference():
    frames = [thermal_inp(seed, sigma=0.05, repeat=2) for seed in range(3)]
    return Reference.build(frames, species=["In", "P"], k=32, cutoff=5.0, bandwidth=H)


def _hot_inp(seed: int = 7):
    """InP with hotter displacements and two antisite pairs (atoms the reference lacks)."""
    atoms = thermal_inp(seed, sigma=0.12, repeat=2)
    symbols = atoms.get_chemical_symbols()
    for i, j in ((0, 1), (10, 11)):
        symbols[i], symbols[j] = symbols[j], symbols[i]
    atoms.symbols = symbols
    return atoms


def test_one_table_names_the_five_statistics_and_their_reductions():
    from lammps_quests.lammps._invoke import SUFFIXES
    from lammps_quests.lammps._bridge import GLOBAL_VECTOR

    assert [q.index for q in QUANTITIES] == [1, 2, 3, 4, 5]
    assert SUFFIXES == ("max", "mean", "fraction", "count", "new")
    assert len(GLOBAL_VECTOR) == len(QUANTITIES) == len(PARTIALS)
    assert REDUCTIONS == "mssss"
    fields = set(Evaluation.__dataclass_fields__)
    assert {q.field for q in QUANTITIES} <= fields


def test_partials_reduced_over_ranks_equal_the_whole():
    rng = np.random.default_rng(0)
    dh = rng.normal(0.0, 2.0, 101)
    whole = Statistics.of(dh, threshold=0.5, new=7)
    parts = [Statistics.of(dh[:30], 0.5, 3), Statistics.of(dh[30:30], 0.5), Statistics.of(dh[30:], 0.5, 4)]
    reduced = Statistics.reduce(parts)
    assert reduced.values == pytest.approx(whole.values, rel=1e-15)
    assert whole.values == pytest.approx([dh.max(), dh.mean(), np.mean(dh > 0.5), np.sum(dh > 0.5), 7])
    assert Statistics.from_partials(reduced.partials) == reduced
    assert Statistics().values == [0.0] * 5  # an empty group reports zeros
    record = Evaluation.of(3, whole, saved=1, seconds=0.0)
    assert (record.max_dh, record.count_above, record.new) == (dh.max(), int(np.sum(dh > 0.5)), 7)


def test_decisions_follow_the_settings(inp_reference, tmp_path):
    settings = MonitorSettings(threshold=0.0, halt_threshold=2.0, save_threshold=1.0,
                               save_path=str(tmp_path / "s.xyz"), deduplicate=False)
    monitor = Monitor(inp_reference, settings)
    assert monitor.decisions() == [0.0, 2.0, 1.0]
    hot, cold = Statistics.of([1.5, -1.0], 0.0, 1), Statistics.of([0.5], 0.0)
    assert monitor.should_save(hot, 10) and not monitor.should_save(cold, 10)
    assert not monitor.should_halt(hot) and monitor.should_halt(Statistics.of([2.5], 0.0))
    monitor.last_saved_step = 10  # `every` saves a step evaluated twice once
    assert not monitor.should_save(hot, 10)
    dedup = Monitor(inp_reference, MonitorSettings(save_threshold=1.0, save_path=str(tmp_path / "d.xyz")))
    assert dedup.should_save(Statistics.of([1.5], 0.0, new=1), 0)
    assert not dedup.should_save(Statistics.of([1.5], 0.0, new=0), 0)
    with pytest.raises(ValueError, match="centred on In, P only, but the fix has Cu"):
        Monitor(inp_reference, MonitorSettings(), by="the fix", species=["In", "Cu"])
    with pytest.raises(ValueError, match="built with k = 32, but the fix asks for k = 16"):
        Monitor(inp_reference, MonitorSettings(k=16), by="the fix")
    with pytest.raises(ValueError, match="smaller than the descriptor cutoff"):
        Monitor(inp_reference, MonitorSettings(save_threshold=0.0, save_cut=4.0, save_path="x.xyz"))


def test_species_extension_equals_the_species_kernel_over_the_union(inp_reference):
    X, x_labels = inp_reference.descriptors, inp_reference.species_labels
    dh = ReferenceDh(inp_reference)
    Y, labels = dh.descriptors(_hot_inp())
    S, s_labels, Q, q_labels = Y[:20], labels[:20], Y[20:], labels[20:]
    extension = Extension(X, H, labels=x_labels, n_species=2)
    extension.add(S[:5], s_labels[:5])
    extension.add(S[5:], s_labels[5:])
    direct = delta_entropy_by_species(Q, q_labels, np.vstack([X, S]), np.concatenate([x_labels, s_labels]), 2, H)
    np.testing.assert_allclose(extension.delta_entropy(Q, labels=q_labels), direct, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(extension.delta_entropy(Q, dh(Q, q_labels), q_labels), direct,
                               rtol=1e-12, atol=1e-12)
    # an In-centred saved row never covers a P atom, however close the descriptors
    p_row = np.flatnonzero(q_labels == 1)[0]
    alone = Extension(X, H, labels=x_labels, n_species=2)
    alone.add(Q[p_row:p_row + 1], [0])
    assert alone.delta_entropy(Q[p_row:p_row + 1], labels=[1])[0] == pytest.approx(dh(Q[p_row:p_row + 1], [1])[0])
    gain = extension.entropy_gain()
    union, _ = entropy_by_species(np.vstack([X, S]), np.concatenate([x_labels, s_labels]), 2, H)
    alone_h, _ = entropy_by_species(X, x_labels, 2, H)
    assert gain.reference == pytest.approx(alone_h, abs=1e-10)
    assert gain.union == pytest.approx(union, abs=1e-9)
    assert (gain.n_reference, gain.n_added) == (len(X), len(S))
    with pytest.raises(ValueError, match="centre species of every row"):
        extension.add(S[:1])


def test_species_saver_new_atoms_equal_brute_force_and_offline_summary(inp_reference, tmp_path):
    """New atoms: dH against reference ∪ saved rows centred on the atom's own element > t;
    the saved file gives back the same rows, counts and entropy gain."""
    X, x_labels = inp_reference.descriptors, inp_reference.species_labels
    dh = ReferenceDh(inp_reference)
    saver = Saver(inp_reference, H, threshold=0.0)
    frames = [_hot_inp(seed) for seed in (7, 8, 7)]  # the third repeats the first
    path = tmp_path / "saved.xyz"
    saved_Y, saved_labels, news = np.zeros((0, X.shape[1])), np.zeros(0, dtype=np.int64), []
    for atoms in frames:
        Y, labels = dh.descriptors(atoms)
        values = dh(Y, labels)
        union = delta_entropy_by_species(Y, labels, np.vstack([X, saved_Y]),
                                         np.concatenate([x_labels, saved_labels]), 2, H)
        expected = union > 1e-9  # Saver's margin NEW_MARGIN over t = 0
        frame = Structure(atoms.get_chemical_symbols(), atoms.positions, np.array(atoms.cell), atoms.pbc,
                          {"id": np.arange(1, len(atoms) + 1)}, {"step": len(news)})
        pieces = saver.structures(frame, values)
        new = pieces[0].columns["new"] == 1 if pieces else np.zeros(len(atoms), dtype=bool)
        np.testing.assert_array_equal(new, expected)
        news.append(int(new.sum()))
        for piece in pieces:
            piece.write(path)
        saved_Y, saved_labels = np.vstack([saved_Y, Y[new]]), np.concatenate([saved_labels, labels[new]])
    assert news[0] > 0 and news[2] == 0  # the repeated frame is not saved again
    import ase.io

    read = ase.io.read(path, index=":")
    S, s_labels = saved_rows(read, dh)
    np.testing.assert_array_equal(S, saved_Y)
    np.testing.assert_array_equal(s_labels, saved_labels)
    counts, gain = saved_summary(read, inp_reference)
    assert (counts.structures, counts.new) == (saver.counts.structures, saver.counts.new)
    assert gain.added == pytest.approx(saver.entropy_gain().added, rel=1e-12, abs=1e-12)
    direct = species_union_entropy(X, x_labels, saved_Y, saved_labels, 2, H)
    assert gain.union == pytest.approx(direct.union, abs=1e-12)


def test_species_cut_outs_carry_elements_and_reproduce_dh(inp_reference):
    dh = ReferenceDh(inp_reference)
    atoms = _hot_inp().repeat((2, 1, 1))
    Y, labels = dh.descriptors(atoms)
    values = dh(Y, labels)
    frame = Structure(atoms.get_chemical_symbols(), atoms.positions, np.array(atoms.cell), atoms.pbc,
                      {"id": np.arange(1, len(atoms) + 1)}, {})
    pieces = Saver(inp_reference, H, threshold=float(np.sort(values)[-3]), cut_radius=5.0).structures(frame, values)
    assert pieces
    for piece in pieces:
        ids = piece.columns["id"] - 1
        assert list(piece.species) == [atoms.get_chemical_symbols()[i] for i in ids]
        exact = np.flatnonzero(piece.columns["exact"] == 1)
        from lammps_quests.active._saving import environments

        Z, z_labels = environments(piece, exact, dh)
        np.testing.assert_array_equal(z_labels, labels[ids[exact]])
        np.testing.assert_allclose(dh(Z, z_labels), values[ids[exact]], rtol=1e-9, atol=1e-9)


def test_reference_checked_once_and_dh_equals_core(monkeypatch):
    """ReferenceDh validates the reference at construction, never again per evaluation (each
    call checks only its own rows), and gives core's delta_entropy bit for bit."""
    import lammps_quests.core._information as information

    rng = np.random.default_rng(3)
    X = rng.uniform(0.0, 0.2, size=(300, 7))
    reference = Reference.from_descriptors(X, k=4, cutoff=5.0, bandwidth=0.05)
    Y = X[:20] + rng.normal(0.0, 0.01, size=(20, 7))
    expected = information.delta_entropy(Y, reference.descriptors, 0.05)
    checked = []
    original = information.check_descriptors

    def counting(array, name="X"):
        checked.append(len(array))
        return original(array, name)

    monkeypatch.setattr(information, "check_descriptors", counting)
    dh = ReferenceDh(reference)
    for _ in range(3):
        np.testing.assert_array_equal(dh(Y), expected)
    assert checked == [300, 20, 20, 20]
    with pytest.raises(ValueError, match="NaN or inf"):
        dh(np.full((2, 7), np.nan))
    with pytest.raises(ValueError, match="width|same"):
        dh(Y[:, :5])
