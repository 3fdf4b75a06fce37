"""One copy of a reference per node: the arrays dH reads are the read-only file mappings.

Every MPI rank of a node maps the same ``.qref`` and ``.qidx`` (MAP_SHARED, page cache), so the
files count once per node; a private copy (a centred reference, a finiteness mask, a typed
copy) would count once per rank. These tests hold the loaded arrays to views of the mapping and
the exact dH to temporaries far smaller than the reference.
"""

from __future__ import annotations

import mmap
import tracemalloc

import numba
import numpy as np
import pytest

from lammps_quests.dh._reference_dh import ReferenceDh
import lammps_quests.core._kernel_sums as kernel_sums
import lammps_quests.core._validation as validation
from lammps_quests.formats._fast_index import build_fast_index, load_fast_index, save_fast_index
from lammps_quests.formats._reference import Reference


def _mapped(array: np.ndarray) -> bool:
    """True when ``array`` is a view whose base chain ends in a file mapping (``mmap.mmap``)."""
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, mmap.mmap)


@pytest.fixture(scope="module")
def big_reference(tmp_path_factory):
    """A 60,000-row reference (k = 32, ~30 MB) and its fast index, saved and loaded back."""
    X = np.random.default_rng(5).uniform(0.0, 0.1, size=(60_000, 63))
    path = Reference.from_descriptors(X, k=32, cutoff=5.0).save(tmp_path_factory.mktemp("mem") / "big.qref")
    reference = Reference.load(path)
    save_fast_index(build_fast_index(reference, cluster_size=512), reference)
    return reference


def test_fast_index_arrays_are_read_only_views_of_the_file(big_reference):
    index = load_fast_index(big_reference)
    for name, array in index.arrays().items():
        assert _mapped(array), name
        assert not array.flags.writeable, name


def test_reference_dh_keeps_the_mapped_arrays_not_copies(big_reference):
    exact = ReferenceDh(big_reference)
    assert _mapped(exact._X.X) and np.shares_memory(exact._X.X, big_reference.descriptors)
    fast = ReferenceDh(big_reference, fast_tol=1e-6)
    assert all(_mapped(array) for array in fast.index.arrays().values())


def test_exact_dh_against_a_mapped_reference_allocates_no_copy_of_it(big_reference, monkeypatch):
    # a small finiteness block, so the check's mask is small next to X (the default block is
    # 65,536 rows: 4 MiB of mask, against ~250 MiB for 5 x 10^5 rows)
    monkeypatch.setattr(validation, "_FINITE_CHUNK", 1024, raising=False)
    X = big_reference.descriptors
    Y = np.ascontiguousarray(X[:3]) + 1e-3
    kernel_sums.log_kernel_sums(Y, Y, np.array([1.0]))  # one-off loading of the compiled kernel
    tracemalloc.start()
    try:
        dh = ReferenceDh(big_reference)(Y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.isfinite(dh).all()
    # a centred copy of X (X.nbytes) or a whole-array mask (X.nbytes / 8) would exceed this;
    # the kernel's own buffers are ~1.5 MiB per thread
    assert peak < X.nbytes / 10, f"{peak / 2**20:.1f} MiB of temporaries, reference {X.nbytes / 2**20:.0f} MiB"


def _centred_first(Y, X, inv):
    """The kernel sums with X centred as a whole first (what log_kernel_sums did before it
    centred block by block): the same row and column blocks, the same products."""
    center = X.mean(axis=0)
    Xc = X - center
    x_norm2 = np.einsum("ij,ij->i", Xc, Xc)
    out = np.empty((len(Y), len(inv)))
    buffer = np.empty(kernel_sums.ROW_BLOCK * min(kernel_sums.COL_BLOCK, len(X)))
    with kernel_sums._single_threaded_blas():
        for r0 in range(0, len(Y), kernel_sums.ROW_BLOCK):
            Yb = Y[r0:r0 + kernel_sums.ROW_BLOCK] - center
            y_norm2 = np.einsum("ij,ij->i", Yb, Yb)
            best, sums = np.full(len(Yb), np.inf), np.zeros((len(Yb), len(inv)))
            for c0 in range(0, len(X), kernel_sums.COL_BLOCK):
                Xb = Xc[c0:c0 + kernel_sums.COL_BLOCK]
                block = buffer[:len(Yb) * len(Xb)].reshape(len(Yb), len(Xb))
                np.dot(Yb, Xb.T, out=block)
                kernel_sums._accumulate_block(block, y_norm2, x_norm2[c0:c0 + kernel_sums.COL_BLOCK], inv,
                                              best, sums)
            out[r0:r0 + len(Yb)] = np.log(sums) - best[:, None] * inv[None, :]
    return out


@pytest.mark.parametrize("threads", [1, 2])
def test_centring_block_by_block_gives_bitwise_the_same_sums(threads):
    rng = np.random.default_rng(2)
    X = rng.uniform(0.0, 0.1, size=(2_500, 63))  # column blocks of 1024, 1024 and 452 rows
    Y = X[rng.choice(len(X), 300)] + rng.normal(0.0, 0.002, size=(300, 63))  # row blocks 128, 128, 44
    inv = np.array([1.0 / (2 * 0.015**2), 1.0 / (2 * 0.05**2)])
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        sums = kernel_sums.log_kernel_sums(Y, X, inv)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(sums, _centred_first(Y, X, inv))
    # and the same as summing the centred data directly (to rounding)
    Xc, Yc = X - X.mean(axis=0), Y - X.mean(axis=0)
    d2 = ((Yc[:, None, :] - Xc[None, :, :]) ** 2).sum(axis=2)
    direct = np.log(np.exp(-d2[:, :, None] * inv[None, None, :]).sum(axis=1))
    np.testing.assert_allclose(sums, direct, rtol=0, atol=1e-9)
