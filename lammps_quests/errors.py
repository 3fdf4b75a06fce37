"""Exceptions of the package that callers may want to catch by type.

Input problems stay ``ValueError`` (a reference file, a structure, a setting): their messages
name the problem and the fix. The classes here are for events a caller handles on purpose.
"""

from __future__ import annotations


class QuestsError(Exception):
    """Base class of the package's own exceptions."""


class QuestsHalt(QuestsError):
    """A monitored run left the reference: max dH exceeded the halt threshold.

    Attributes:
        step: MD step of the evaluation that stopped the run.
        max_dh: largest per-atom dH of that evaluation, nats.
        threshold: the halt threshold, nats.
        count_above: atoms with dH above the monitor's threshold at that evaluation.
    """

    def __init__(self, step: int, max_dh: float, threshold: float, count_above: int = 0):
        self.step = int(step)
        self.max_dh = float(max_dh)
        self.threshold = float(threshold)
        self.count_above = int(count_above)
        super().__init__(
            f"max dH = {self.max_dh:.6g} nats > halt threshold {self.threshold:g} at step "
            f"{self.step}; {self.count_above} atoms above the monitor's threshold; the run was stopped"
        )
