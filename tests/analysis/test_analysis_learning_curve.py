"""Learning curves: the Eq. 9 fit recovers known parameters; subsets, CSV and PNG outputs."""

from __future__ import annotations

import json

import ase.io
import matplotlib.image
import numpy as np
import pytest
from ase.build import bulk
from click.testing import CliRunner

from lammps_quests.analysis import entropy_curve, eq9, fit_eq9
from lammps_quests.cli import main
from lammps_quests.core._descriptors import descriptors
from lammps_quests.core._information import entropy

TRUE = (6.2, 5.1, 0.045)  # a, b (nats), c


def test_fit_recovers_synthetic_parameters():
    sizes = np.unique(np.geomspace(10, 100_000, 20).astype(int))
    fit = fit_eq9(sizes, eq9(sizes, *TRUE))
    assert (fit.a, fit.b, fit.c) == pytest.approx(TRUE, rel=1e-6)
    assert fit.n_points == sizes.size - 6
    assert fit.gap(eq9(sizes[-1], *TRUE)) == pytest.approx(TRUE[0] - eq9(sizes[-1], *TRUE), abs=1e-6)


def test_fit_with_noise_and_discarded_ends():
    rng = np.random.default_rng(1)
    sizes = np.unique(np.geomspace(10, 100_000, 24).astype(int))
    values = eq9(sizes, *TRUE) + rng.normal(0, 0.01, sizes.size)
    # The first and last three points are discarded, so garbage there changes nothing.
    spoiled = values.copy()
    spoiled[:3] = 50.0
    spoiled[-3:] = -50.0
    clean_fit, spoiled_fit = fit_eq9(sizes, values), fit_eq9(sizes, spoiled)
    assert (spoiled_fit.a, spoiled_fit.b, spoiled_fit.c) == pytest.approx((clean_fit.a, clean_fit.b, clean_fit.c))
    assert clean_fit.a == pytest.approx(TRUE[0], abs=0.05)
    assert clean_fit.b == pytest.approx(TRUE[1], abs=0.1)
    assert clean_fit.c == pytest.approx(TRUE[2], rel=0.05)


def test_fit_bounds_keep_parameters_non_negative():
    sizes = np.unique(np.geomspace(10, 10_000, 15).astype(int))
    decreasing = 3.0 + 0.3 * np.exp(-0.05 * np.log(sizes) ** 2)  # needs b < 0 to fit exactly
    fit = fit_eq9(sizes, decreasing)
    assert fit.a >= 0 and fit.b >= 0 and fit.c >= 0


def test_fit_needs_enough_points():
    with pytest.raises(ValueError, match="at least 3 points"):
        fit_eq9([10, 20, 30, 40, 50, 60, 70, 80], np.ones(8))


def _frames(n_frames):
    frames = []
    for i in range(n_frames):
        atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
        atoms.rattle(0.1, seed=i)
        frames.append(atoms)
    return frames


def test_entropy_curve_of_real_descriptors():
    X = descriptors(_frames(8))
    curve = entropy_curve(X, sizes=[5, 20, 100, len(X)], repeats=2, seed=3)
    assert curve.sizes.tolist() == [5, 20, 100, len(X)]
    assert curve.mean[-1] == pytest.approx(entropy(X), abs=1e-12)
    assert curve.std[-1] == pytest.approx(0.0, abs=1e-12)
    assert np.all(curve.mean <= np.log(curve.sizes) + 1e-12)
    again = entropy_curve(X, sizes=[5, 20, 100, len(X)], repeats=2, seed=3)
    assert np.array_equal(curve.mean, again.mean)  # --seed makes it reproducible


def test_cli_outputs(tmp_path):
    path = tmp_path / "train.xyz"
    ase.io.write(path, _frames(10))
    csv_path, png_path = tmp_path / "lc.csv", tmp_path / "lc.png"
    result = CliRunner().invoke(main, ["learning-curve", str(path), "--points", "12", "--repeats", "2",
                                       "--csv", str(csv_path), "--png", str(png_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["n_environments"] == 320 and data["sizes"][-1] == 320
    assert data["fit"]["n_points"] == len(data["sizes"]) - 6
    assert data["information_gap"] == pytest.approx(data["asymptote"] - data["entropy_mean"][-1])
    lines = csv_path.read_text().splitlines()
    assert lines[0] == "n_environments,entropy_mean,entropy_std,eq9_fit"
    assert len(lines) == len(data["sizes"]) + 1
    image = matplotlib.image.imread(png_path)
    assert image.shape[:2] == (480, 640)
    assert image[..., :3].std() > 0.05


def test_cli_too_few_environments(tmp_path):
    path = tmp_path / "tiny.xyz"
    ase.io.write(path, bulk("Cu", "fcc", a=3.615, cubic=True))  # 4 environments
    result = CliRunner().invoke(main, ["learning-curve", str(path)])
    assert result.exit_code != 0
    assert "tiny.xyz gives only 1 distinct subset sizes" in result.output and "needs 9" in result.output
