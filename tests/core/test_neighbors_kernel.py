"""The neighbour kernel's building blocks (core/_neighbors.py): the sorting network and the
neighbour ranking, against plain sorts."""

import itertools

import numpy as np
import pytest

from lammps_quests.core._neighbors import _COUNT_RANK_MAX, _rank, descriptors_from_points, sorting_network


def _apply(network, values):
    values = list(values)
    for a, b in network:
        if values[a] > values[b]:
            values[a], values[b] = values[b], values[a]
    return values


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13, 16])
def test_network_sorts_every_zero_one_input(n):
    # the 0-1 principle: a comparator network that sorts every 0/1 sequence sorts everything
    network = sorting_network(n)
    size = int(network.max()) + 1
    assert size >= n
    for bits in itertools.product((0, 1), repeat=size):
        assert _apply(network, bits) == sorted(bits)


@pytest.mark.parametrize("n", [32, 64])
def test_network_sorts_random_inputs_with_padding(n):
    rng = np.random.default_rng(n)
    network = sorting_network(n)
    assert network.min() >= 0 and network.max() < n and (network[:, 0] < network[:, 1]).all()
    for _ in range(300):
        values = np.r_[rng.random(n - 3), np.inf, np.inf, np.inf]
        rng.shuffle(values)
        assert _apply(network, values) == sorted(values)
    assert len(sorting_network(32)) == 191  # Batcher's odd-even merge sort


@pytest.mark.parametrize("m", [1, 7, 8, 42, _COUNT_RANK_MAX, _COUNT_RANK_MAX + 1, 300])
@pytest.mark.parametrize("packable", [True, False])
def test_ranking_is_a_stable_sort_of_the_rounded_distances(m, packable):
    # counting (m <= _COUNT_RANK_MAX, keys that fit) and sorting (otherwise) must give one order:
    # by rounded distance, equal ones in candidate order
    rng = np.random.default_rng(m)
    for spread in (5, 2_500_000_000):  # many ties; almost none
        q = rng.integers(0, spread, m + 8).astype(np.int64)
        ranked = np.full(m + 8, -1, dtype=np.int64)
        keys = np.empty(m + 8, dtype=np.int64)
        _rank(q, m, packable, ranked, keys)
        np.testing.assert_array_equal(ranked[:m], np.argsort(q[:m], kind="stable"))


def test_two_coincident_neighbours_are_an_error_that_names_them():
    centre = np.zeros((1, 3))
    points = np.array([[2.0, 0, 0], [0, 2.5, 0], [2.0, 0, 0], [0, 0, 3.0]])
    with pytest.raises(ValueError, match=r"zero distance \(point 2\).*coincide"):
        descriptors_from_points(centre, points, np.array([-1]), 4, 5.0)


@pytest.mark.parametrize("k, cutoff", [(12, 4.0), (32, 9.0)])  # 9 Å: > _COUNT_RANK_MAX candidates
def test_neighbours_are_the_k_nearest_in_rank_order(k, cutoff):
    # X1 holds w(r)/r of the k nearest neighbours in order: compare with a brute-force sort
    rng = np.random.default_rng(3)
    points = rng.random((400, 3)) * 12.0
    got = descriptors_from_points(points, points, None, k, cutoff)
    for i in range(0, 400, 37):
        r = np.sqrt(((points - points[i]) ** 2).sum(axis=1))
        r = np.sort(r[(r > 0) & (r <= cutoff)])[:k]
        expected = np.zeros(k)
        expected[:len(r)] = (1 - (r / cutoff) ** 2) ** 2 / r
        np.testing.assert_allclose(got[i, :k], expected, rtol=1e-14, atol=0)
