"""Leave-one-out dH of a reference (threshold guidance): exact against the definition, with
duplicates and isolated rows; cached in the header by `reference build`, printed by `info`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lammps_quests.core._threshold import HEADER_KEY, self_information
from lammps_quests.core._descriptors import descriptors
from lammps_quests.core._information import delta_entropy, entropy
from lammps_quests.core._leave_one_out import leave_one_out_log_sums
from crystals import rattled_frames

H = 0.015


@pytest.fixture(scope="module")
def X():
    rows = descriptors(rattled_frames("fcc", 3.615, 3, 0.05, seed=11))
    # isolated rows: one atom each of three compressed crystals
    far = np.vstack([descriptors(rattled_frames("fcc", a, 1, 0.05, seed=1))[:1] for a in (3.2, 3.3, 3.4)])
    return np.vstack([rows, rows[:5], far])  # rows[:5] twice: duplicates


def test_leave_one_out_equals_dh_against_the_rest(X):
    _, without = leave_one_out_log_sums(X, H)
    direct = np.array([delta_entropy(X[i:i + 1], np.delete(X, i, axis=0), H)[0] for i in range(len(X))])
    np.testing.assert_allclose(-without, direct, rtol=0, atol=1e-9)
    assert (-without[-3:] > 14).all()  # the isolated rows took the subtraction-free path
    # a duplicated row keeps its twin: K = 1, so dH <= 0
    assert (-without[:5] <= 0).all() and (-without[len(X) - 8:len(X) - 3] <= 0).all()


def test_summary_full_and_sampled(X):
    full = self_information(X, H)
    assert not full["sampled"] and full["rows"] == len(X) and full["distinct"] == len(X) - 5
    assert full["entropy"] == pytest.approx(entropy(X, H), abs=1e-10)
    loo = -leave_one_out_log_sums(X, H)[1]
    assert full["fraction_above"]["0"] == np.mean(loo > 0) and full["max"] == loo.max()
    sample = self_information(X, H, max_rows=50, sample_rows=40)
    assert sample["sampled"] and sample["rows"] == 40 and sample["entropy"] is None
    assert sample == self_information(X, H, max_rows=50, sample_rows=40)  # deterministic


def test_build_caches_it_and_info_prints_it(tmp_path):
    import ase.io

    from lammps_quests.formats._reference import Reference

    ase.io.write(tmp_path / "train.xyz", rattled_frames("fcc", 3.615, 2, 0.05, seed=4))
    cli = str(Path(sys.executable).parent / "lammps-quests")
    built = subprocess.run([cli, "reference", "build", "r.qref", "train.xyz"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    ref = Reference.load(tmp_path / "r.qref")
    cached = ref.extra[HEADER_KEY]
    assert cached == self_information(ref.descriptors, ref.bandwidth)
    shown = subprocess.run([cli, "reference", "info", "r.qref"], cwd=tmp_path, capture_output=True, text=True)
    assert "leave-one-out dH" in shown.stdout and "computed now" not in shown.stdout
    assert f"fraction above > 0: {cached['fraction_above']['0']:.2%}" in shown.stdout
