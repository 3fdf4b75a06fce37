"""Overlap matrix: a set overlaps itself fully, disjoint sets not at all; CSV and heatmap PNG."""

from __future__ import annotations

import json

import ase.io
import matplotlib.image
import numpy as np
import pytest
from click.testing import CliRunner

from lammps_quests.analysis import overlap_matrix
from lammps_quests.cli import main
from lammps_quests.core._descriptors import descriptors
from lammps_quests.core._information import overlap
from crystals import rattled_frames


@pytest.fixture(scope="module")
def phases(tmp_path_factory):
    directory = tmp_path_factory.mktemp("phases")
    sets = {
        "fcc.xyz": rattled_frames("fcc", 3.615, 3, 0.03, 0, 2),
        "bcc.xyz": rattled_frames("bcc", 2.87, 3, 0.03, 10, 3),
        "fcc_hot.xyz": rattled_frames("fcc", 3.615, 3, 0.15, 20, 2),
    }
    for name, frames in sets.items():
        ase.io.write(directory / name, frames)
    return directory, sets


def test_self_one_disjoint_zero(phases):
    _, sets = phases
    X = [descriptors(frames) for frames in sets.values()]
    matrix = overlap_matrix(X, 0.015)
    assert np.diag(matrix).tolist() == [1.0, 1.0, 1.0]
    # FCC and BCC environments are far apart (> 40 h): no overlap either way.
    assert matrix[0, 1] == 0.0 and matrix[1, 0] == 0.0
    for i in range(3):
        for j in range(3):
            assert matrix[i, j] == pytest.approx(overlap(X[i], X[j], 0.015), abs=0)


def test_cli_csv_png_json(phases, tmp_path):
    directory, sets = phases
    files = [str(directory / name) for name in sets]
    csv_path, png_path = tmp_path / "overlap.csv", tmp_path / "overlap.png"
    result = CliRunner().invoke(main, ["overlap", *files, "--csv", str(csv_path), "--png", str(png_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    matrix = np.array(data["overlap"])
    assert data["names"] == list(sets)
    assert np.diag(matrix).tolist() == [1.0, 1.0, 1.0]
    assert matrix[0, 1] == 0.0
    rows = [line.split(",") for line in csv_path.read_text().splitlines()]
    assert rows[0] == ["dataset", *sets]
    assert np.allclose([[float(v) for v in row[1:]] for row in rows[1:]], matrix, atol=1e-6)
    image = matplotlib.image.imread(png_path)
    assert image.shape[:2] == (480, 640)
    assert image[..., :3].std() > 0.05


def test_cli_needs_two_files(phases):
    directory, _ = phases
    result = CliRunner().invoke(main, ["overlap", str(directory / "fcc.xyz")])
    assert result.exit_code != 0 and "at least two files" in result.output


def test_different_widths_rejected():
    with pytest.raises(ValueError, match="different descriptor widths"):
        overlap_matrix([np.zeros((3, 63)), np.zeros((3, 31))])
