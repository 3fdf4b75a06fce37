"""Learning curves: entropy against the number of environments, and the fit of paper Eq. 9.

f(N) = a - b exp(-c (log N)^2), a, b, c >= 0, fitted after discarding the first and last three
points (paper Methods). a is the asymptotic entropy and a - H(N) the information gap at N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lammps_quests.core._defaults import DEFAULT_BANDWIDTH
from lammps_quests.core._information import entropy

from ._progress import progress_bar

DISCARD = 3  # points dropped at each end before fitting (paper Methods)


def eq9(n, a: float, b: float, c: float):
    """f(N) = a - b exp(-c (log N)^2) in nats; N environments."""
    log_n = np.log(np.asarray(n, dtype=float))
    return a - b * np.exp(-c * log_n**2)


@dataclass(frozen=True)
class LearningCurve:
    """Entropy (nats) of random subsets: mean and standard deviation over repeats per size."""

    sizes: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    repeats: int
    seed: int
    bandwidth: float


@dataclass(frozen=True)
class Eq9Fit:
    """Fitted a, b, c of Eq. 9 (a, b in nats), their standard errors, and the points used."""

    a: float
    b: float
    c: float
    errors: tuple[float, float, float]
    n_points: int

    def gap(self, entropy_at_n: float) -> float:
        """Information gap a - H(N) in nats."""
        return self.a - float(entropy_at_n)

    def as_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "c": self.c, "errors": list(self.errors), "n_points": self.n_points}


def default_sizes(n_total: int, n_points: int = 16, smallest: int = 10) -> np.ndarray:
    """Log-spaced distinct subset sizes from ``smallest`` up to ``n_total`` included."""
    if n_total < 2:
        raise ValueError(f"a learning curve needs at least 2 environments, the data have {n_total}")
    smallest = min(smallest, n_total)
    sizes = np.unique(np.round(np.geomspace(smallest, n_total, n_points)).astype(np.int64))
    return sizes


def entropy_curve(
    X: np.ndarray,
    sizes=None,
    repeats: int = 3,
    seed: int = 0,
    h: float = DEFAULT_BANDWIDTH,
    progress: bool | None = None,
    labels: np.ndarray | None = None,
    n_species: int = 0,
) -> LearningCurve:
    """H of ``repeats`` random subsets (without replacement) of the rows of ``X`` per size.

    Subsets of the full size are the full set (one distinct value, repeated). Species-aware
    descriptors (``labels``: centre species numbers, ``n_species`` >= 1): H with the kernel
    that compares environments of the same centre species only.
    """
    n_total = len(X)
    sizes = default_sizes(n_total) if sizes is None else np.asarray(sorted(set(int(s) for s in sizes)))
    if sizes.size == 0 or sizes[0] < 1 or sizes[-1] > n_total:
        raise ValueError(f"subset sizes must lie in 1..{n_total} (the number of environments), got {sizes.tolist()}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    rng = np.random.default_rng(seed)
    values = np.empty((sizes.size, repeats))
    with progress_bar(sizes.size * repeats, "learning curve", enabled=progress, unit="subset") as bar:
        for i, size in enumerate(sizes):
            for r in range(repeats):
                rows = np.sort(rng.choice(n_total, size=int(size), replace=False))
                values[i, r] = entropy(X[rows], h, labels=labels[rows] if n_species else None)
                bar.update(1)
    return LearningCurve(sizes, values.mean(axis=1), values.std(axis=1), repeats, seed, float(h))


def fit_eq9(sizes, entropies, discard: int = DISCARD) -> Eq9Fit:
    """Least-squares fit of Eq. 9 with a, b, c >= 0 to H(N), dropping ``discard`` points per end."""
    sizes = np.asarray(sizes, dtype=float)
    entropies = np.asarray(entropies, dtype=float)
    kept = slice(discard, len(sizes) - discard)
    n, y = sizes[kept], entropies[kept]
    if n.size < 3:
        raise ValueError(
            f"the Eq. 9 fit needs at least 3 points after dropping {discard} at each end; "
            f"got {len(sizes)} sizes in total: use at least {2 * discard + 3} subset sizes"
        )
    # Start from the largest entropy as asymptote and a decay reaching half way at the median N.
    a0 = max(float(y.max()), 1e-6)
    b0 = max(a0 - float(y.min()), 1e-6)
    c0 = np.log(2.0) / max(np.log(np.median(n)) ** 2, 1e-6)
    # imported here, not at module level: every LAMMPS rank that runs the monitor imports this
    # package, and scipy's sub-packages cost ~0.3 s of CPU there for nothing
    from scipy.optimize import curve_fit

    params, covariance = curve_fit(
        eq9, n, y, p0=(a0, b0, c0), bounds=([0.0, 0.0, 0.0], [np.inf, np.inf, np.inf]), maxfev=20000
    )
    errors = np.sqrt(np.clip(np.diag(covariance), 0.0, np.inf))
    return Eq9Fit(float(params[0]), float(params[1]), float(params[2]), tuple(float(e) for e in errors), int(n.size))


def write_curve_csv(path, curve: LearningCurve, fit: Eq9Fit | None) -> None:
    """CSV: size, mean entropy, std, Eq. 9 value at that size (empty without a fit)."""
    import csv

    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["n_environments", "entropy_mean", "entropy_std", "eq9_fit"])
        for size, mean, std in zip(curve.sizes, curve.mean, curve.std):
            fitted = f"{float(eq9(size, fit.a, fit.b, fit.c)):.6f}" if fit else ""
            writer.writerow([int(size), f"{mean:.6f}", f"{std:.6f}", fitted])
