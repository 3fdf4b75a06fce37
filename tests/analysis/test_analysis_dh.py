"""dh: exact and approximate (upper bound) dH, the stored neighbour index, written frames,
and clear rejection of corrupt or mismatched references."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from click.testing import CliRunner

from lammps_quests.analysis import (dh_against_reference, index_path, load_or_build_index, load_reference,
                                    read_dataset)
from lammps_quests.cli import main
from lammps_quests.core.descriptors import descriptors
from lammps_quests.core.information import delta_entropy
from lammps_quests.formats.reference import Reference
from crystals import rattled_frames


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A reference of rattled FCC and a test file mixing close and far environments."""
    directory = tmp_path_factory.mktemp("dh")
    reference = Reference.build(rattled_frames("fcc", 3.615, 6, 0.05, 0), k=32, cutoff=5.0)
    ref_path = reference.save(directory / "fcc.qref")
    test_frames = rattled_frames("fcc", 3.615, 2, 0.05, 100) + rattled_frames("fcc", 3.615, 2, 0.12, 200)
    # A triclinic frame: shear the cell (with atoms) so the dump writer needs tilt factors.
    sheared = rattled_frames("fcc", 3.615, 1, 0.05, 300)[0]
    sheared.set_cell(sheared.cell[:] + [[0, 0, 0], [1.2, 0, 0], [0.4, -0.8, 0]], scale_atoms=True)
    test_frames.append(sheared)
    test_path = directory / "test.xyz"
    ase.io.write(test_path, test_frames)
    return directory, ref_path, test_path, test_frames


def test_exact_dh_equals_core(files):
    _, ref_path, test_path, frames = files
    reference = load_reference(ref_path)
    Y = descriptors(frames)
    values = dh_against_reference(Y, reference)
    assert np.array_equal(values, delta_entropy(Y, np.asarray(reference.descriptors), reference.bandwidth))
    assert (values > 0).any() and (values <= 0).any()  # the test set has both kinds


