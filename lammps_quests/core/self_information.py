"""The leave-one-out dH summary of a reference (threshold guidance), cached in its header.

Computed from the descriptors alone, so :meth:`lammps_quests.formats.reference.Reference.build`
stores it in every species-agnostic reference it makes, and ``reference info``, the fix log
and ``reference build`` all print the same numbers for one file (see
:mod:`lammps_quests.active.threshold` for what they mean).
"""

from __future__ import annotations

import numpy as np

from lammps_quests.core.leave_one_out import leave_one_out_log_sums

FULL_ROWS = 50_000
SAMPLE_ROWS = 10_000
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
LEVELS = (0.0, 1.0, 5.0)  # nats
HEADER_KEY = "self_information"
#: header key of the per-element summaries of a species-aware reference (element -> summary)
SPECIES_HEADER_KEY = "self_information_per_species"


def rows_used(n: int, max_rows: int = FULL_ROWS, sample_rows: int = SAMPLE_ROWS) -> int:
    """Rows :func:`self_information` computes for n reference rows: all, or the sample."""
    return n if n <= max_rows else min(sample_rows, n)


def self_information(X, bandwidth: float, max_rows: int = FULL_ROWS, sample_rows: int = SAMPLE_ROWS,
                     seed: int = 0, progress=None) -> dict:
    """Leave-one-out dH summary (nats) of reference descriptors X (Å^-1) at bandwidth h (Å^-1).

    Returns a JSON-ready dict: bandwidth, n, rows used, sampled (bool), distinct rows,
    percentiles, max, fraction_above {"0", "1", "5"}, and entropy H(X) (None when sampled).
    ``progress``: None, or called with rows done after each block; :func:`rows_used` in all.
    """
    X = np.asarray(X)
    n = len(X)
    sampled = n > max_rows
    rows = None
    if sampled:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=min(sample_rows, n), replace=False))
    with_self, without = leave_one_out_log_sums(X, bandwidth, rows, progress=progress)
    loo = -without
    distinct = len(np.unique(np.asarray(X), axis=0))
    return {
        "bandwidth": float(bandwidth),
        "n": int(n),
        "rows": int(len(loo)),
        "sampled": bool(sampled),
        "distinct": int(distinct),
        "percentiles": {str(p): float(v) for p, v in zip(PERCENTILES, np.percentile(loo, PERCENTILES))},
        "max": float(loo.max()),
        "fraction_above": {f"{level:g}": float(np.mean(loo > level)) for level in LEVELS},
        "entropy": None if sampled else float(np.log(n) - with_self.mean()),
    }
