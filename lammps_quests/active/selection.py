"""Greedy selection of the structures that add the most information to a reference.

The one implementation is :mod:`lammps_quests.analysis.selection` (species-agnostic and
species-aware references alike); this module keeps the names active learning has always
exported (:class:`Pick`, :class:`Selection`, :func:`select`).
"""

from __future__ import annotations

from lammps_quests.analysis.selection import Pick, Selection, select

__all__ = ["Pick", "Selection", "select"]
