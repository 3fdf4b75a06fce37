"""How far bounds that keep or skip whole clusters can take the fast path: terms kept per kind of bound.

    python benchmarks/bench_bound_floors.py [--rows 500000] [--two-elements] [--sample 240]
        [--block 8] [--axes 16] [--fast 1e-6] [--tolerances 1e-6 1e-4 1e-2 1e-1]

Data: benchmarks/fast_dh_data.py. Species-agnostic: a reference of ``--rows`` random
environments and queries half in, half out of distribution (as benchmarks/bench_fast_dh.py).
With ``--two-elements``: each centre element of the Ni-Al reference (width 189) against the query
atoms of that element (as benchmarks/bench_species_fast.py). One cluster index of the default
cluster size per reference; ``--sample`` query atoms.

Each kind of cluster bound goes through the fast path's skip rule (always sum the nearest cluster,
whose exact sum is S1; skip the clusters of smallest bound while the bounds add up to at most
(1 - e^-tol) S1). Reported: the mean fraction of the kernel terms summed, with the bound

* ``rings``: the fast path's own (each cluster's 32 rings of distance to the centroid);
* ``radii``: sum over the members of exp(-s (D - rho_x)^2), D = |y - mu|, rho_x = |x - mu|:
  what any bound built from the members' distances to their centroid can reach at best;
* ``blocks``: sum over the members of exp(-s sum_b (D_b - rho_x,b)^2), the columns cut into
  blocks of ``--block`` (the triangle inequality block by block: tighter than ``radii``);
* ``axes``: sum over the members of exp(-s l_x), l_x = D^2 + rho_x^2 - 2 (a_y . a_x + r_y r_x) <=
  |y - x|^2, with a the coordinates on the cluster's first ``--axes`` principal axes and r the
  norm of the rest (Cauchy-Schwarz on the rest): a bound that knows each member's direction;
* ``cluster oracle``: every cluster's exact sum (and the whole sum S as the budget);
* ``oracle``: every single term (the floor of any bound).

The floors are analysis, not certified bounds (no rounding slack). Then the fast path itself at
each of ``--tolerances`` (nats): terms summed and its worst error against exact. Fractions only:
no timing, so the load of the machine does not change the numbers.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_dh_data import (DEFAULT_CACHE, cluster_oracle_fraction, load_runs, load_species_runs,  # noqa: E402
                          oracle_fraction, queries)

from lammps_quests.core._cluster_index import build_cluster_index  # noqa: E402
from lammps_quests.core._defaults import DEFAULT_BANDWIDTH, DEFAULT_FAST_TOLERANCE  # noqa: E402
from lammps_quests.core._kernel_sums import log_kernel_sums  # noqa: E402
from lammps_quests.core._pruned_sums import _needed, cluster_log_bounds, pruned_log_kernel_sums  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000, help="species-agnostic reference size")
    parser.add_argument("--two-elements", action="store_true", help="the species-aware Ni-Al data instead")
    parser.add_argument("--sample", type=int, default=240, help="query atoms (half in, half out)")
    parser.add_argument("--block", type=int, default=8, help="columns per block of the 'blocks' bound")
    parser.add_argument("--axes", type=int, default=16, help="principal axes per cluster of the 'axes' bound")
    parser.add_argument("--fast", type=float, default=DEFAULT_FAST_TOLERANCE, metavar="TOL",
                        help="tolerance of the floors, nats")
    parser.add_argument("--tolerances", type=float, nargs="+", default=[1e-6, 1e-4, 1e-2, 1e-1],
                        help="tolerances (nats) of the fast path's own runs")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    return parser.parse_args()


def data_sets(args, rng) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, reference rows, query rows) per reference: one, or one per centre element."""
    if not args.two_elements:
        pool = np.concatenate(list(load_runs("ref", args.cache).values()))
        X = pool[np.sort(rng.choice(len(pool), min(args.rows, len(pool)), replace=False))]
        Y, _ = queries(args.cache, args.sample, rng)
        return [(f"agnostic, {len(X)} rows", X, Y)]
    runs = load_species_runs("ref", args.cache)
    X = np.concatenate([rows for rows, _ in runs.values()])
    x_labels = np.concatenate([labels for _, labels in runs.values()])
    picked, picked_labels = [], []
    for kind in ("in", "out"):
        runs = load_species_runs(kind, args.cache)
        pool = np.concatenate([rows for rows, _ in runs.values()])
        labels = np.concatenate([labels for _, labels in runs.values()])
        pick = np.sort(rng.choice(len(pool), args.sample // 2, replace=False))
        picked.append(pool[pick])
        picked_labels.append(labels[pick])
    Y, y_labels = np.concatenate(picked), np.concatenate(picked_labels)
    return [(f"element {e}, {int(np.sum(x_labels == e))} rows", X[x_labels == e], Y[y_labels == e])
            for e in np.unique(x_labels)]


class MemberBounds:
    """Lower bounds of |y - x|^2 (Å^-2) for every member x of every cluster of ``index``, from what
    a bound could store per member: its distance to the centroid (``radii``), those distances
    block by block (``blocks``), or its coordinates on the cluster's ``axes`` principal axes and
    the norm of the rest (``axes``)."""

    def __init__(self, index, block: int, axes: int):
        sizes = np.diff(index.offsets)
        self.members = np.repeat(np.arange(index.n_clusters), sizes)
        self.centroids = index.centroids
        offsets = index.columns.T - index.centroids[self.members]
        width = offsets.shape[1]
        self.blocks = [slice(a, min(a + block, width)) for a in range(0, width, block)]
        self.rho2 = np.einsum("ij,ij->i", offsets, offsets)
        self.block_rho = np.stack([np.linalg.norm(offsets[:, b], axis=1) for b in self.blocks], axis=1)
        self.axes = np.zeros((index.n_clusters, axes, width))
        self.coords = np.empty((len(offsets), axes))
        for c in range(index.n_clusters):
            rows = slice(index.offsets[c], index.offsets[c + 1])
            found = np.linalg.svd(offsets[rows], full_matrices=False)[2][:axes]
            self.axes[c, :len(found)] = found
            self.coords[rows] = offsets[rows] @ self.axes[c].T
        self.rest = np.sqrt(np.maximum(self.rho2 - np.einsum("ij,ij->i", self.coords, self.coords), 0.0))

    def lower_bounds(self, y) -> dict[str, np.ndarray]:
        """{kind: (n,) lower bounds of |y - x|^2} for the centred query y (Å^-1)."""
        m = self.members
        v = y[None, :] - self.centroids
        D2 = np.einsum("ij,ij->i", v, v)
        D_blocks = np.stack([np.linalg.norm(v[:, b], axis=1) for b in self.blocks], axis=1)
        along = np.einsum("cpd,cd->cp", self.axes, v)
        across = np.sqrt(np.maximum(D2 - np.einsum("cp,cp->c", along, along), 0.0))
        cross = np.einsum("ip,ip->i", along[m], self.coords) + across[m] * self.rest
        return {"radii": (np.sqrt(D2)[m] - np.sqrt(self.rho2)) ** 2,
                "blocks": ((D_blocks[m] - self.block_rho) ** 2).sum(axis=1),
                "axes": np.maximum(D2[m] + self.rho2 - 2.0 * cross, 0.0)}


def member_floors(Y, index, scale: float, tol: float, block: int, axes: int) -> dict[str, float]:
    """Mean fraction of terms summed under the skip rule with the 'rings', 'radii', 'blocks' and
    'axes' bounds (module docstring) for the queries Y (Å^-1; scale = 1 / (2 h^2), Å^2)."""
    sizes = np.diff(index.offsets)
    bounds_of = MemberBounds(index, block, axes)
    Yc = np.asarray(Y, dtype=np.float64) - index.center
    y_norm2 = np.einsum("ij,ij->i", Yc, Yc)
    c_norm2 = np.einsum("ij,ij->i", index.centroids, index.centroids)
    rings = cluster_log_bounds(Yc, y_norm2, index, np.ascontiguousarray(index.centroids), c_norm2, scale)
    kept = {name: [] for name in ("rings", "radii", "blocks", "axes")}
    for q, y in enumerate(Yc):
        d2 = np.maximum(y_norm2[q] + index.row_norm2 - 2.0 * (y @ index.columns), 0.0)
        low = d2.min()
        nearest = int(np.argmin(c_norm2 - 2.0 * (index.centroids @ y)))
        s1 = np.exp(-(d2[bounds_of.members == nearest] - low) * scale).sum()
        budget = np.array([math.log(s1) + math.log(-math.expm1(-tol))])
        found = {"rings": rings[q] + low * scale}  # all bounds relative to exp(-s low)
        for name, lower in bounds_of.lower_bounds(y).items():
            with np.errstate(divide="ignore"):
                found[name] = np.log(np.bincount(bounds_of.members, weights=np.exp(-(lower - low) * scale),
                                                 minlength=index.n_clusters))
        for name, bounds in found.items():
            bounds[nearest] = -np.inf
            need = _needed(bounds[None, :], budget)[0]
            kept[name].append((sizes[need].sum() + sizes[nearest]) / index.n_rows)
    return {name: float(np.mean(values)) for name, values in kept.items()}


def tolerance_runs(Y, X, index, scale: float, tolerances) -> list[tuple[float, float, float]]:
    """(tol, fraction of terms summed, worst dH error in nats) of the fast path per tolerance."""
    exact = log_kernel_sums(Y, X, np.array([scale]))[:, 0]
    out = []
    for tol in tolerances:
        stats = {}
        fast = pruned_log_kernel_sums(Y, index, scale, tol=tol, stats=stats)
        out.append((tol, stats["pairs"] / (len(Y) * len(X)), float(np.max(exact - fast))))
    return out


def main() -> None:
    args = parse_args()
    h = DEFAULT_BANDWIDTH
    scale = 1.0 / (2.0 * h * h)
    rng = np.random.default_rng(0)
    for name, X, Y in data_sets(args, rng):
        X = np.ascontiguousarray(X, dtype=np.float64)
        index = build_cluster_index(X)
        print(f"# {name}, width {X.shape[1]}, {index.n_clusters} clusters, {len(Y)} queries; "
              f"bandwidth {h} Å^-1, tol {args.fast} nats", flush=True)
        floors = member_floors(Y, index, scale, args.fast, args.block, args.axes)
        floors["cluster oracle"] = cluster_oracle_fraction(Y, index, h, args.fast, sample=len(Y))
        floors["oracle"] = oracle_fraction(Y, X, h, args.fast, sample=len(Y))
        for bound, fraction in floors.items():
            label = {"blocks": f"blocks of {args.block}", "axes": f"{args.axes} axes"}.get(bound, bound)
            print(f"  {label:<16} {100 * fraction:5.1f} % of the terms summed")
        for tol, fraction, error in tolerance_runs(Y, X, index, scale, args.tolerances):
            print(f"  fast path, tol {tol:<7g} {100 * fraction:5.1f} % of the terms, worst error {error:.2e} nats")


if __name__ == "__main__":
    main()
