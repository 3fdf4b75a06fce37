"""The mixed float32/float64 dH kernel (``precision="mixed"``): every value within tol of the float64
kernel, on physical, random and adversarial inputs, and its proven bound covers the error."""

from __future__ import annotations

import numpy as np
import pytest
from crystals import thermal_fcc

import lammps_quests as lq
import lammps_quests.core._mixed_sums as mixed_sums
from lammps_quests.core._information import delta_entropy, prepare_reference

H = 0.015
WIDTH = 63


@pytest.fixture(scope="module")
def thermal():
    """Warm FCC Cu reference (864 environments) and hotter queries, Å^-1."""
    X = lq.descriptors([thermal_fcc(0.06, seed=s) for s in range(8)])
    Y = lq.descriptors([thermal_fcc(0.1, seed=20 + s) for s in range(2)])
    return X, Y


def blobs(rng, n_per_blob, spread, width=WIDTH):
    """Gaussian blobs of positive descriptor-like rows (Å^-1)."""
    centres = rng.uniform(0.05, 0.4, (5, width))
    return np.concatenate([np.abs(c + rng.normal(0.0, spread, (n_per_blob, width))) for c in centres])


def adversarial_sets():
    """(name, X, Y, h) cases: queries on rows, duplicates, outliers, large norms and offsets."""
    rng = np.random.default_rng(3)
    X = blobs(rng, 300, 0.01)
    X = np.concatenate([X, np.repeat(X[:4], 50, axis=0)])  # duplicated rows
    near = X[rng.choice(len(X), 100)] + rng.normal(0.0, 0.003, (100, WIDTH))
    Y = np.concatenate([near, X[:40], X[-60:], X[:4] + 1.0, np.full((3, WIDTH), 50.0)])  # on rows, far outliers
    low_rank = np.zeros((1500, WIDTH))
    low_rank[:, :12] = rng.normal(0.0, 0.03, (1500, 12))
    low_rank += 1e-4 * rng.normal(size=low_rank.shape)
    return [
        ("blobs", X, Y, H),
        ("blobs narrow h", X, Y, 1e-4),
        ("blobs wide h", X, Y, 10.0),
        ("several h", X, Y, [0.005, 0.015, 0.1]),
        ("uniform", rng.random((2000, WIDTH)), rng.random((300, WIDTH)), H),
        ("large norms", 300.0 * X, 300.0 * Y, H),
        ("large offset", X + 1e3, Y + 1e3, H),
        ("low rank", low_rank, low_rank[::7] + rng.normal(0.0, 0.002, (215, WIDTH)), H),
        ("one row", X[:1], Y, H),
        ("narrow width", X[:, :5], Y[:, :5], H),
    ]


@pytest.mark.parametrize("tol", [1e-6, 1e-4])
def test_thermal_crystal_within_tol_and_uses_float32(thermal, tol):
    X, Y = thermal
    stats = {}
    mixed = delta_entropy(Y, X, H, precision="mixed", tol=tol, stats=stats)
    exact = delta_entropy(Y, X, H, precision="float64")
    assert np.abs(mixed - exact).max() <= tol
    assert stats["split"] < WIDTH  # part of every product was float32
    assert stats["fallback_rows"] < 0.05 * len(Y)
    assert stats["bound"] <= tol


@pytest.mark.parametrize("case", adversarial_sets(), ids=lambda c: c[0])
@pytest.mark.parametrize("tol", [1e-6, 1e-3])
def test_every_row_within_tol_of_float64(case, tol):
    _, X, Y, h = case
    mixed = delta_entropy(Y, X, h, precision="mixed", tol=tol)
    exact = delta_entropy(Y, X, h, precision="float64")
    assert mixed.shape == exact.shape
    assert np.isfinite(mixed).all()
    assert np.abs(mixed - exact).max() <= tol


def test_bound_covers_the_error_and_the_error_is_real():
    # large norms make the float32 tail visible: errors far above float64 rounding, still
    # below the row's proven bound
    rng = np.random.default_rng(11)
    X = 20.0 * blobs(rng, 400, 0.02)
    Y = X[rng.choice(len(X), 200)] + rng.normal(0.0, 0.05, (200, WIDTH))
    tol = 0.05
    ref = mixed_sums.prepare_reference(X)
    inv = np.array([1.0 / (2 * H * H)])
    stats = {}
    mixed = -mixed_sums.mixed_log_kernel_sums(Y, ref, inv, tol, stats)[:, 0]
    exact = delta_entropy(Y, X, H, precision="float64")
    Yr = (Y - ref.center) @ ref.rotation
    bounds = mixed_sums.row_bounds(Yr, ref, stats["split"], inv[0])
    kept = bounds <= tol
    assert kept.sum() > 100
    error = np.abs(mixed - exact)
    assert error[kept].max() > 1e-9  # the float32 part changed the numbers
    assert np.all(error[kept] <= bounds[kept] + 1e-12)


