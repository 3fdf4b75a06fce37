"""Reading frames: ASE formats, LAMMPS dumps/data from a real LAMMPS run, slicing, errors."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import write

from crystal_md import run_cu_crystal
from crystals import thermal_cu_frames
from lammps_quests.formats._structures import guess_format, parse_index, read_frames


def _minimum_image(delta: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    return delta - lengths * np.round(delta / lengths)


@pytest.fixture(scope="module")
def cu_run(tmp_path_factory):
    """Dump (6 frames, steps 0..100) and data file from a real 100-step LAMMPS run of Cu."""
    return run_cu_crystal(tmp_path_factory.mktemp("cu_md"), steps=100, every=20)


@pytest.mark.parametrize(
    "text, expected",
    [(":", slice(None)), ("-1", -1), ("0", 0), ("::10", slice(None, None, 10)),
     ("100:", slice(100, None)), ("2:8:3", slice(2, 8, 3))],
)
def test_parse_index_accepts_ase_style_selections(text, expected):
    assert parse_index(text) == expected


@pytest.mark.parametrize("text", ["a", "1:2:3:4", "::0", "1.5"])
def test_parse_index_rejects_bad_text_with_examples(text):
    with pytest.raises(ValueError, match="frame index"):
        parse_index(text)


def test_extxyz_frames_slicing_and_provenance(tmp_path):
    frames = thermal_cu_frames(5)
    path = tmp_path / "cu.xyz"
    write(path, frames, format="extxyz")

    every, sources = read_frames(path)
    assert len(every) == 5
    for read, original in zip(every, frames):
        np.testing.assert_allclose(read.positions, original.positions, atol=1e-7)  # extxyz keeps 8 decimals
        np.testing.assert_allclose(read.cell[:], original.cell[:], atol=1e-7)  # extxyz keeps 8 decimals
    assert sources[0]["frames"] == {"start": 0, "stop": 5, "step": 1, "of": 5}
    assert sources[0]["n_atoms"] == 5 * 32 and sources[0]["n_frames"] == 5
    assert len(sources[0]["file_sha256"]) == 64

    picked, sources = read_frames(path, index="1::2")
    assert len(picked) == 2
    np.testing.assert_allclose(picked[0].positions, frames[1].positions, atol=1e-7)
    np.testing.assert_allclose(picked[1].positions, frames[3].positions, atol=1e-7)
    assert sources[0]["frames"] == {"start": 1, "stop": 5, "step": 2, "of": 5}

    last, sources = read_frames(path, index="-1")
    assert len(last) == 1
    np.testing.assert_allclose(last[0].positions, frames[-1].positions, atol=1e-7)  # extxyz keeps 8 decimals
    assert sources[0]["frames"]["start"] == 4


def test_several_files_keep_order_and_one_source_each(tmp_path):
    first, second = thermal_cu_frames(2, seed=1), thermal_cu_frames(3, seed=2)
    write(tmp_path / "a.xyz", first)
    write(tmp_path / "b.xyz", second)
    frames, sources = read_frames([tmp_path / "a.xyz", tmp_path / "b.xyz"])
    assert len(frames) == 5
    np.testing.assert_allclose(frames[2].positions, second[0].positions, atol=1e-7)  # extxyz keeps 8 decimals
    assert [s["n_frames"] for s in sources] == [2, 3]
    assert sources[1]["path"].endswith("b.xyz")


@pytest.mark.lammps
def test_lammps_dump_from_real_run_matches_lammps_positions(cu_run):
    dump, _, final_positions, lengths = cu_run
    assert guess_format(dump) == "lammps-dump-text"
    frames, sources = read_frames(dump)
    assert len(frames) == 6 and sources[0]["n_atoms"] == 6 * 108
    assert all(frame.pbc.all() for frame in frames)
    np.testing.assert_allclose(frames[-1].cell.lengths(), lengths, atol=1e-7)  # extxyz keeps 8 decimals
    delta = _minimum_image(frames[-1].positions - final_positions, lengths)
    assert np.abs(delta).max() < 1e-9
    # the first frame is the perfect lattice LAMMPS created (a = 3.615 Å)
    nearest = np.sort(frames[0].get_all_distances(mic=True)[0])[1]
    assert nearest == pytest.approx(3.615 / np.sqrt(2), abs=1e-9)


@pytest.mark.lammps
def test_lammps_data_file_is_detected_and_read(cu_run):
    _, data, final_positions, lengths = cu_run
    assert guess_format(data) == "lammps-data"
    frames, sources = read_frames(data)
    assert len(frames) == 1 and sources[0]["format"] == "lammps-data"
    delta = _minimum_image(frames[0].positions - final_positions, lengths)
    assert np.abs(delta).max() < 1e-9


def test_missing_empty_and_garbage_files_name_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"nothere\.xyz: no such file"):
        read_frames(tmp_path / "nothere.xyz")
    empty = tmp_path / "empty.xyz"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"empty\.xyz: the file is empty"):
        read_frames(empty)
    garbage = tmp_path / "garbage.xyz"
    garbage.write_text("3\nnot a comment line\nCu 0 0 x\n")
    with pytest.raises(ValueError, match=r"garbage\.xyz: cannot read"):
        read_frames(garbage)
    with pytest.raises(ValueError, match=r"garbage\.xyz: cannot read as lammps-dump-text"):
        read_frames(garbage, format="lammps-dump-text")
    with pytest.raises(ValueError, match="no input files"):
        read_frames([])


def test_selection_outside_the_file_names_the_file(tmp_path):
    path = tmp_path / "two.xyz"
    write(path, thermal_cu_frames(2))
    with pytest.raises(ValueError, match=r"two\.xyz: frame index 5 is out of range, the file has 2"):
        read_frames(path, index="5")
    with pytest.raises(ValueError, match=r"two\.xyz: frame index selects no frames \(the file has 2\)"):
        read_frames(path, index="10:")


def test_nan_positions_and_zero_cell_are_refused(tmp_path):
    atoms = thermal_cu_frames(1)[0]
    atoms.positions[3] = np.nan
    path = tmp_path / "nan.xyz"
    write(path, atoms)
    with pytest.raises(ValueError, match=r"nan\.xyz: frame 0 has NaN"):
        read_frames(path)
    flat = thermal_cu_frames(1)[0]
    flat.cell[2] = [0.0, 0.0, 0.0]
    path = tmp_path / "flat.xyz"
    write(path, flat)
    with pytest.raises(ValueError, match=r"flat\.xyz: frame 0 is periodic along axis 2"):
        read_frames(path)


@pytest.mark.parametrize("name, fmt", [("POSCAR", "vasp"), ("cu.traj", "traj"), ("cu.cif", "cif")])
def test_other_ase_formats_are_detected(tmp_path, name, fmt):
    atoms = thermal_cu_frames(1)[0]
    write(tmp_path / name, atoms, format=fmt)
    frames, sources = read_frames(tmp_path / name)
    assert len(frames) == 1 and sources[0]["format"] == fmt
    np.testing.assert_allclose(frames[0].get_all_distances(mic=True), atoms.get_all_distances(mic=True),
                               atol=1e-5)
