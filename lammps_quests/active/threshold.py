"""Threshold guidance: the reference's own leave-one-out dH distribution and its entropy.

dH(x_i | X without x_i) tells how a training environment would look to ``fix quests`` had it
been left out of the training set: if 5% of the reference lies above 1 nat, a run showing
dH = 1 is no farther from the data than the training set's own tail. :func:`self_information`
computes the distribution (percentiles, fractions above 0, 1 and 5 nats) and, from the same
kernel sums, the entropy H(X) that the entropy added by saved environments is measured from.

Cost: n^2 kernel pairs for all rows. References of at most ``FULL_ROWS`` rows are done whole
(cached in the ``.qref`` header at build time); larger ones use a deterministic sample of
``SAMPLE_ROWS`` rows against the full reference (sample x n pairs) and leave H(X) out.
"""

from __future__ import annotations

import numpy as np

from lammps_quests.core.leave_one_out import leave_one_out_log_sums

FULL_ROWS = 50_000
SAMPLE_ROWS = 10_000
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
LEVELS = (0.0, 1.0, 5.0)  # nats
HEADER_KEY = "self_information"


def self_information(X, h: float, max_rows: int = FULL_ROWS, sample_rows: int = SAMPLE_ROWS,
                     seed: int = 0) -> dict:
    """Leave-one-out dH summary (nats) of reference descriptors X (Å^-1) at bandwidth h (Å^-1).

    Returns a JSON-ready dict: bandwidth, n, rows used, sampled (bool), distinct rows,
    percentiles, max, fraction_above {"0", "1", "5"}, and entropy H(X) (None when sampled).
    """
    X = np.asarray(X)
    n = len(X)
    sampled = n > max_rows
    rows = None
    if sampled:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=min(sample_rows, n), replace=False))
    with_self, without = leave_one_out_log_sums(X, h, rows)
    loo = -without
    distinct = len(np.unique(np.asarray(X), axis=0))
    return {
        "bandwidth": float(h),
        "n": int(n),
        "rows": int(len(loo)),
        "sampled": bool(sampled),
        "distinct": int(distinct),
        "percentiles": {str(p): float(v) for p, v in zip(PERCENTILES, np.percentile(loo, PERCENTILES))},
        "max": float(loo.max()),
        "fraction_above": {f"{level:g}": float(np.mean(loo > level)) for level in LEVELS},
        "entropy": None if sampled else float(np.log(n) - with_self.mean()),
    }


def cached_self_information(reference, h: float) -> dict | None:
    """The summary stored in a reference's header for bandwidth h, else None."""
    info = (getattr(reference, "extra", None) or {}).get(HEADER_KEY)
    if isinstance(info, dict) and np.isclose(float(info.get("bandwidth", -1.0)), h, rtol=1e-12, atol=0.0):
        return info
    return None


def describe(info: dict, indent: str = "") -> str:
    """Lines of text for a summary from :func:`self_information` (``reference info``, fix log)."""
    how = (f"a sample of {info['rows']} of {info['n']} environments" if info["sampled"]
           else f"all {info['n']} environments")
    percentiles = ", ".join(f"{p}%: {v:.3g}" for p, v in info["percentiles"].items())
    above = ", ".join(f"> {level}: {fraction:.2%}" for level, fraction in info["fraction_above"].items())
    lines = [
        f"leave-one-out dH of the reference's own environments (nats, h = {info['bandwidth']:g} 1/Angstrom, "
        f"{how}; {info['distinct']} distinct rows, duplicates kept):",
        f"  percentiles {percentiles}; max {info['max']:.3g}",
        f"  fraction above {above}",
    ]
    if info.get("entropy") is not None:
        lines.append(f"  entropy H = {info['entropy']:.9g} nats")
    return "\n".join(indent + line for line in lines)
