"""Entropy, dH, diversity, overlap: the published `quests` as oracle, bounds and identities."""

import numba
import numpy as np
import pytest

import lammps_quests as lq
from crystals import thermal_fcc
import lammps_quests.core._kernel_sums as kernel_sums

quests_entropy = pytest.importorskip("quests.entropy")


@pytest.fixture(scope="module")
def data():
    """A reference of warm FCC environments and a hotter test set (descriptors, Å^-1)."""
    X = lq.descriptors([thermal_fcc(0.06, seed=s) for s in range(6)])
    Y = lq.descriptors([thermal_fcc(0.12, seed=10 + s) for s in range(2)])
    return X, Y


def rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b)) / np.abs(np.asarray(b)))


@pytest.mark.parametrize("h", [0.015, 0.05])
def test_matches_published_quests(data, h):
    X, Y = data
    assert rel(lq.entropy(X, h), quests_entropy.entropy(X, h)) <= 1e-9
    assert rel(lq.diversity(X, h), quests_entropy.diversity(X, h)) <= 1e-9
    oracle = quests_entropy.delta_entropy(Y, X, h)
    assert np.isfinite(oracle).all()
    assert rel(lq.delta_entropy(Y, X, h), oracle) <= 1e-9


def test_small_blocks_give_the_same_numbers(data, monkeypatch):
    # force many row and column blocks, so the running log-sum-exp across blocks is exercised
    X, Y = data
    full = lq.delta_entropy(Y, X)
    monkeypatch.setattr(kernel_sums, "ROW_BLOCK", 37)
    monkeypatch.setattr(kernel_sums, "COL_BLOCK", 101)
    np.testing.assert_allclose(lq.delta_entropy(Y, X), full, rtol=1e-12, atol=1e-12)
    assert rel(lq.delta_entropy(Y, X), quests_entropy.delta_entropy(Y, X, 0.015)) <= 1e-9


def test_small_blocks_of_the_mixed_kernel_give_the_same_numbers(data, monkeypatch):
    import lammps_quests.core._mixed_sums as mixed_sums

    X, Y = data
    full = lq.delta_entropy(Y, X, precision="mixed")
    monkeypatch.setattr(mixed_sums, "ROW_BLOCK", 37)
    monkeypatch.setattr(mixed_sums, "COL_BLOCK", 101)
    np.testing.assert_allclose(lq.delta_entropy(Y, X, precision="mixed"), full, rtol=0, atol=1e-12)
    assert np.abs(full - lq.delta_entropy(Y, X)).max() <= 1e-6


def test_several_bandwidths_give_one_result_each(data):
    X, Y = data
    hs = [0.01, 0.02, 0.04]
    dh = lq.delta_entropy(Y, X, hs)
    assert dh.shape == (3, len(Y))
    for i, h in enumerate(hs):
        np.testing.assert_allclose(dh[i], lq.delta_entropy(Y, X, h), rtol=1e-13)
    oracle = quests_entropy.delta_entropy(Y, X, np.array(hs))  # (ny, nh) in the published code
    assert rel(dh, np.asarray(oracle).T) <= 1e-9
    H = lq.entropy(X, hs)
    assert H.shape == (3,)
    assert rel(H, quests_entropy.entropy(X, np.array(hs))) <= 1e-9
    assert lq.diversity(X, hs).shape == (3,)
    assert lq.overlap(Y, X, hs).shape == (3,)


