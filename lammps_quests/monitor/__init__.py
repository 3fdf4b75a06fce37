"""The monitor of a run: per-atom dH of every evaluation, its statistics and what they decide.

One core serves every host: ``fix quests`` (the plugin and its python/invoke route,
:mod:`lammps_quests.lammps`) and the ASE monitor (:mod:`lammps_quests.ase`). A
:class:`Monitor` checks the reference once (k, cutoff in Å, species, bandwidth in Å^-1),
computes dH (nats) through :class:`lammps_quests.dh.ReferenceDh`, and holds the statistics
(:data:`QUANTITIES`), the threshold, halt and save decisions, and the saver of
:mod:`lammps_quests.active`. Tier: above :mod:`lammps_quests.active`, below the hosts.
"""

from ._monitor import PARTIALS, QUANTITIES, REDUCTIONS, Evaluation, Monitor, MonitorSettings, Statistics

__all__ = ["PARTIALS", "QUANTITIES", "REDUCTIONS", "Evaluation", "Monitor", "MonitorSettings", "Statistics"]
