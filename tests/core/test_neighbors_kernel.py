"""The neighbour kernel's building blocks (core/neighbors.py): the sorting network and the
neighbour ranking, against plain sorts."""

import itertools

import numpy as np
import pytest

from lammps_quests.core.neighbors import descriptors_from_points, sorting_network


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


def test_neighbours_are_the_k_nearest_in_rank_order():
    # X1 holds w(r)/r of the k nearest neighbours in order: compare with a brute-force sort
    rng = np.random.default_rng(3)
    points = rng.random((400, 3)) * 12.0
    k, cutoff = 12, 4.0
    got = descriptors_from_points(points, points, None, k, cutoff)
    for i in range(0, 400, 37):
        r = np.sqrt(((points - points[i]) ** 2).sum(axis=1))
        r = np.sort(r[(r > 0) & (r <= cutoff)])[:k]
        expected = np.zeros(k)
        expected[:len(r)] = (1 - (r / cutoff) ** 2) ** 2 / r
        np.testing.assert_allclose(got[i, :k], expected, rtol=1e-14, atol=0)