def test_far_points_stay_finite_where_the_published_code_returns_inf(data):
    X, _ = data
    far = X[:3] + 5.0  # every kernel value underflows: distance >> 39 h
    assert np.isinf(quests_entropy.delta_entropy(far, X, 0.015)).all()
    dh = lq.delta_entropy(far, X)
    assert np.isfinite(dh).all()
    # exact value: dH = d_min^2 / (2 h^2) - log(number of points at d_min + ...)
    d2 = ((far[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    z = d2 / (2 * 0.015**2)
    expected = z.min(1) - np.log(np.exp(-(z - z.min(1)[:, None])).sum(1))
    np.testing.assert_allclose(dh, expected, rtol=1e-9)


def test_entropy_identity_and_bounds(data, monkeypatch):
    X, _ = data
    n = len(X)
    monkeypatch.setattr(kernel_sums, "SELF_BLOCK", 100)  # several blocks: symmetric crediting
    H = lq.entropy(X)
    dh_self = lq.self_delta_entropy(X)
    # H = log n + mean dH(x|X): Eq. 5 with Eq. 7 (the paper's Eq. 26 prints this sign as minus)
    np.testing.assert_allclose(H, np.log(n) + dh_self.mean(), rtol=1e-12)
    assert 0.0 <= H <= np.log(n)
    assert np.all(dh_self <= 1e-12)  # every point of X is inside X
    assert np.all(dh_self >= -np.log(n) - 1e-12)


def test_copies_have_zero_entropy_and_minimal_dh():
    x = lq.descriptors(thermal_fcc(0.05, repeat=(1, 1, 1)))[:1]
    copies = np.repeat(x, 50, axis=0)
    assert abs(lq.entropy(copies)) < 1e-12
    np.testing.assert_allclose(lq.delta_entropy(x, copies), -np.log(50), rtol=1e-12)
    np.testing.assert_allclose(lq.diversity(copies), 0.0, atol=1e-12)


def test_well_separated_points_have_maximal_entropy_and_diversity():
    n = 40
    X = np.eye(n) * 10.0  # pairwise distances 14 Å^-1 >> h
    np.testing.assert_allclose(lq.entropy(X), np.log(n), rtol=1e-12)
    np.testing.assert_allclose(lq.diversity(X), np.log(n), rtol=1e-12)


def test_overlap_and_novelty(data):
    X, Y = data
    assert lq.overlap(X, X) == 1.0
    assert lq.novelty(X, X) == 0.0
    far = Y + 1.0
    assert lq.overlap(far, X) == 0.0
    assert lq.novelty(far, X) == 1.0
    dh = lq.delta_entropy(Y, X)
    assert lq.overlap(Y, X) == pytest.approx(np.mean(dh <= 0))
    assert 0.0 < lq.overlap(Y, X) < 1.0  # hotter environments: partly covered


def test_bandwidths_at_the_ends_of_the_accepted_range_give_finite_numbers(data):
    from lammps_quests.core._validation import MAX_BANDWIDTH, MIN_BANDWIDTH

    X, Y = data
    far = X[:3] + 5.0  # 5 Å^-1 away in every component
    for h in (MIN_BANDWIDTH, MAX_BANDWIDTH):
        values = [lq.delta_entropy(np.vstack([Y, far]), X, h), lq.self_delta_entropy(X, h),
                  lq.entropy(X, h), lq.diversity(X, h)]
        assert all(np.isfinite(v).all() for v in values), h
    assert lq.delta_entropy(far, X, MIN_BANDWIDTH).min() > 1e8  # far, and still a number


@pytest.mark.parametrize("call, message", [
    (lambda X: lq.entropy(X, 0.0), "bandwidth must be finite and > 0"),
    (lambda X: lq.entropy(X, -0.01), "bandwidth must be finite and > 0"),
    (lambda X: lq.delta_entropy(X, X, [0.01, float("nan")]), "bandwidth must be finite"),
    (lambda X: lq.entropy(X, 1e-300), "bandwidth must lie between 0.0001 and 10 Å\\^-1, got 1e-300"),
    (lambda X: lq.delta_entropy(X, X, [0.015, 11.0]), "between 0.0001 and 10 Å"),
    (lambda X: lq.entropy(X[:0]), "empty"),
    (lambda X: lq.delta_entropy(X[:, :5], X), "widths differ"),
    (lambda X: lq.entropy(X[0]), "2-d array"),
    (lambda X: lq.entropy(np.where(X == X[0, 0], np.nan, X)), "NaN or inf"),
])
def test_bad_input_raises_clear_errors(data, call, message):
    X, _ = data
    with pytest.raises(ValueError, match=message):
        call(X)


def test_polynomial_exponential_is_accurate():
    t = np.concatenate([np.linspace(0, kernel_sums._NEGLIGIBLE, 200_001),
                        np.random.default_rng(0).random(10_000) * kernel_sums._NEGLIGIBLE])
    values = np.array([kernel_sums._exp_neg(v) for v in t[::50]])
    np.testing.assert_allclose(values, np.exp(-t[::50]), rtol=2e-13)


def test_symmetric_self_sums_match_the_general_path(data, monkeypatch):
    # entropy uses X x X blocks credited to rows and columns; check it against the plain
    # Y-against-X path, with blocks small enough that off-diagonal blocks occur
    X, _ = data
    monkeypatch.setattr(kernel_sums, "SELF_BLOCK", 50)
    inv = 1.0 / (2.0 * np.array([0.015, 0.03]) ** 2)
    np.testing.assert_allclose(kernel_sums.log_kernel_sums_self(X, inv),
                               kernel_sums.log_kernel_sums(X, X, inv), rtol=1e-12, atol=1e-12)


def test_symmetric_self_sums_do_not_depend_on_threads_or_chunk_owners(data, monkeypatch):
    # the chunks are fixed by n, so any split over threads (or MPI ranks) adds the same numbers
    X, _ = data
    monkeypatch.setattr(kernel_sums, "SELF_BLOCK", 50)
    inv = 1.0 / (2.0 * np.array([0.015, 0.03]) ** 2)
    n_chunks = kernel_sums.self_sum_chunks(len(X))
    assert n_chunks == kernel_sums.SELF_CHUNKS  # more block pairs than chunks
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = kernel_sums.log_kernel_sums_self(X, inv)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = kernel_sums.log_kernel_sums_self(X, inv)
    finally:
        numba.set_num_threads(threads)
    odd = kernel_sums.kernel_sums_self_chunks(X, inv, range(1, n_chunks, 2))
    even = kernel_sums.kernel_sums_self_chunks(X, inv, range(0, n_chunks, 2))
    assert np.array_equal(one, two)
    assert np.array_equal(kernel_sums.combine_self_chunks({**odd, **even}), one)


def test_memory_stays_bounded_by_blocks():
    # a full 12,000 x 4,000 distance matrix would take 384 MB; blocks keep the peak small
    import tracemalloc

    rng = np.random.default_rng(5)
    X = rng.normal(0.0, 0.05, (4_000, 63))
    Y = rng.normal(0.0, 0.05, (12_000, 63))
    tracemalloc.start()
    try:
        dh = lq.delta_entropy(Y, X)
        H = lq.entropy(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.isfinite(dh).all() and np.isfinite(H)
    assert peak < 60e6, f"peak {peak / 1e6:.0f} MB"


def test_dh_over_chosen_neighbours_is_an_upper_bound_and_exact_with_all(data):
    X, Y = data
    exact = lq.delta_entropy(Y, X)
    everyone = np.tile(np.arange(len(X)), (len(Y), 1))
    np.testing.assert_allclose(lq.delta_entropy_of_neighbours(Y, X, everyone), exact, rtol=1e-12,
                               atol=1e-12)
    nearest = np.argsort(((Y[:, None, :] - X[None]) ** 2).sum(-1), axis=1)[:, :5]
    nearest[:, -1] = -1  # a missing neighbour, as an index may return
    approx = lq.delta_entropy_of_neighbours(Y, X, nearest)
    assert np.all(approx >= exact - 1e-12)
    assert np.any(approx > exact + 1e-3)
