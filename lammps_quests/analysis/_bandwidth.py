"""Volume-dependent kernel bandwidth h(V) of the paper (SI A.11.2, as published).

h(V) = 0.0897141 exp(-0.5 (V / 10.896)^2) + 0.0119417, V in Å^3/atom, h in Å^-1.
"""

from __future__ import annotations

import numpy as np

_AMPLITUDE = 0.0897141  # Å^-1
_WIDTH = 10.896  # Å^3/atom
_FLOOR = 0.0119417  # Å^-1


def bandwidth_for_volume(volume_per_atom):
    """h(V) in Å^-1 for a volume per atom V in Å^3 (a number or an array); V must be > 0."""
    volume = np.asarray(volume_per_atom, dtype=float)
    if not np.all(np.isfinite(volume)) or np.any(volume <= 0):
        raise ValueError(f"volume per atom must be finite and > 0 (Å^3/atom), got {volume_per_atom!r}")
    h = _AMPLITUDE * np.exp(-0.5 * (volume / _WIDTH) ** 2) + _FLOOR
    return float(h) if h.ndim == 0 else h


def volume_per_atom(frame) -> float:
    """Cell volume divided by the number of atoms (Å^3/atom) of a fully periodic ase.Atoms."""
    if not all(frame.pbc):
        raise ValueError("volume per atom needs a cell periodic in all three directions")
    return float(abs(frame.get_volume()) / len(frame))