@pytest.mark.slow  # PyNNDescent compiles its kernels in every process
def test_approximate_is_an_upper_bound_and_index_is_stored(files, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    directory, ref_path, _, frames = files
    reference = load_reference(ref_path)
    Y = descriptors(frames)
    exact = dh_against_reference(Y, reference)
    stored = index_path(reference, 8)
    if stored.exists():
        stored.unlink()
    approx = dh_against_reference(Y, reference, approx=8)
    assert stored.exists()
    # Dropping terms of the kernel sum can only raise dH. The 1e-9 nats allow the rounding of
    # the core's blocked sums (measured below 1e-13 against a direct float64 sum).
    assert np.all(approx >= exact - 1e-9)
    assert np.any(approx > exact + 1e-6)  # and it is an approximation, not the exact sum
    # Environments dominated by their nearest reference points agree closely.
    assert np.median(approx - exact) < 0.5
    # The stored index is reused as it is (not rebuilt).
    stamp = stored.stat().st_mtime_ns
    again = dh_against_reference(Y, reference, approx=8)
    assert stored.stat().st_mtime_ns == stamp
    assert np.array_equal(again, approx)
    # With M = all reference environments the sum is complete: approx = exact.
    everything = dh_against_reference(Y[:40], reference, approx=reference.n_environments)
    assert np.allclose(everything, exact[:40], atol=1e-9)


@pytest.mark.slow  # PyNNDescent compiles its kernels in every process
def test_stale_index_is_rebuilt_and_garbage_index_rejected(files, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _, ref_path, _, frames = files
    other = Reference.build(rattled_frames("fcc", 3.615, 2, 0.06, 50), k=32, cutoff=5.0).save(tmp_path / "other.qref")
    reference = load_reference(other)
    first = load_or_build_index(reference, 5)
    assert first is not None and index_path(reference, 5).exists()
    # Rebuild the reference file with different content: the index is keyed by the new sha256.
    Reference.build(rattled_frames("fcc", 3.615, 2, 0.07, 60), k=32, cutoff=5.0).save(other)
    rebuilt = load_reference(other)
    assert not index_path(rebuilt, 5).exists()
    Y = descriptors(frames[:1])
    values = dh_against_reference(Y, rebuilt, approx=5)
    assert index_path(rebuilt, 5).exists()
    assert np.all(values >= dh_against_reference(Y, rebuilt) - 1e-9)
    # A kept file built for another reference or M is rebuilt, not used.
    index_path(reference, 5).replace(index_path(rebuilt, 5))
    stamp = index_path(rebuilt, 5).stat().st_mtime_ns
    dh_against_reference(Y, rebuilt, approx=5)
    assert index_path(rebuilt, 5).stat().st_mtime_ns != stamp
    # The CLI can keep the index elsewhere (read-only reference directories).
    elsewhere = tmp_path / "mine" / "my.pkl"
    elsewhere.parent.mkdir()
    test_file = tmp_path / "one.xyz"
    ase.io.write(test_file, frames[:1])
    result = CliRunner().invoke(main, ["dh", str(test_file), "-r", str(other), "--approx", "5",
                                       "--index-file", str(elsewhere), "--json"])
    assert result.exit_code == 0, result.output
    assert elsewhere.exists()
    # A damaged cache entry is rebuilt (never beside the reference: nothing is read there).
    index_path(rebuilt, 5).write_bytes(b"not a pickle")
    assert np.all(dh_against_reference(Y, rebuilt, approx=5) >= dh_against_reference(Y, rebuilt) - 1e-9)
    assert index_path(rebuilt, 5).read_bytes() != b"not a pickle"
    assert not list(tmp_path.glob("*.pkl"))
    with pytest.raises(ValueError, match="more neighbours than the reference has"):
        dh_against_reference(Y, rebuilt, approx=10**6)


def test_cli_writes_extxyz_and_lammps_dump(files, tmp_path):
    _, ref_path, test_path, frames = files
    reference = load_reference(ref_path)
    # From the file as written (extended XYZ keeps 8 decimals of the positions).
    from_file = read_dataset([test_path], k=32, cutoff=5.0)
    expected = dh_against_reference(from_file.descriptors, reference)
    runner = CliRunner()
    result = runner.invoke(main, ["dh", str(test_path), "-r", str(ref_path), "-o", str(tmp_path / "out.xyz"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["n"] == expected.size and summary["mpi_ranks"] == 1
    assert summary["max"] == pytest.approx(expected.max(), abs=1e-12)
    assert summary["fraction_positive"] == pytest.approx(np.mean(expected > 0))
    written = ase.io.read(tmp_path / "out.xyz", index=":")
    assert np.allclose(np.concatenate([f.arrays["dH"] for f in written]), expected, atol=1e-7)

    dump = tmp_path / "dh.lammpstrj"
    result = runner.invoke(main, ["dh", str(test_path), "-r", str(ref_path), "-o", str(dump)])
    assert result.exit_code == 0, result.output
    assert "fraction dH>0" in result.output
    back = ase.io.read(dump, index=":", format="lammps-dump-text")
    assert len(back) == len(frames)
    # The LAMMPS frame is a rotation of the input (triclinic cells): same dH, same volume, and
    # the same descriptors computed from the dumped positions.
    assert "xy xz yz" in dump.read_text().split("ITEM: ATOMS")[-2]
    for original, read in zip(from_file.frames, back):
        assert read.get_volume() == pytest.approx(original.get_volume(), rel=1e-6)
    dumped = np.concatenate([_dump_column(dump, "dH")])
    assert np.allclose(dumped, expected, atol=1e-7)
    assert np.allclose(descriptors(back), from_file.descriptors, atol=1e-6)


def _dump_column(path, name):
    values, columns, reading = [], None, 0
    for line in path.read_text().splitlines():
        if line.startswith("ITEM: ATOMS"):
            columns = line.split()[2:]
            reading = -1
        elif line.startswith("ITEM:"):
            reading = 0
        elif reading == -1:
            values.append(float(line.split()[columns.index(name)]))
    return np.array(values)


def test_corrupt_reference_rejected(files, tmp_path):
    _, ref_path, test_path, _ = files
    runner = CliRunner()
    truncated = tmp_path / "truncated.qref"
    truncated.write_bytes(ref_path.read_bytes()[:-100])
    result = runner.invoke(main, ["dh", str(test_path), "-r", str(truncated)])
    assert result.exit_code != 0
    assert "truncated.qref" in result.output and "truncated" in result.output.replace("truncated.qref", "")
    flipped = tmp_path / "flipped.qref"
    data = bytearray(ref_path.read_bytes())
    data[-8:] = np.float64(0.123).tobytes()
    flipped.write_bytes(bytes(data))
    result = runner.invoke(main, ["dh", str(test_path), "-r", str(flipped)])
    assert result.exit_code != 0 and "flipped.qref" in result.output and "sha256" in result.output
    result = runner.invoke(main, ["dh", str(test_path), "-r", str(test_path)])  # an xyz, not a reference
    assert result.exit_code != 0 and "test.xyz" in result.output
    result = runner.invoke(main, ["dh", str(test_path), "-r", str(tmp_path / "missing.qref")])
    assert result.exit_code != 0 and "missing.qref" in result.output and "no such file" in result.output
    assert "Traceback" not in result.output


def test_mismatched_reference_rejected(files, tmp_path):
    _, ref_path, test_path, frames = files
    reference = load_reference(ref_path)
    with pytest.raises(ValueError, match="descriptor width 31 does not match the reference's 63"):
        dh_against_reference(descriptors(frames, k=16), reference)
    with pytest.raises(ValueError, match="built with k = 32, but .*asks for k = 16"):
        reference.check(k=16)
    with pytest.raises(ValueError, match="cutoff = 5.0 Å, but .*asks for cutoff = 4.0 Å"):
        reference.check(cutoff=4.0)
    # The CLI computes test descriptors with the reference's own k and cutoff.
    small = Reference.build(frames[:1], k=8, cutoff=4.0).save(tmp_path / "k8.qref")
    result = CliRunner().invoke(main, ["dh", str(test_path), "-r", str(small), "--json"])
    assert result.exit_code == 0, result.output
    expected = delta_entropy(read_dataset([test_path], k=8, cutoff=4.0).descriptors,
                             np.asarray(load_reference(small).descriptors), 0.015)
    assert json.loads(result.output)["mean"] == pytest.approx(expected.mean(), abs=1e-12)
    result = CliRunner().invoke(main, ["dh", str(test_path), "-r", str(small), "-o", str(tmp_path / "no" / "x.xyz")])
    assert result.exit_code != 0 and "directory does not exist" in result.output


@pytest.mark.lammps
def test_lammps_dump_in_dump_out_keeps_types_and_timesteps(tmp_path):
    from crystal_md import run_cu_crystal

    dump, _, _, _ = run_cu_crystal(tmp_path, steps=40, every=20, cells=3)
    text = dump.read_text()
    reference = Reference.build(ase.io.read(dump, index="0", format="lammps-dump-text")).save(tmp_path / "r.qref")
    out = tmp_path / "dh.lammpstrj"
    result = CliRunner().invoke(main, ["dh", str(dump), "-r", str(reference), "--index", "1:", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = out.read_text()
    assert written.count("ITEM: TIMESTEP") == 2
    steps = [int(block.split("\n")[1]) for block in written.split("ITEM: TIMESTEP")[1:]]
    assert steps == [20, 40]
    assert "ITEM: TIMESTEP\n20\n" in text
    frames = ase.io.read(out, index=":", format="lammps-dump-text")
    assert all(np.all(frame.arrays["type"] == 1) for frame in frames)
