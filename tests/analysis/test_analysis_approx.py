"""dh --approx M: the approximate dH from PyNNDescent's M nearest reference environments (an upper
bound), its neighbour index kept in the user's private cache (never beside the reference),
reused, rebuilt when stale or damaged, and built per element for a species-aware reference.

Every test that builds a PyNNDescent index is in this module: PyNNDescent compiles its kernels
(~25 s, not cached by numba) in each process that builds one, and under pytest-xdist one worker
runs this whole module (tests/conftest.py), so it compiles them once.
"""

from __future__ import annotations

import stat
from pathlib import Path

import ase.io
import numpy as np
import pytest
from click.testing import CliRunner

from lammps_quests.analysis import dh_against_reference, index_path, load_or_build_index, load_reference
from lammps_quests.cli import main
from lammps_quests.core._descriptors import descriptors, species_labels
from lammps_quests.core._information import delta_entropy
from lammps_quests.formats._fast_index import build_fast_index, save_fast_index
from lammps_quests.formats._reference import Reference
from cli_support import invoke_json as cli
from crystals import dh_test_frames, inp_frames, rattled_frames, saved_cu_reference

pytestmark = pytest.mark.slow  # PyNNDescent compiles its kernels in every process


@pytest.fixture(scope="module")
def cu(tmp_path_factory):
    """A small Cu reference (2x2x2 cubic cells, 3 rattled frames) saved alone in its directory."""
    return saved_cu_reference(tmp_path_factory.mktemp("approx_ref"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The reference of rattled FCC of test_analysis_dh.py and its test frames (close and far
    environments, and a triclinic frame)."""
    directory = tmp_path_factory.mktemp("dh_approx")
    reference = Reference.build(rattled_frames("fcc", 3.615, 6, 0.05, 0), k=32, cutoff=5.0)
    ref_path = reference.save(directory / "fcc.qref")
    return directory, ref_path, dh_test_frames()


@pytest.fixture(scope="module")
def inp_files(tmp_path_factory):
    """The species-aware InP reference of test_species_analysis.py (with its fast index) and its
    test file: two frames with an antisite pair (atoms 0 and 29)."""
    directory = tmp_path_factory.mktemp("species_approx")
    ase.io.write(directory / "test.xyz", inp_frames(2, 50, swap=True))
    Reference.build(inp_frames(12, 0), species="auto").save(directory / "inp.qref")
    reference = Reference.load(directory / "inp.qref")
    save_fast_index(build_fast_index(reference, cluster_size=64), reference)  # per-element index
    return directory


def test_approx_index_lives_in_the_private_cache(cu, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    index = load_or_build_index(cu, 5)
    stored = index_path(cu, 5)
    assert index is not None and stored.exists()
    assert stored.parent == tmp_path / "cache" / "lammps-quests"
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert cu.sha256 in stored.name
    assert not list(Path(cu.path).parent.glob("*.pkl"))
    # a planted pickle beside the reference is never read; an explicit path there is refused
    with pytest.raises(ValueError, match="beside the reference"):
        load_or_build_index(cu, 5, path=Path(cu.path).with_name("cu.qref.nnd-5.pkl"))
    # a cache entry that others can write is not loaded (rebuilt instead)
    stored.chmod(0o666)
    with pytest.warns(UserWarning, match="can be written by other users"):
        load_or_build_index(cu, 5)


def test_approximate_is_an_upper_bound_and_index_is_stored(files, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    directory, ref_path, frames = files
    reference = load_reference(ref_path)
    Y = descriptors(frames)
    exact = dh_against_reference(Y, reference)
    stored = index_path(reference, 8)
    if stored.exists():
        stored.unlink()
    approx = dh_against_reference(Y, reference, approx=8)
    assert stored.exists()
    # Dropping terms of the kernel sum can only raise dH. The 1e-9 nats allow the rounding of
    # the core's blocked sums (measured below 1e-13 against a direct float64 sum).
    assert np.all(approx >= exact - 1e-9)
    assert np.any(approx > exact + 1e-6)  # and it is an approximation, not the exact sum
    # Environments dominated by their nearest reference points agree closely.
    assert np.median(approx - exact) < 0.5
    # The stored index is reused as it is (not rebuilt).
    stamp = stored.stat().st_mtime_ns
    again = dh_against_reference(Y, reference, approx=8)
    assert stored.stat().st_mtime_ns == stamp
    assert np.array_equal(again, approx)
    # With M = all reference environments the sum is complete: approx = exact.
    everything = dh_against_reference(Y[:40], reference, approx=reference.n_environments)
    assert np.allclose(everything, exact[:40], atol=1e-9)


def test_stale_index_is_rebuilt_and_garbage_index_rejected(files, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _, ref_path, frames = files
    other = Reference.build(rattled_frames("fcc", 3.615, 2, 0.06, 50), k=32, cutoff=5.0).save(tmp_path / "other.qref")
    reference = load_reference(other)
    first = load_or_build_index(reference, 5)
    assert first is not None and index_path(reference, 5).exists()
    # Rebuild the reference file with different content: the index is keyed by the new sha256.
    Reference.build(rattled_frames("fcc", 3.615, 2, 0.07, 60), k=32, cutoff=5.0).save(other)
    rebuilt = load_reference(other)
    assert not index_path(rebuilt, 5).exists()
    Y = descriptors(frames[:1])
    values = dh_against_reference(Y, rebuilt, approx=5)
    assert index_path(rebuilt, 5).exists()
    assert np.all(values >= dh_against_reference(Y, rebuilt) - 1e-9)
    # A kept file built for another reference or M is rebuilt, not used.
    index_path(reference, 5).replace(index_path(rebuilt, 5))
    stamp = index_path(rebuilt, 5).stat().st_mtime_ns
    dh_against_reference(Y, rebuilt, approx=5)
    assert index_path(rebuilt, 5).stat().st_mtime_ns != stamp
    # The CLI can keep the index elsewhere (read-only reference directories).
    elsewhere = tmp_path / "mine" / "my.pkl"
    elsewhere.parent.mkdir()
    test_file = tmp_path / "one.xyz"
    ase.io.write(test_file, frames[:1])
    result = CliRunner().invoke(main, ["dh", str(test_file), "-r", str(other), "--approx", "5",
                                       "--index-file", str(elsewhere), "--json"])
    assert result.exit_code == 0, result.output
    assert elsewhere.exists()
    # A damaged cache entry is rebuilt (never beside the reference: nothing is read there).
    index_path(rebuilt, 5).write_bytes(b"not a pickle")
    assert np.all(dh_against_reference(Y, rebuilt, approx=5) >= dh_against_reference(Y, rebuilt) - 1e-9)
    assert index_path(rebuilt, 5).read_bytes() != b"not a pickle"
    assert not list(tmp_path.glob("*.pkl"))
    with pytest.raises(ValueError, match="more neighbours than the reference has"):
        dh_against_reference(Y, rebuilt, approx=10**6)


def test_approx_per_element_bounds_the_species_aware_dh(inp_files, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the index: not in the user's cache
    out = cli(inp_files, "dh", "test.xyz", "-r", "inp.qref")
    reference = Reference.load(inp_files / "inp.qref")
    frames = ase.io.read(inp_files / "test.xyz", ":")
    Y, labels = descriptors(frames, species=reference.species), species_labels(frames, reference.species)
    expected = delta_entropy(Y, reference.descriptors, 0.015, y_labels=labels, x_labels=reference.species_labels)
    # --approx M works per element: M neighbours among the rows centred on the atom's element,
    # so an upper bound of the species-aware dH that still flags the antisites
    approx = cli(inp_files, "dh", "test.xyz", "-r", "inp.qref", "--approx", "5", "-o", "approx.xyz")
    bound = np.concatenate([frame.arrays["dH"] for frame in ase.io.read(inp_files / "approx.xyz", ":")])
    assert (bound >= expected - 1e-7).all() and approx["max"] >= out["max"] - 1e-9
    assert (bound[[0, 29, 64, 93]] > 0).all()
    runner = CliRunner()
    result = runner.invoke(main, ["dh", str(inp_files / "test.xyz"), "-r", str(inp_files / "inp.qref"),
                                  "--approx", "385"])
    assert result.exit_code != 0 and "environments centred on In (384)" in result.output


