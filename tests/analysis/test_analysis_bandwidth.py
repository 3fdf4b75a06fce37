"""Volume-dependent bandwidth h(V) (paper SI A.11.2)."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from click.testing import CliRunner

from lammps_quests.analysis import bandwidth_for_volume
from lammps_quests.cli import main


def test_formula_values():
    # At V = 0 the Gaussian is 1; at V = 10.896 Å^3/atom it is exp(-1/2); far away only the floor.
    assert bandwidth_for_volume(1e-9) == pytest.approx(0.0897141 + 0.0119417)
    assert bandwidth_for_volume(10.896) == pytest.approx(0.0897141 * np.exp(-0.5) + 0.0119417)
    assert bandwidth_for_volume(1000.0) == pytest.approx(0.0119417)
    values = bandwidth_for_volume(np.array([5.0, 10.0, 20.0]))
    assert np.all(np.diff(values) < 0)  # denser -> wider kernel
    for bad in (0.0, -3.0, float("nan")):
        with pytest.raises(ValueError, match="volume per atom"):
            bandwidth_for_volume(bad)


def test_cli_volume_and_structure(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["bandwidth", "--volume", "11.81", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["bandwidth"] == pytest.approx(bandwidth_for_volume(11.81))
    path = tmp_path / "cu.xyz"
    ase.io.write(path, bulk("Cu", "fcc", a=3.615, cubic=True))
    result = runner.invoke(main, ["bandwidth", "--structure", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["volume_per_atom"] == pytest.approx(3.615**3 / 4)
    assert data["bandwidth"] == pytest.approx(bandwidth_for_volume(3.615**3 / 4))
    neither = runner.invoke(main, ["bandwidth"])
    assert neither.exit_code != 0 and "exactly one of" in neither.output
    negative = runner.invoke(main, ["bandwidth", "--volume", "-1"])
    assert negative.exit_code != 0 and "> 0" in negative.output
