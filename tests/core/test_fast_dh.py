"""The fast dH (cluster index, pruned kernel sums): its guarantee against the exact dH, the
threshold decisions, the .qidx file and its staleness check, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from ase.io import read, write
from cli_support import invoke
from crystals import rattled_frames

from lammps_quests.core._cluster_index import build_cluster_index
from lammps_quests.core._descriptors import descriptors
from lammps_quests.core._information import delta_entropy, delta_entropy_fast
from lammps_quests.formats._fast_index import build_fast_index, fast_index_path, load_fast_index, save_fast_index
from lammps_quests.errors import FastIndexError
from lammps_quests.formats._reference import Reference

H = 0.015
ROUNDING = 1e-9  # nats: the exact kernel's own rounding (both paths share the arithmetic)
WIDTH = 63


def blobs(rng, centres, sizes, spreads):
    """Gaussian blobs of descriptor-like rows (positive, width 63, Å^-1)."""
    return np.concatenate([np.abs(c + rng.normal(0.0, s, (n, WIDTH))) for c, n, s in zip(centres, sizes, spreads)])


@pytest.fixture(scope="module")
def clustered():
    """A reference with dense, loose and duplicated parts, and adversarial queries."""
    rng = np.random.default_rng(7)
    centres = rng.uniform(0.05, 0.4, (6, WIDTH))
    X = blobs(rng, centres, [900, 700, 500, 400, 300, 200], [0.002, 0.005, 0.01, 0.02, 0.004, 0.03])
    X = np.concatenate([X, np.repeat(X[:5], 40, axis=0)])  # duplicated rows: 40 copies each
    Y = np.concatenate([
        X[rng.choice(len(X), 150)] + rng.normal(0, 0.002, (150, WIDTH)),  # inside the blobs
        X[:5],  # exactly on duplicated rows
        X[rng.choice(len(X), 50)],  # exactly on reference rows
        np.abs(centres[0] + 0.5 * (centres[1] - centres[0]) + rng.normal(0, 0.003, (40, WIDTH))),  # between
        np.abs(centres[2] + rng.normal(0, 0.05, (40, WIDTH))),  # at the edge
        centres[3] + 1.0 + rng.normal(0, 0.01, (20, WIDTH)),  # far from everything
    ])
    return X, Y


@pytest.mark.parametrize("tol", [1e-6, 1e-3, 0.3])
@pytest.mark.parametrize("cluster_size", [16, 128])
def test_within_tolerance_of_exact(clustered, tol, cluster_size):
    X, Y = clustered
    index = build_cluster_index(X, cluster_size=cluster_size, seed=1)
    exact = delta_entropy(Y, X, H)
    stats = {}
    fast = delta_entropy_fast(Y, index, H, fast=tol, stats=stats)
    excess = fast - exact
    assert excess.min() >= -ROUNDING
    assert excess.max() <= tol + ROUNDING
    assert stats["pairs"] < 0.7 * len(Y) * len(X)  # clusters were skipped: the bound was exercised
    assert np.all(np.isfinite(fast))


def test_clusters_of_one_row_within_tolerance(clustered):
    """Every cluster a single row (its rings empty but one, radius 0): the bounds are the
    kernel terms themselves, up to rounding; duplicated rows and far queries included."""
    X, Y = clustered
    X = np.concatenate([X[::4], X[:3], X[:3]])  # rows repeated exactly: clusters at one point
    index = build_cluster_index(X, cluster_size=1, seed=5)
    assert np.mean(np.diff(index.offsets) == 1) > 0.5  # most clusters hold one row
    exact = delta_entropy(Y, X, H)
    for tol in (1e-6, 0.05):
        excess = delta_entropy_fast(Y, index, H, fast=tol) - exact
        assert excess.min() >= -ROUNDING and excess.max() <= tol + ROUNDING


def test_skipping_is_what_makes_the_error(clustered):
    """With a large tolerance the error is visible but bounded: the test can fail."""
    X, Y = clustered
    index = build_cluster_index(X, cluster_size=16, seed=1)
    exact = delta_entropy(Y, X, H)
    loose = delta_entropy_fast(Y, index, H, fast=0.5)
    tight = delta_entropy_fast(Y, index, H, fast=1e-9)
    assert np.abs(tight - exact).max() <= 1e-9 + ROUNDING
    assert (loose - exact).max() > 1e-6  # something was skipped
    assert (loose - exact).max() <= 0.5 + ROUNDING


def test_random_uniform_reference():
    """No cluster structure at all: bounds are loose, the result must still be right."""
    rng = np.random.default_rng(3)
    X = rng.uniform(0.0, 0.05, (1500, WIDTH))
    Y = np.concatenate([X[:30] + rng.normal(0, 0.001, (30, WIDTH)), rng.uniform(0.0, 0.05, (30, WIDTH))])
    index = build_cluster_index(X, cluster_size=32)
    excess = delta_entropy_fast(Y, index, H, fast=1e-6) - delta_entropy(Y, X, H)
    assert -ROUNDING <= excess.min() and excess.max() <= 1e-6 + ROUNDING


def test_single_cluster_and_single_row():
    rng = np.random.default_rng(4)
    X = rng.uniform(0.1, 0.2, (1, WIDTH))
    Y = X + rng.normal(0, 0.01, (5, WIDTH))
    index = build_cluster_index(X, cluster_size=512)
    np.testing.assert_allclose(delta_entropy_fast(Y, index, H), delta_entropy(Y, X, H), atol=1e-9)


@pytest.mark.parametrize("tol", [1e-6, 1e-2])
def test_threshold_decisions_are_certified(clustered, tol):
    X, Y = clustered
    index = build_cluster_index(X, cluster_size=32, seed=2)
    exact = delta_entropy(Y, X, H)
    thresholds = [float(np.quantile(exact, 0.3)), 0.0, float(np.quantile(exact, 0.8))]
    stats = {}
    values = delta_entropy_fast(Y, index, H, fast=tol, thresholds=thresholds, stats=stats)
    assert values.min() > -np.inf
    assert (values - exact).min() >= -ROUNDING  # upper bounds
    for t in thresholds:
        assert not np.any((exact > t) & (values <= t))  # no atom above t reported at or below it
        false_positive = (values > t) & (exact <= t)
        assert np.all(exact[false_positive] > t - tol - ROUNDING)
    both_sides = [(exact > t).sum() for t in thresholds]
    assert all(0 < n < len(exact) for n in both_sides)  # atoms on both sides of every threshold
    assert stats["refined"] < 3 * len(Y)
    # the documented rule, t0 the smallest threshold: a value above t0 is within tol of exact,
    # a value at or below it an upper bound certifying exact dH <= t0
    t0 = min(thresholds)
    flagged = values > t0
    assert flagged.any() and (~flagged).any()
    assert (values[flagged] - exact[flagged]).max() <= tol + ROUNDING
    assert (exact[~flagged] <= t0).all()


@pytest.mark.parametrize("cluster_size", [1, 16, 128])
def test_decide_flagged_values_exact_adversarial(clustered, cluster_size):
    """Decide mode on adversarial queries (far from everything, on duplicated rows, clusters of
    one): every value above t0 within tol of exact; with a loose tol the bounds of the atoms
    below t0 are visibly loose, so the test tells the two kinds apart."""
    X, Y = clustered
    index = build_cluster_index(X[::3] if cluster_size == 1 else X, cluster_size=cluster_size, seed=3)
    X = X[::3] if cluster_size == 1 else X
    exact = delta_entropy(Y, X, H)
    for t in (float(np.median(exact)), float(exact.max()) + 1.0, float(exact.min()) - 1.0):
        values = delta_entropy_fast(Y, index, H, fast=1e-6, thresholds=t)
        above = values > t
        assert (values - exact).min() >= -ROUNDING
        assert (values[above] - exact[above]).max(initial=0.0) <= 1e-6 + ROUNDING
        assert (exact[~above] <= t).all()
    # far-away queries (dH ~ 10^3-10^4 nats) are flagged and exact to tol
    far = exact > 100.0
    assert far.sum() >= 20
    values = delta_entropy_fast(Y, index, H, fast=1e-6, thresholds=0.0)
    np.testing.assert_allclose(values[far], exact[far], rtol=0, atol=1e-6 + ROUNDING)


def test_decide_values_below_t0_are_bounds_not_values(clustered):
    """The tolerance step is what makes flagged values exact: a decide run with a threshold
    above everything leaves bounds that differ from exact by much more than tol, for the same
    atoms that a low threshold makes exact."""
    X, Y = clustered
    index = build_cluster_index(X, cluster_size=16, seed=1)
    exact = delta_entropy(Y, X, H)
    high = delta_entropy_fast(Y, index, H, fast=1e-6, thresholds=float(exact.max()) + 1.0)
    low = delta_entropy_fast(Y, index, H, fast=1e-6, thresholds=float(exact.min()) - 1.0)
    assert (high - exact).max() > 1e-3  # bounds: loose somewhere
    assert (low - exact).max() <= 1e-6 + ROUNDING  # everything flagged: all within tol


def test_queries_on_a_threshold_between_blobs():
    """Queries whose exact dH sits right at the threshold go through the exact refinement."""
    rng = np.random.default_rng(5)
    X = blobs(rng, rng.uniform(0.1, 0.3, (4, WIDTH)), [400] * 4, [0.003] * 4)
    Y = X[rng.choice(len(X), 80)] + rng.normal(0, 0.004, (80, WIDTH))
    exact = delta_entropy(Y, X, H)
    t = float(np.median(exact))
    index = build_cluster_index(X, cluster_size=25)
    values = delta_entropy_fast(Y, index, H, fast=1e-6, thresholds=t)
    assert not np.any((exact > t) & (values <= t))
    assert np.all(exact[(values > t)] > t - 1e-6 - ROUNDING)


def test_bad_tolerance_and_width(clustered):
    X, Y = clustered
    index = build_cluster_index(X[:200], cluster_size=50)
    with pytest.raises(ValueError, match="fast must be a number of nats between 0 and 1"):
        delta_entropy_fast(Y, index, H, fast=0.0)
    with pytest.raises(ValueError, match="width"):
        delta_entropy_fast(Y[:, :10], index, H)


# ------------------------------------------------------------------ file, staleness, CLI
def small_reference(tmp_path, seed=0, name="ref.qref"):
    rng = np.random.default_rng(seed)
    X = blobs(rng, rng.uniform(0.05, 0.3, (3, WIDTH)), [300, 200, 100], [0.003, 0.006, 0.01])
    ref = Reference.from_descriptors(X, k=32, cutoff=5.0, bandwidth=H)
    ref.save(tmp_path / name)
    return Reference.load(tmp_path / name, mmap=True)


def test_index_file_round_trip(tmp_path):
    ref = small_reference(tmp_path)
    built = build_fast_index(ref, cluster_size=40)
    path = save_fast_index(built, ref)
    assert path == fast_index_path(ref.path) and path.name == "ref.qref.qidx"
    loaded = load_fast_index(ref)
    for name, array in built.arrays().items():
        np.testing.assert_array_equal(getattr(loaded, name), array)
    Y = np.asarray(ref.descriptors[::7]) + 0.002
    np.testing.assert_array_equal(delta_entropy_fast(Y, loaded, H), delta_entropy_fast(Y, built, H))


def test_stale_missing_and_damaged_index_refused(tmp_path):
    ref = small_reference(tmp_path)
    with pytest.raises(FastIndexError, match="does not exist.*reference index"):
        load_fast_index(ref)
    save_fast_index(build_fast_index(ref, cluster_size=40), ref)
    rebuilt = small_reference(tmp_path, seed=1)  # same file name, other descriptors
    with pytest.raises(FastIndexError, match="stale"):
        load_fast_index(rebuilt)
    path = fast_index_path(ref.path)
    save_fast_index(build_fast_index(rebuilt, cluster_size=40), rebuilt)
    data = bytearray(path.read_bytes())
    data[-8:] = b"\x01" * 8  # flip bytes of the last array
    path.write_bytes(bytes(data))
    with pytest.raises(FastIndexError, match="corrupt"):
        load_fast_index(rebuilt)
    path.write_bytes(b"not an index at all")
    with pytest.raises(FastIndexError, match="not a lammps-quests fast dH index"):
        load_fast_index(rebuilt)


def cli(*args, cwd):
    """The command in its own process (``python -m lammps_quests``): exit code and stderr as a shell sees them."""
    return subprocess.run([sys.executable, "-m", "lammps_quests", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_cli_index_and_dh_fast(tmp_path):
    write(tmp_path / "train.xyz", rattled_frames("fcc", 3.61, 4, 0.05, seed=1))
    write(tmp_path / "test.xyz", rattled_frames("fcc", 3.61, 2, 0.12, seed=9)
          + rattled_frames("bcc", 2.87, 1, 0.05, seed=3))
    done = invoke("reference", "build", "ref.qref", "train.xyz", "--fast-index", cwd=tmp_path)
    assert done.exit_code == 0, done.output
    assert (tmp_path / "ref.qref.qidx").exists()
    exact = invoke("dh", "test.xyz", "-r", "ref.qref", "--json", "-o", "exact.xyz", cwd=tmp_path)
    fast = invoke("dh", "test.xyz", "-r", "ref.qref", "--fast", "1e-6", "--json", "-o", "fast.xyz", cwd=tmp_path)
    assert exact.exit_code == 0 and fast.exit_code == 0, exact.output + fast.output
    e, f = json.loads(exact.stdout), json.loads(fast.stdout)
    assert f["fast"] == 1e-6 and f["fraction_positive"] == e["fraction_positive"]
    de = np.concatenate([a.arrays["dH"] for a in read(tmp_path / "exact.xyz", ":")])
    df = np.concatenate([a.arrays["dH"] for a in read(tmp_path / "fast.xyz", ":")])
    assert (df - de).min() >= -ROUNDING and (df - de).max() <= 1e-6 + ROUNDING
    # the reference rebuilt from other frames: its old index is removed; put back, it is stale
    # and refused by name (a file error: exit 1, no usage block), by the command run as a shell does
    old_index = (tmp_path / "ref.qref.qidx").read_bytes()
    done = invoke("reference", "build", "ref.qref", "test.xyz", "--force", "--no-fast-index", cwd=tmp_path)
    assert done.exit_code == 0, done.output
    assert not (tmp_path / "ref.qref.qidx").exists()
    (tmp_path / "ref.qref.qidx").write_bytes(old_index)
    stale = cli("dh", "test.xyz", "-r", "ref.qref", "--fast", "1e-6", cwd=tmp_path)
    assert stale.returncode == 1 and "stale" in stale.stderr and "reference index" in stale.stderr
    assert "Usage:" not in stale.stderr
    rebuilt = invoke("reference", "index", "ref.qref", "--cluster-size", "20", cwd=tmp_path)
    assert rebuilt.exit_code == 0, rebuilt.output
    decided = invoke("dh", "test.xyz", "-r", "ref.qref", "--fast", "1e-6", "--decide", "--threshold", "0.5",
                     "-o", "decide.xyz", cwd=tmp_path)
    assert decided.exit_code == 0, decided.output
    frames = read(tmp_path / "decide.xyz", ":")
    values = np.concatenate([a.arrays["dH"] for a in frames])
    bound = np.concatenate([a.arrays["dH_bound"] for a in frames]) == 1
    np.testing.assert_array_equal(bound, values <= 0.0)  # t0 = min(0, 0.5): 0 is always decided
    assert all("upper bound where dH <= 0" in a.info["dH_values"] for a in frames)
    exact = Reference.load(tmp_path / "ref.qref")
    de = delta_entropy(descriptors(frames, exact.k, exact.cutoff), exact.descriptors, exact.bandwidth)
    assert np.abs(values[~bound] - de[~bound]).max(initial=0.0) <= 1e-6 + ROUNDING
    assert (de[bound] <= 0.0).all()


def test_fix_keyword_fast_parsing():
    from lammps_quests.errors import KeywordError, OptionError
    from lammps_quests.lammps._keywords import parse_keywords

    options = parse_keywords(["fast", "1e-6", "threshold", "0.5"])
    shared = options.monitor
    assert shared.fast == 1e-6 and not shared.decide and shared.threshold == 0.5
    options = parse_keywords(["fast", "1e-4", "decide", "halt", "2", "soft"])
    assert options.monitor.fast == 1e-4 and options.monitor.decide and options.halt_mode == "soft"
    for words in (["fast"], ["fast", "x"]):
        with pytest.raises(KeywordError, match="fast"):
            parse_keywords(words)
    for words in (["fast", "0"], ["fast", "1.5"]):
        with pytest.raises(OptionError, match="fast must be a number of nats between 0 and 1"):
            parse_keywords(words)


def test_default_cluster_size_follows_the_reference_size():
    from lammps_quests.core._cluster_index import build_cluster_index, default_cluster_size

    assert default_cluster_size(100) == 32  # small references: at least 32 members
    assert default_cluster_size(5376) == 110  # ~1.5 sqrt(n)
    assert default_cluster_size(300_000) == 822  # ~1.5 sqrt(n) up to ~4.7 x 10^5 rows
    assert default_cluster_size(600_000) == 1024  # large references: at most 1024
    X = np.random.default_rng(0).normal(size=(5376, 8))
    assert build_cluster_index(X).n_clusters == round(5376 / 110)
    assert build_cluster_index(X, cluster_size=512).n_clusters == round(5376 / 512)



def test_matrix_products_split_into_chunks_give_the_same_values(clustered, monkeypatch):
    """A cluster's queries split into products of at most GEMM_TERMS terms (here 2-3 queries per
    product for clusters of ~128 members, the last one partial) give the values of one product
    per cluster (to rounding): no query is left out or summed twice."""
    import lammps_quests.core._pruned_sums as pruned

    X, Y = clustered
    index = build_cluster_index(X, cluster_size=128, seed=1)
    rows = []
    accumulate = pruned._accumulate_block

    def spy(gram, *args):
        if sys._getframe(1).f_code.co_name == "_sum_needed":  # the tolerance step's products
            rows.append(gram.shape)
        accumulate(gram, *args)

    monkeypatch.setattr(pruned, "_accumulate_block", spy)
    monkeypatch.setattr(pruned, "GEMM_QUERIES", 2)  # matrix products from 2 queries on
    monkeypatch.setattr(pruned, "GEMM_TERMS", 1 << 40)  # one product per cluster and block
    one = delta_entropy_fast(Y, index, H, fast=1e-6)
    assert max(q for q, _ in rows) > 3
    rows.clear()
    monkeypatch.setattr(pruned, "GEMM_TERMS", 3 * 128)  # max(2, 384 // members) queries per product
    split = delta_entropy_fast(Y, index, H, fast=1e-6)
    assert rows and all(q <= max(2, 3 * 128 // members) for q, members in rows)
    np.testing.assert_allclose(split, one, rtol=0, atol=1e-12)  # BLAS rounds products of other shapes apart
    excess = split - delta_entropy(Y, X, H)
    assert excess.min() >= -ROUNDING and excess.max() <= 1e-6 + ROUNDING
