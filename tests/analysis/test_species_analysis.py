"""Offline commands with species-aware descriptors: entropy (per centre element), dh, overlap,
learning-curve, compress and clusters on rattled InP, against the core functions; dh and entropy
under mpirun -np 2 equal one process. (dh --approx per element: test_analysis_approx.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest

from cli_support import invoke
from cli_support import invoke_json as cli
from lammps_quests.core._descriptors import descriptors, species_labels
from lammps_quests.core._information import delta_entropy, entropy
from lammps_quests.formats._fast_index import build_fast_index, save_fast_index
from lammps_quests.formats._reference import Reference
from crystals import inp_frames

REPO = Path(__file__).resolve().parents[2]
MPIRUN = Path(sys.executable).parent / "mpirun"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("species_analysis")
    ase.io.write(directory / "train.xyz", inp_frames(12, 0))
    ase.io.write(directory / "test.xyz", inp_frames(2, 50, swap=True))
    Reference.build(inp_frames(12, 0), species="auto").save(directory / "inp.qref")
    reference = Reference.load(directory / "inp.qref")
    save_fast_index(build_fast_index(reference, cluster_size=64), reference)  # per-element index
    return directory


def test_entropy_per_centre_element(files):
    out = cli(files, "entropy", "train.xyz", "--species", "auto")["datasets"][0]
    frames = ase.io.read(files / "train.xyz", ":")
    X, labels = descriptors(frames, species=["In", "P"]), species_labels(frames, ["In", "P"])
    total = entropy(X, 0.015, labels=labels)
    per_species = [entropy(X[labels == s], 0.015) for s in range(2)]
    assert out["entropy"] == pytest.approx(total, abs=1e-9)
    assert [part["name"] for part in out["per_species"]] == ["In", "P"]
    assert [part["entropy"] for part in out["per_species"]] == pytest.approx(per_species, abs=1e-9)
    assert [part["n"] for part in out["per_species"]] == [384, 384]


def test_dh_follows_the_reference_species(files):
    out = cli(files, "dh", "test.xyz", "-r", "inp.qref", "-o", "dh.xyz")
    reference = Reference.load(files / "inp.qref")
    frames = ase.io.read(files / "test.xyz", ":")
    Y, labels = descriptors(frames, species=reference.species), species_labels(frames, reference.species)
    expected = delta_entropy(Y, reference.descriptors, 0.015, y_labels=labels, x_labels=reference.species_labels)
    written = np.concatenate([frame.arrays["dH"] for frame in ase.io.read(files / "dh.xyz", ":")])
    np.testing.assert_allclose(written, expected, rtol=0, atol=1e-7)  # extended XYZ keeps 8 decimals
    assert out["max"] == pytest.approx(expected.max(), abs=1e-9)
    assert set(out["per_species"]) == {"In", "P"}
    assert out["per_species"]["In"]["n"] == 64
    # the swapped atoms (0: P on an In site, 29: In on a P site, in both frames) stand out
    assert (expected[[0, 29, 64, 93]] > 0).all()


def test_overlap_learning_curve_compress_clusters(files):
    overlap = cli(files, "overlap", "train.xyz", "test.xyz", "--species", "auto")
    matrix = np.array(overlap["overlap"])
    assert matrix[0, 0] == 1.0 and matrix[1, 1] == 1.0 and matrix[1, 0] < 1.0
    curve = cli(files, "learning-curve", "train.xyz", "--species", "In,P", "--points", "10", "--repeats", "1")
    frames = ase.io.read(files / "train.xyz", ":")
    X, labels = descriptors(frames, species=["In", "P"]), species_labels(frames, ["In", "P"])
    assert curve["entropy_mean"][-1] == pytest.approx(entropy(X, 0.015, labels=labels), abs=1e-9)
    kept = cli(files, "compress", "train.xyz", "test.xyz", "--species", "auto", "--fraction", "0.3",
               "--method", "novelty", "-o", "kept.xyz")
    assert kept["n_selected"] == 4 and kept["entropy_full"] > 0
    clusters = cli(files, "clusters", "test.xyz", "-r", "inp.qref")
    assert all(frame["n_solid_like"] < 64 for frame in clusters["frames"])


@pytest.mark.slow
@pytest.mark.skipif(not MPIRUN.exists(), reason="the mpich wheel's mpirun is not installed")
@pytest.mark.parametrize("arguments", [["dh", "test.xyz", "-r", "inp.qref"],
                                       ["dh", "test.xyz", "-r", "inp.qref", "--fast", "--decide", "0"],
                                       ["entropy", "test.xyz", "--species", "auto"]], ids=["dh", "dh-fast", "entropy"])
def test_two_ranks_equal_one(files, arguments):
    # one rank: this process, on one thread as each of the two ranks (click's CliRunner)
    one = invoke(*arguments, "--json", cwd=files, threads_one=True)
    assert one.exit_code == 0, one.output
    runs = [json.loads(one.stdout)]
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    command = [str(MPIRUN), "-np", "2", sys.executable, "-m", "lammps_quests", *arguments, "--json"]
    result = subprocess.run(command, cwd=files, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    runs.append(json.loads(result.stdout))
    assert runs[0].pop("mpi_ranks") == 1 and runs[1].pop("mpi_ranks") == 2
    assert runs[0].keys() == runs[1].keys()
    assert _numbers(runs[1]) == pytest.approx(_numbers(runs[0]), rel=0, abs=1e-9)


def _numbers(document) -> list[float]:
    if isinstance(document, dict):
        return [x for key in sorted(document) for x in _numbers(document[key])]
    if isinstance(document, list):
        return [x for item in document for x in _numbers(item)]
    return [float(document)] if isinstance(document, (int, float)) and not isinstance(document, bool) else []