def test_tight_tolerance_falls_back_to_float64(thermal):
    X, Y = thermal
    stats = {}
    mixed = delta_entropy(Y, X, H, precision="mixed", tol=1e-15, stats=stats)
    assert stats["split"] == WIDTH or stats["fallback_rows"] == len(Y)
    np.testing.assert_allclose(mixed, delta_entropy(Y, X, H, precision="float64"), rtol=0, atol=1e-12)


def test_far_outliers_fall_back_and_stay_finite(thermal):
    X, Y = thermal
    far = np.concatenate([Y[:5], Y[:3] + 5.0])
    stats = {}
    mixed = delta_entropy(far, X, 1e-4, precision="mixed", stats=stats)
    exact = delta_entropy(far, X, 1e-4, precision="float64")
    assert stats["fallback_rows"] >= 3
    assert np.isfinite(mixed).all() and mixed[5:].min() > 1e8
    assert np.abs(mixed - exact).max() <= 1e-6


def test_prepared_reference_gives_the_same_numbers(thermal):
    X, Y = thermal
    prepared = prepare_reference(X)
    assert prepared._mixed is None  # the float64 path never builds the rotation
    assert np.array_equal(delta_entropy(Y, prepared, H), delta_entropy(Y, X, H))
    assert prepared._mixed is None
    assert np.array_equal(delta_entropy(Y, prepared, H, precision="mixed"),
                          delta_entropy(Y, X, H, precision="mixed"))
    assert np.array_equal(delta_entropy(Y, prepared, H, precision="float64"),
                          delta_entropy(Y, X, H, precision="float64"))


def test_rows_do_not_depend_on_their_block(thermal):
    # the fix (one block of atoms) and offline dh (other blocks) must give the same values
    X, Y = thermal
    full = delta_entropy(Y, X, H, precision="mixed")
    part = delta_entropy(Y[17:160], X, H, precision="mixed")
    np.testing.assert_allclose(part, full[17:160], rtol=0, atol=1e-12)


def test_reference_changed_in_place_is_prepared_again(thermal):
    X, Y = thermal
    X = X.copy()
    before = delta_entropy(Y, X, H, precision="mixed")
    X[:100] += 0.05
    after = delta_entropy(Y, X, H, precision="mixed")
    np.testing.assert_allclose(after, delta_entropy(Y, X, H, precision="float64"), rtol=0, atol=1e-6)
    assert np.abs(after - before).max() > 1e-3


def test_bad_precision_and_tolerance(thermal):
    X, Y = thermal
    with pytest.raises(ValueError, match="precision must be one of"):
        delta_entropy(Y, X, H, precision="float16")
    with pytest.raises(ValueError, match="tol must be a number of nats > 0"):
        delta_entropy(Y, X, H, precision="mixed", tol=0.0)
    with pytest.raises(ValueError, match="widths differ"):
        delta_entropy(Y[:, :5], prepare_reference(X), H)
    with pytest.raises(ValueError, match="NaN or inf"):
        prepare_reference(np.where(X == X[0, 0], np.nan, X))  # checked once, at preparation


def test_tail_factor_is_the_float32_bound():
    u = 2.0 ** -24
    assert mixed_sums.tail_factor(0) == 0.0
    assert mixed_sums.tail_factor(1) > 3 * u
    assert mixed_sums.tail_factor(39) == pytest.approx(41 * u, rel=1e-5)


def test_within_tol_of_an_extended_precision_truth():
    # the bound is stated against dH itself: check it against direct differences summed in
    # extended precision (independent of both kernels' |x|^2 + |y|^2 - 2 x.y arithmetic)
    rng = np.random.default_rng(5)
    X = blobs(rng, 100, 0.01)
    Y = np.concatenate([X[rng.choice(len(X), 60)] + rng.normal(0.0, 0.004, (60, WIDTH)), X[:20]])
    diff = Y[:, None, :].astype(np.longdouble) - X[None, :, :].astype(np.longdouble)
    z = (diff * diff).sum(axis=2) / (2 * np.longdouble(H) ** 2)
    low = z.min(axis=1)
    truth = np.asarray(low - np.log(np.exp(-(z - low[:, None])).sum(axis=1)), dtype=np.float64)
    mixed = delta_entropy(Y, X, H, precision="mixed", tol=1e-6)
    assert np.abs(mixed - truth).max() <= 1e-6
    assert np.abs(delta_entropy(Y, X, H, precision="float64") - truth).max() <= 1e-9
