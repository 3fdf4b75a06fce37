"""dh: exact dH, written frames, and clear rejection of corrupt or mismatched references (the
approximate dH of ``--approx`` and its neighbour index: test_analysis_approx.py)."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from click.testing import CliRunner

from lammps_quests.analysis import dh_against_reference, load_reference, read_dataset
from lammps_quests.cli import main
from lammps_quests.core._descriptors import descriptors
from lammps_quests.core._information import delta_entropy
from lammps_quests.formats._reference import Reference
from crystals import dh_test_frames, rattled_frames


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A reference of rattled FCC and a test file mixing close and far environments."""
    directory = tmp_path_factory.mktemp("dh")
    reference = Reference.build(rattled_frames("fcc", 3.615, 6, 0.05, 0), k=32, cutoff=5.0)
    ref_path = reference.save(directory / "fcc.qref")
    test_frames = dh_test_frames()  # close and far environments, and a triclinic frame
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


def test_dump_out_keeps_the_input_columns(files, tmp_path):
    """dh -o of a dump writes the input's other per-atom columns (f_q, i_flag) beside dH."""
    from lammps_quests.formats._lammps_dump import write_lammps_dump

    _, ref_path, _, frames = files
    frames = [frame.copy() for frame in frames[:2]]
    columns = {"f_q": [np.linspace(-3.0, 2.0, len(f)) + i for i, f in enumerate(frames)],
               "i_flag": [np.arange(len(f)) % 3 for f in frames]}
    write_lammps_dump(tmp_path / "in.lammpstrj", frames, columns)
    for name in ("out.lammpstrj", "out.xyz"):
        result = CliRunner().invoke(main, ["dh", str(tmp_path / "in.lammpstrj"), "-r", str(ref_path),
                                           "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        written = ase.io.read(tmp_path / name, ":")
        for number, frame in enumerate(written):
            np.testing.assert_allclose(frame.arrays["f_q"], columns["f_q"][number], atol=1e-8)
            np.testing.assert_array_equal(frame.arrays["i_flag"], columns["i_flag"][number])
            assert name.endswith(".lammpstrj") or "dH" in frame.arrays
    assert "ITEM: ATOMS id type x y z f_q i_flag dH\n" in (tmp_path / "out.lammpstrj").read_text()


def test_tol_without_fast_is_an_error(files):
    _, ref_path, test_path, _ = files
    result = CliRunner().invoke(main, ["dh", str(test_path), "-r", str(ref_path), "--tol", "0.5"])
    assert result.exit_code == 2 and "--tol needs --fast" in result.output
