"""Threshold guidance: a reference's own leave-one-out dH distribution and its entropy.

dH(x_i | X without x_i) tells how a training environment would look to ``fix quests`` had it
been left out of the training set: if 5% of the reference lies above 1 nat, a run showing
dH = 1 is no farther from the data than the training set's own tail. :func:`self_information`
computes the distribution (percentiles, fractions above 0, 1 and 5 nats) and, from the same
kernel sums, the entropy H(X) that the entropy added by saved environments is measured from;
:func:`describe` and :func:`describe_elements` print it (``reference info``, ``reference
build``, the fix log), :func:`cached_self_information` and :func:`element_self_information`
read it from a reference's header.

Every guidance function is here; the kernel sums with and without each row's own term are
numerics, in :mod:`lammps_quests.core._leave_one_out`. Computed from the descriptors alone, so
``Reference.build`` caches the summary in every reference it makes (header key
``self_information``; per centre element, ``self_information_per_species``), and every reader
prints the same numbers for one file.

Cost: n^2 kernel pairs for all rows. References of at most ``FULL_ROWS`` rows are done whole;
larger ones use a deterministic sample of ``SAMPLE_ROWS`` rows against the full reference
(sample x n pairs) and leave H(X) out. Units: dH and H in nats, bandwidths in Å^-1.
"""

from __future__ import annotations

import numpy as np

from lammps_quests.core._leave_one_out import leave_one_out_log_sums

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


def self_information(X, h: float, max_rows: int = FULL_ROWS, sample_rows: int = SAMPLE_ROWS,
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
    with_self, without = leave_one_out_log_sums(X, h, rows, progress=progress)
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
    return info if _for_bandwidth(info, h) else None


def element_self_information(reference, h: float, max_rows: int = FULL_ROWS,
                             sample_rows: int = SAMPLE_ROWS) -> tuple[list[tuple[str, dict]], bool]:
    """Per centre element of a species-aware reference: (element, leave-one-out summary of its
    environments against that element's rows, as dH is computed), in the reference's order.

    From the header cache when it holds bandwidth h (Å^-1) for every element, else computed now
    (:func:`self_information` with ``max_rows`` / ``sample_rows``). Returns (summaries, cached).
    """
    cached = (getattr(reference, "extra", None) or {}).get(SPECIES_HEADER_KEY)
    elements = list(reference.element_rows())
    if isinstance(cached, dict) and all(_for_bandwidth(cached.get(name), h) for name, _ in elements):
        return [(name, cached[name]) for name, _ in elements], True
    return [(name, self_information(rows, h, max_rows=max_rows, sample_rows=sample_rows))
            for name, rows in elements], False


def _for_bandwidth(info, h: float) -> bool:
    return isinstance(info, dict) and bool(np.isclose(float(info.get("bandwidth", -1.0)), h, rtol=1e-12, atol=0.0))


def describe_elements(summaries: list[tuple[str, dict]], indent: str = "") -> str:
    """Lines of text for :func:`element_self_information`'s summaries, one block per element."""
    return "\n".join(f"{indent}  centred on {name}:\n" + describe(info, indent=indent + "    ")
                     for name, info in summaries)


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
