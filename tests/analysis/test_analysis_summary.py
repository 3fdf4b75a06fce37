"""Entropy table: copies have H = 0 and D = 0; agreement with the core's entropy/diversity."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from click.testing import CliRunner

from crystals import rattled_frames
from lammps_quests.analysis import entropy_summary
from lammps_quests.cli import main
from lammps_quests.core._descriptors import descriptors
from lammps_quests.core._information import diversity, entropy


def test_copies_have_zero_entropy_and_diversity():
    X = np.repeat(descriptors(rattled_frames("fcc", 3.615, 1, 0.05, 0))[:1], 50, axis=0)
    summary = entropy_summary(X, 0.015)
    assert summary.n == 50
    assert summary.entropy == pytest.approx(0.0, abs=1e-12)
    assert summary.diversity == pytest.approx(0.0, abs=1e-12)
    assert summary.log_n == pytest.approx(np.log(50))
    assert summary.efficiency == pytest.approx(0.0, abs=1e-12)


def test_far_apart_points_reach_log_n():
    X = np.arange(20)[:, None] * np.ones((1, 5))  # 20 points 2.2 Å^-1 apart, h = 0.015
    summary = entropy_summary(X, 0.015)
    assert summary.entropy == pytest.approx(np.log(20), abs=1e-12)
    assert summary.diversity == pytest.approx(np.log(20), abs=1e-12)
    assert summary.efficiency == pytest.approx(1.0)


def test_matches_core_entropy_and_diversity():
    X = descriptors(rattled_frames("fcc", 3.615, 3, 0.04, 0))
    summary = entropy_summary(X, 0.02)
    assert summary.entropy == pytest.approx(entropy(X, 0.02), abs=1e-10)
    assert summary.diversity == pytest.approx(diversity(X, 0.02), abs=1e-10)
    assert 0.0 < summary.entropy < summary.log_n


def test_cli_table_and_json_for_a_file_of_copies(tmp_path):
    # A one-atom FCC cell repeated: every environment is the same.
    path = tmp_path / "copies.xyz"
    ase.io.write(path, [bulk("Cu", "fcc", a=3.615)] * 4)
    rattled = tmp_path / "rattled.xyz"
    ase.io.write(rattled, rattled_frames("fcc", 3.615, 2, 0.05, 0))
    runner = CliRunner()
    result = runner.invoke(main, ["entropy", str(path), str(rattled), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["mpi_ranks"] == 1
    copies, other = data["datasets"]
    assert copies["n"] == 4 and copies["name"] == "copies.xyz"
    assert copies["entropy"] == pytest.approx(0.0, abs=1e-12)
    assert copies["diversity"] == pytest.approx(0.0, abs=1e-12)
    assert other["n"] == 64 and other["entropy"] > 0
    table = runner.invoke(main, ["entropy", str(path), str(rattled), "--together"])
    assert table.exit_code == 0, table.output
    lines = table.output.strip().splitlines()
    assert lines[0].split()[:2] == ["dataset", "n"] and len(lines) == 2
    assert lines[1].split()[:2] == ["copies.xyz+rattled.xyz", "68"]


def test_cli_missing_file_names_it(tmp_path):
    result = CliRunner().invoke(main, ["entropy", str(tmp_path / "nope.xyz")])
    assert result.exit_code != 0
    assert "nope.xyz" in result.output and "no such file" in result.output
