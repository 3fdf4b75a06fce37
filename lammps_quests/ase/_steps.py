"""MD steps for an ASE observer: which dynamics calls it, and a valid attach interval."""

from __future__ import annotations

import numbers
import sys


def check_interval(interval) -> int:
    """An observer interval in MD steps: an integer >= 1, else ValueError naming it."""
    if isinstance(interval, bool) or not isinstance(interval, numbers.Integral) or interval < 1:
        raise ValueError(f"interval must be a whole number of MD steps >= 1, got {interval!r}")
    return int(interval)


def calling_dynamics(observer, depth: int = 4):
    """The ASE dynamics whose observer list holds ``observer`` and that is calling it now
    (``dyn.attach(observer, interval=N)`` hands the observer no dynamics), else None.

    ASE calls observers from ``Dynamics.call_observers``; the frames just above the
    observer's ``__call__`` are searched for a ``self`` with ``nsteps`` and ``observers``
    that lists the observer, so the step label is the dynamics' own, never a call count.
    """
    frame = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            return None
        candidate = frame.f_locals.get("self")
        observers = getattr(candidate, "observers", None)
        if hasattr(candidate, "nsteps") and isinstance(observers, list) and any(
                entry and entry[0] is observer for entry in observers):
            return candidate
        frame = frame.f_back
    return None
