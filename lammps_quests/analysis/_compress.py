"""Dataset compression: keep a fraction of the frames, chosen to keep the entropy high.

Methods (frames are the unit kept or dropped, as in a training set):

* ``random``: a uniform random subset (the paper's Fig. 2d-e).
* ``fps``: farthest-point sampling of frames in descriptor space, each frame represented by
  the mean of its atoms' descriptors (Å^-1); picks frames unlike the ones already kept.
* ``novelty``: greedy: repeatedly keep the frame whose atoms have the largest mean dH against
  the environments kept so far, i.e. the frame bringing the most new information.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lammps_quests.core._defaults import DEFAULT_BANDWIDTH
from lammps_quests.core._information import delta_entropy

from ._progress import progress_bar

METHODS = ("random", "fps", "novelty")


@dataclass(frozen=True)
class Compression:
    """Chosen frames (indices into the input order) and the entropy they keep (nats)."""

    method: str
    selected: np.ndarray
    n_frames: int
    entropy_full: float
    entropy_subset: float
    n_environments_full: int
    n_environments_subset: int

    @property
    def entropy_kept(self) -> float | None:
        """H(subset) / H(full); None when H(full) = 0 (one environment, or copies of one).

        Entropy is not monotone in the set: dropping redundant copies raises it, so a subset of
        a redundant dataset can keep more than 1. Compare with log n of each to see redundancy.
        """
        return self.entropy_subset / self.entropy_full if self.entropy_full > 0 else None

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "n_frames": self.n_frames,
            "n_selected": int(self.selected.size),
            "selected": self.selected.tolist(),
            "entropy_full": self.entropy_full,
            "entropy_subset": self.entropy_subset,
            "entropy_kept": self.entropy_kept,
            "n_environments_full": self.n_environments_full,
            "n_environments_subset": self.n_environments_subset,
        }


def n_to_keep(n_frames: int, fraction: float) -> int:
    """Number of frames for ``fraction`` in (0, 1], at least one."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"--fraction must be in (0, 1], got {fraction}")
    return max(1, int(round(fraction * n_frames)))


def select_frames(
    X: np.ndarray, frame_sizes, fraction: float, method: str = "random", h: float = DEFAULT_BANDWIDTH, seed: int = 0,
    progress: bool | None = None, labels: np.ndarray | None = None, n_species: int = 0,
) -> np.ndarray:
    """Indices (ascending) of the frames to keep; ``X`` holds all atoms' descriptors in frame order.

    Species-aware descriptors: ``labels`` (centre species numbers) and ``n_species`` >= 1.
    """
    frame_sizes = np.asarray(frame_sizes, dtype=np.int64)
    n_keep = n_to_keep(frame_sizes.size, fraction)
    rng = np.random.default_rng(seed)
    if method == "random":
        chosen = rng.choice(frame_sizes.size, size=n_keep, replace=False)
    elif method == "fps":
        chosen = _farthest_point_frames(X, frame_sizes, n_keep, rng)
    elif method == "novelty":
        chosen = _greedy_novelty_frames(X, frame_sizes, n_keep, h, rng, progress, labels, n_species)
    else:
        raise ValueError(f"unknown compression method {method!r}; choose one of {', '.join(METHODS)}")
    return np.sort(np.asarray(chosen, dtype=np.int64))


def compress(X, frame_sizes, fraction, method="random", h=DEFAULT_BANDWIDTH, seed=0, progress=None,
             labels=None, n_species: int = 0) -> Compression:
    """Select frames and report the entropy of the subset against that of the full set.

    Species-aware descriptors: ``labels`` (centre species numbers) and ``n_species`` >= 1; the
    entropies then use the kernel that compares environments of one centre species only.
    """
    frame_sizes = np.asarray(frame_sizes, dtype=np.int64)
    selected = select_frames(X, frame_sizes, fraction, method, h, seed, progress, labels, n_species)
    rows = _rows_of_frames(frame_sizes, selected)
    return Compression(
        method=method,
        selected=selected,
        n_frames=int(frame_sizes.size),
        entropy_full=_entropy(X, h, labels, n_species),
        entropy_subset=_entropy(X[rows], h, None if labels is None else labels[rows], n_species),
        n_environments_full=int(len(X)),
        n_environments_subset=int(rows.size),
    )


def _entropy(X, h, labels, n_species) -> float:
    from lammps_quests.core._information import entropy

    return float(entropy(X, h, labels=labels if n_species else None))


def _log_kernel_sums(X, kept, h, labels, kept_labels, n_species) -> np.ndarray:
    """log sum over ``kept`` rows of K(x, .) for every row x of X (-inf where none is of x's
    centre species, for species-aware descriptors)."""
    if not n_species:
        return -delta_entropy(X, kept, h)
    sums = np.full(len(X), -np.inf)
    for s in range(n_species):
        mine, theirs = labels == s, kept_labels == s
        if mine.any() and theirs.any():
            sums[mine] = -delta_entropy(X[mine], kept[theirs], h)
    return sums


def _rows_of_frames(frame_sizes: np.ndarray, frames: np.ndarray) -> np.ndarray:
    starts = np.concatenate([[0], np.cumsum(frame_sizes)[:-1]])
    return np.concatenate([np.arange(starts[f], starts[f] + frame_sizes[f]) for f in frames])


def _farthest_point_frames(X, frame_sizes, n_keep, rng) -> list[int]:
    starts = np.concatenate([[0], np.cumsum(frame_sizes)[:-1]])
    means = np.add.reduceat(X, starts, axis=0) / frame_sizes[:, None]
    chosen = [int(rng.integers(len(means)))]
    distance = np.linalg.norm(means - means[chosen[0]], axis=1)
    while len(chosen) < n_keep:
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, np.linalg.norm(means - means[nxt], axis=1))
    return chosen


def _greedy_novelty_frames(X, frame_sizes, n_keep, h, rng, progress, labels=None, n_species=0) -> list[int]:
    """Greedy max-novelty selection with running log kernel sums (one dH call per pick)."""
    starts = np.concatenate([[0], np.cumsum(frame_sizes)[:-1]])
    frame_of_row = np.repeat(np.arange(frame_sizes.size), frame_sizes)
    # log sum_j K(x, x_j) over the kept environments x_j, for every environment x; -inf = none.
    log_sums = np.full(len(X), -np.inf)
    chosen = [int(rng.integers(frame_sizes.size))]
    available = np.ones(frame_sizes.size, dtype=bool)
    with progress_bar(n_keep, "novelty selection", enabled=progress, unit="frame") as bar:
        while True:
            last = chosen[-1]
            available[last] = False
            bar.update(1)
            if len(chosen) == n_keep:
                break
            kept = slice(starts[last], starts[last] + frame_sizes[last])
            kept_labels = None if labels is None else labels[kept]
            log_sums = np.logaddexp(log_sums, _log_kernel_sums(X, X[kept], h, labels, kept_labels, n_species))
            mean_dh = np.bincount(frame_of_row, weights=-log_sums, minlength=frame_sizes.size) / frame_sizes
            mean_dh[~available] = -np.inf
            chosen.append(int(np.argmax(mean_dh)))
    return chosen
