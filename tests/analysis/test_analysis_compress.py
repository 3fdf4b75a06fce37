"""Compression: the chosen frames are written; entropy-aware methods avoid duplicate frames."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from click.testing import CliRunner

from lammps_quests.analysis import compress, select_frames
from lammps_quests.cli import main
from lammps_quests.core._descriptors import descriptors
from lammps_quests.core._information import entropy


def _dataset():
    """8 copies of one rattled FCC frame followed by 4 distinct frames (hot FCC, BCC)."""
    copy = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    copy.rattle(0.05, seed=0)
    frames = [copy.copy() for _ in range(8)]
    for i in range(2):
        hot = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
        hot.rattle(0.2, seed=10 + i)
        body = bulk("Cu", "bcc", a=2.87, cubic=True).repeat(3)
        body.rattle(0.05, seed=20 + i)
        frames += [hot, body]
    return frames


@pytest.mark.parametrize("method", ["fps", "novelty"])
def test_entropy_aware_methods_skip_duplicates(method):
    frames = _dataset()
    X = descriptors(frames)
    sizes = [len(f) for f in frames]
    chosen = select_frames(X, sizes, 5 / 12, method=method, seed=1)
    assert chosen.size == 5
    assert np.count_nonzero(chosen < 8) <= 1  # at most one of the 8 copies
    result = compress(X, sizes, 5 / 12, method=method, seed=1)
    rows = np.concatenate([np.arange(sum(sizes[:f]), sum(sizes[: f + 1])) for f in result.selected])
    assert result.entropy_subset == pytest.approx(entropy(X[rows]), abs=1e-12)
    assert result.entropy_full == pytest.approx(entropy(X), abs=1e-12)


def test_random_is_reproducible_and_sized():
    frames = _dataset()
    X = descriptors(frames)
    sizes = [len(f) for f in frames]
    first = select_frames(X, sizes, 0.5, method="random", seed=4)
    assert first.size == 6 and np.array_equal(first, np.unique(first))
    assert np.array_equal(first, select_frames(X, sizes, 0.5, method="random", seed=4))
    with pytest.raises(ValueError, match="fraction"):
        select_frames(X, sizes, 1.5)
    with pytest.raises(ValueError, match="unknown compression method"):
        select_frames(X, sizes, 0.5, method="magic")


def test_cli_writes_the_subset(tmp_path):
    frames = _dataset()
    path, out = tmp_path / "all.xyz", tmp_path / "subset.xyz"
    ase.io.write(path, frames)
    result = CliRunner().invoke(main, ["compress", str(path), "-f", "0.25", "--method", "novelty",
                                       "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["n_selected"] == 3 and report["n_frames"] == 12
    written = ase.io.read(out, index=":")
    assert len(written) == 3
    for frame, index in zip(written, report["selected"]):
        assert np.allclose(frame.positions, frames[index].positions)
    assert report["entropy_kept"] == pytest.approx(report["entropy_subset"] / report["entropy_full"])
    table = CliRunner().invoke(main, ["compress", str(path), "-f", "0.25", "--method", "novelty",
                                      "-o", str(tmp_path / "again.xyz")])
    assert f"kept H(subset)/H(full) = {report['entropy_kept']:.4f}" in table.output


@pytest.mark.parametrize("structure", ["one atom", "one-atom FCC cell"])
def test_one_environment_file_reports_no_ratio_instead_of_nan(tmp_path, structure):
    from ase import Atoms

    atoms = Atoms("Cu", positions=[[0.0, 0.0, 0.0]]) if structure == "one atom" else bulk("Cu", "fcc", a=3.615)
    path = tmp_path / "one.xyz"
    ase.io.write(path, atoms)
    table = CliRunner().invoke(main, ["compress", str(path), "-f", "0.5", "-o", str(tmp_path / "a.xyz")])
    assert table.exit_code == 0, table.output
    assert "nan" not in table.output.lower()
    assert "kept: not defined, the full set has zero entropy" in table.output
    report = json.loads(CliRunner().invoke(main, ["compress", str(path), "-f", "1", "-o", str(tmp_path / "b.xyz"),
                                                  "--json"]).output)
    assert report["n_environments_full"] == 1 and report["entropy_full"] == 0.0
    assert report["entropy_kept"] is None
