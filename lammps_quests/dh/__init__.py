"""dH (nats) of atoms against one reference: the one path every route takes.

:class:`ReferenceDh` binds a reference to a bandwidth (Å^-1) and a mode (exact, or the fast
index with a tolerance and optional decision thresholds) and gives the descriptors (Å^-1) and
dH of any atoms. ``fix quests`` (both routes), the ASE monitor, ``lammps-quests dh``, the OVITO
modifier and the saver of :mod:`lammps_quests.active` all call it, so their numbers agree.
Tier: above :mod:`lammps_quests.formats`, below :mod:`lammps_quests.analysis` and
:mod:`lammps_quests.monitor`.
"""

from ._reference_dh import ReferenceDh

__all__ = ["ReferenceDh"]
