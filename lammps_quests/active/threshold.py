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

from lammps_quests.core.self_information import (FULL_ROWS, HEADER_KEY, LEVELS, PERCENTILES,  # noqa: F401
                                                  SAMPLE_ROWS, SPECIES_HEADER_KEY, self_information)


def cached_self_information(reference, bandwidth: float) -> dict | None:
    """The summary stored in a reference's header for bandwidth h, else None."""
    info = (getattr(reference, "extra", None) or {}).get(HEADER_KEY)
    return info if _for_bandwidth(info, bandwidth) else None


def element_self_information(reference, bandwidth: float, max_rows: int = FULL_ROWS,
                             sample_rows: int = SAMPLE_ROWS) -> tuple[list[tuple[str, dict]], bool]:
    """Per centre element of a species-aware reference: (element, leave-one-out summary of its
    environments against that element's rows, as dH is computed), in the reference's order.

    From the header cache when it holds bandwidth h (Å^-1) for every element, else computed now
    (:func:`self_information` with ``max_rows`` / ``sample_rows``). Returns (summaries, cached).
    """
    cached = (getattr(reference, "extra", None) or {}).get(SPECIES_HEADER_KEY)
    elements = list(reference.element_rows())
    if isinstance(cached, dict) and all(_for_bandwidth(cached.get(name), bandwidth) for name, _ in elements):
        return [(name, cached[name]) for name, _ in elements], True
    return [(name, self_information(rows, bandwidth, max_rows=max_rows, sample_rows=sample_rows))
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
