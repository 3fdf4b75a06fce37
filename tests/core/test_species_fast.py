"""The fast dH of species-aware references: one cluster index per centre element, its two
guarantees (within tol of the exact species-aware dH; no decision dH > t missed), its .qidx file
(format version 2) with stale and wrong-kind detection, and ReferenceDh / CLI use."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from ase.io import read, write
from cli_support import invoke
from crystals import thermal_inp

from lammps_quests.dh._reference_dh import ReferenceDh
from lammps_quests.core._cluster_index import build_cluster_index
from lammps_quests.core._information import delta_entropy, delta_entropy_fast
from lammps_quests.core._species_index import SpeciesClusterIndex, build_species_cluster_index
from lammps_quests.formats._fast_index import build_fast_index, fast_index_path, load_fast_index, save_fast_index
from lammps_quests.errors import FastIndexError
from lammps_quests.formats._reference import Reference

H = 0.015
ROUNDING = 1e-9  # nats: the exact kernel's own rounding
K = 4
WIDTH = 3 * (2 * K - 1)  # two species: (S + 1)(2k - 1)
SPECIES = ("In", "P")


def brute_force_dh(Y, y_labels, X, x_labels, h=H):
    """-log sum over same-species rows of exp(-|y - x|^2 / (2 h^2)), by plain numpy."""
    out = np.empty(len(Y))
    for i, (y, s) in enumerate(zip(Y, y_labels)):
        z = ((X[x_labels == s] - y) ** 2).sum(axis=1) / (2 * h * h)
        out[i] = z.min() - np.log(np.exp(-(z - z.min())).sum())
    return out


@pytest.fixture(scope="module")
def two_species():
    """Species-aware descriptor-like rows: each element its own blobs, plus one blob where an
    In query lies right on P rows (only the per-element sum keeps it novel)."""
    rng = np.random.default_rng(3)
    centres = rng.uniform(0.05, 0.4, (5, WIDTH))
    blobs = [np.abs(centres[c] + rng.normal(0, s, (n, WIDTH)))
             for c, n, s in [(0, 600, 0.003), (1, 400, 0.01), (2, 300, 0.002), (3, 500, 0.02), (4, 200, 0.004)]]
    X = np.concatenate(blobs)
    labels = np.repeat([0, 0, 1, 1, 0], [600, 400, 300, 500, 200])
    ref = Reference.from_descriptors(X, k=K, cutoff=5.0, bandwidth=H, elements=SPECIES, species_labels=labels)
    X, labels = np.asarray(ref.descriptors), ref.species_labels  # rows now grouped by species
    near, on = rng.choice(len(X), 120), rng.choice(len(X), 30)
    Y = np.concatenate([
        X[near] + rng.normal(0, 0.002, (120, WIDTH)),
        X[on],
        np.abs(centres[2] + rng.normal(0, 0.002, (30, WIDTH))),  # on P rows, centred on In
        centres[1][None, :] + 1.0,  # far from everything
    ])
    y_labels = np.concatenate([labels[near], labels[on], np.zeros(30, int), [1]])
    return ref, Y, y_labels


def test_per_element_index_matches_per_element_build(two_species):
    ref, _, _ = two_species
    index = build_fast_index(ref, cluster_size=32)
    assert isinstance(index, SpeciesClusterIndex) and index.n_species == 2
    assert list(index.row_offsets) == [0, 1200, 2000]
    alone = build_cluster_index(ref.descriptors[1200:], cluster_size=32)
    for name, array in alone.arrays().items():
        np.testing.assert_array_equal(getattr(index.parts[1], name), array)


@pytest.mark.parametrize("tol", [1e-6, 1e-3, 0.3])
def test_species_fast_within_tolerance(two_species, tol):
    ref, Y, y_labels = two_species
    index = build_fast_index(ref, cluster_size=32)
    exact = delta_entropy(Y, ref.descriptors, H, y_labels=y_labels, x_labels=ref.species_labels)
    np.testing.assert_allclose(exact, brute_force_dh(Y, y_labels, np.asarray(ref.descriptors), ref.species_labels),
                               rtol=1e-9, atol=1e-9)
    stats = {}
    fast = delta_entropy_fast(Y, index, H, fast=tol, labels=y_labels, stats=stats)
    excess = fast - exact
    assert excess.min() >= -ROUNDING and excess.max() <= tol + ROUNDING
    assert stats["rows"] == len(Y) and stats["reference"] == ref.n_environments
    # The In queries sitting on P rows stay novel: they are compared with In rows only.
    assert (fast[150:180] > 50).all()


def test_species_fast_decisions_certified(two_species):
    ref, Y, y_labels = two_species
    index = build_fast_index(ref, cluster_size=32)
    exact = delta_entropy(Y, ref.descriptors, H, y_labels=y_labels, x_labels=ref.species_labels)
    thresholds = [0.0, float(np.median(exact)), 5.0]
    tol = 1e-3
    values = delta_entropy_fast(Y, index, H, fast=tol, thresholds=thresholds, labels=y_labels)
    assert (values >= exact - ROUNDING).all()  # upper bounds
    for t in thresholds:
        assert not np.any((exact > t) & (values <= t))  # no atom above t reported at or below it
        assert not np.any((values > t) & (exact <= t - tol - ROUNDING))
    flagged = values > min(thresholds)  # the rule: above t0 within tol, at or below an upper bound
    assert flagged.any() and (~flagged).any()
    assert (values[flagged] - exact[flagged]).max() <= tol + ROUNDING
    assert (exact[~flagged] <= min(thresholds)).all()


def test_element_without_reference_rows_is_named(two_species):
    ref, Y, y_labels = two_species
    only_in = np.flatnonzero(ref.species_labels == 0)
    X = np.asarray(ref.descriptors)[only_in]
    index = build_species_cluster_index(X, np.zeros(len(X), int), 2, cluster_size=32)
    assert index.parts[1] is None
    with pytest.raises(ValueError, match="no environments centred on P.*add structures with P"):
        delta_entropy_fast(Y, index, H, labels=y_labels, elements=SPECIES)
    with pytest.raises(ValueError, match="centre species of every row"):
        delta_entropy_fast(Y, index, H)
    # only In queries: fine, and equal to the index of In alone
    In = y_labels == 0
    np.testing.assert_array_equal(delta_entropy_fast(Y[In], index, H, labels=y_labels[In]),
                                  delta_entropy_fast(Y[In], index.parts[0], H))


def test_index_file_round_trip_stale_and_old_kind(two_species, tmp_path):
    ref, Y, y_labels = two_species
    ref.save(tmp_path / "ref.qref")
    ref = Reference.load(tmp_path / "ref.qref", mmap=True)
    with pytest.raises(FastIndexError, match="does not exist"):
        ReferenceDh(ref, fast=1e-6)
    built = build_fast_index(ref, cluster_size=32)
    path = save_fast_index(built, ref, cluster_size=32)
    assert path == fast_index_path(ref.path)
    assert int.from_bytes(path.read_bytes()[8:12], "little") == 2
    loaded = load_fast_index(ref)
    assert isinstance(loaded, SpeciesClusterIndex)
    np.testing.assert_array_equal(loaded.row_offsets, built.row_offsets)
    for s in range(2):
        for name, array in built.parts[s].arrays().items():
            np.testing.assert_array_equal(getattr(loaded.parts[s], name), array)
    # ReferenceDh reads it and gives what delta_entropy_fast gives
    fast = ReferenceDh(ref, fast=1e-6)(Y, y_labels)
    np.testing.assert_array_equal(fast, delta_entropy_fast(Y, built, H, fast=1e-6, labels=y_labels))
    decided = ReferenceDh(ref, fast=1e-6, decide=True, thresholds=[0.0])(Y, y_labels)
    exact = ReferenceDh(ref)(Y, y_labels)
    assert not np.any((exact > 0) & (decided <= 0)) and (decided >= exact - ROUNDING).all()
    # A reference rebuilt with other rows: the index is stale
    X = np.asarray(ref.descriptors).copy()
    X[0] += 0.001
    Reference.from_descriptors(X, k=K, cutoff=5.0, bandwidth=H, elements=SPECIES,
                               species_labels=ref.species_labels).save(tmp_path / "ref.qref")
    rebuilt = Reference.load(tmp_path / "ref.qref", mmap=True)
    with pytest.raises(FastIndexError, match="stale"):
        load_fast_index(rebuilt)
    # An index over all elements of a species-aware reference (format version 1) is refused with the fix
    mixed = build_cluster_index(rebuilt.descriptors, cluster_size=32)
    with pytest.raises(ValueError, match="species-aware reference needs a per-element index"):
        save_fast_index(mixed, rebuilt)
    _write_v1(mixed, rebuilt, path)
    with pytest.raises(FastIndexError, match="mixes the elements.*reference index"):
        load_fast_index(rebuilt)


def _write_v1(index, reference, path):
    """A version-1 file (one index over all elements) for a species-aware reference."""
    import lammps_quests.formats._fast_index as fi

    class Agnostic:
        species_aware = False
        sha256 = reference.sha256
        n_environments = reference.n_environments
        width = reference.width

    fi.save_fast_index(index, Agnostic(), path)


def test_agnostic_index_file_unchanged(tmp_path):
    """Species-agnostic references keep format version 1."""
    rng = np.random.default_rng(0)
    ref = Reference.from_descriptors(np.abs(rng.normal(0.1, 0.01, (200, 2 * K - 1))), k=K, cutoff=5.0)
    ref.save(tmp_path / "a.qref")
    ref = Reference.load(tmp_path / "a.qref")
    path = save_fast_index(build_fast_index(ref, cluster_size=20), ref)
    assert int.from_bytes(path.read_bytes()[8:12], "little") == 1
    header = path.read_bytes()[16:400].decode("utf-8", "replace")
    assert '"arrays"' in header and '"parts"' not in header
    index = load_fast_index(ref)
    Y = np.asarray(ref.descriptors[::5]) + 0.001
    np.testing.assert_array_equal(ReferenceDh(ref, fast=1e-6)(Y), delta_entropy_fast(Y, index, H, fast=1e-6))


# ------------------------------------------------------------------ CLI on InP
def cli(*args, cwd):
    """The command in its own process (``python -m lammps_quests``): exit code and stderr as a shell sees them."""
    return subprocess.run([sys.executable, "-m", "lammps_quests", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


def test_cli_reference_index_and_dh_fast_species(tmp_path):
    write(tmp_path / "train.xyz", [thermal_inp(s, 0.05, repeat=2) for s in range(3)])
    test = [thermal_inp(10, 0.1, repeat=2)]
    swapped = thermal_inp(11, 0.05, repeat=2)
    symbols = swapped.get_chemical_symbols()
    symbols[0], symbols[1] = symbols[1], symbols[0]  # an antisite pair
    swapped.set_chemical_symbols(symbols)
    write(tmp_path / "test.xyz", test + [swapped])
    # the build in its own process, as a shell runs it; the dh commands in this one
    done = cli("reference", "build", "ref.qref", "train.xyz", "--elements", "auto", "--fast-index", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ref.qref.qidx").exists()
    runs = {}
    for name, extra in [("exact", []), ("fast", ["--fast", "1e-6"]), ("decide", ["--fast", "1e-6", "--decide"])]:
        run = invoke("dh", "test.xyz", "-r", "ref.qref", "--json", "-o", f"{name}.xyz", *extra, cwd=tmp_path)
        assert run.exit_code == 0, run.output
        runs[name] = (json.loads(run.stdout),
                      np.concatenate([a.arrays["dH"] for a in read(tmp_path / f"{name}.xyz", ":")]))
    exact, fast, decide = (runs[n][1] for n in ("exact", "fast", "decide"))
    assert (fast - exact).min() >= -ROUNDING and (fast - exact).max() <= 1e-6 + ROUNDING
    assert not np.any((exact > 0) & (decide <= 0)) and (decide >= exact - ROUNDING).all()
    assert runs["fast"][0]["fraction_positive"] == runs["exact"][0]["fraction_positive"] > 0
    assert set(runs["fast"][0]["per_species"]) == {"In", "P"}
    old_index = (tmp_path / "ref.qref.qidx").read_bytes()
    rebuilt = invoke("reference", "build", "ref.qref", "test.xyz", "--elements", "auto", "--no-fast-index", "--force",
                     cwd=tmp_path)
    assert rebuilt.exit_code == 0, rebuilt.output
    assert not (tmp_path / "ref.qref.qidx").exists()  # --force removes the old index with the old file
    (tmp_path / "ref.qref.qidx").write_bytes(old_index)  # as if it had been copied back by hand
    stale = cli("dh", "test.xyz", "-r", "ref.qref", "--fast", "1e-6", cwd=tmp_path)
    assert stale.returncode != 0 and "stale" in stale.stderr


def test_element_absent_from_the_reference_file(two_species, tmp_path):
    """A species-aware reference listing P without P environments: the index file stores no
    part for P, and P atoms are refused by name, in both modes."""
    ref, Y, y_labels = two_species
    In = ref.species_labels == 0
    only_in = Reference.from_descriptors(np.asarray(ref.descriptors)[In], k=K, cutoff=5.0, bandwidth=H,
                                         elements=SPECIES, species_labels=np.zeros(int(In.sum()), int))
    assert only_in.species_counts == (1200, 0)
    only_in.save(tmp_path / "in.qref")
    only_in = Reference.load(tmp_path / "in.qref")
    save_fast_index(build_fast_index(only_in, cluster_size=32), only_in)
    loaded = load_fast_index(only_in)
    assert loaded.parts[1] is None and list(loaded.row_offsets) == [0, 1200, 1200]
    for mode in ({}, {"fast": 1e-6}, {"fast": 1e-6, "decide": True}):
        with pytest.raises(ValueError, match="no environments centred on P.*add structures with P"):
            ReferenceDh(only_in, **mode)(Y, y_labels)
    queries_in = y_labels == 0
    np.testing.assert_allclose(ReferenceDh(only_in, fast=1e-6)(Y[queries_in], y_labels[queries_in]),
                               ReferenceDh(only_in)(Y[queries_in], y_labels[queries_in]), rtol=0, atol=1e-6 + ROUNDING)
