"""The modifier's reference, loaded once and kept while its file and settings stay the same.

OVITO calls a modifier once per frame; reading a reference (and its fast index) each time would
cost more than the dH of a small frame. :class:`ReferenceCache` keeps one
:class:`~lammps_quests.dh.ReferenceDh` keyed by the file's path, size and
modification time (and those of the fast index) and by the settings, so editing a setting or
rebuilding the file in place loads it again and nothing else does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from lammps_quests.errors import QuestsInputError
from lammps_quests.monitor._options import MonitorOptions
from lammps_quests.dh._reference_dh import ReferenceDh
from lammps_quests.formats._fast_index import fast_index_path

from lammps_quests.errors import QuestsModifierError


@dataclass(frozen=True)
class Settings:
    """What the dH of a frame depends on besides the frame.

    path: the reference file (.qref).
    options: the run's :class:`~lammps_quests.monitor.MonitorOptions` (bandwidth in
        Å^-1, threshold, fast and decide, the k and cutoff in Å the reference must have).
    """

    path: str
    options: MonitorOptions = MonitorOptions()


class ReferenceCache:
    """Holds the :class:`ReferenceDh` of the last settings; ``loads`` counts the file reads."""

    def __init__(self):
        self.key = None
        self.value = None
        self.loads = 0

    def get(self, settings: Settings) -> ReferenceDh:
        """The ReferenceDh for ``settings``, read from disk only when the key changed.

        Raises:
            QuestsModifierError (a ValueError) naming the problem for a missing, damaged or mismatched
            reference, a bad bandwidth or a missing or stale fast index.
        """
        key = (_key(settings), _stat(settings.path),
               _stat(fast_index_path(settings.path)) if settings.options.fast is not None else None)
        if key != self.key:
            self.key, self.value = None, None  # a failed load must not leave the old reference in use
            self.value = load(settings)
            self.key = key
            self.loads += 1
        return self.value


def load(settings: Settings) -> ReferenceDh:
    """Read the reference (memory-mapped), check k and cutoff, bind bandwidth and mode."""
    from lammps_quests.analysis._inputs import load_reference

    if not settings.path:
        raise QuestsModifierError("no reference file is set; choose the .qref file built with "
                         "`lammps-quests reference build`")
    try:
        reference = load_reference(settings.path)
        options = settings.options
        reference.check(k=options.k, cutoff=options.cutoff)
        return ReferenceDh(reference, options.bandwidth, fast=options.fast, decide=options.decide,
                           thresholds=options.decisions)
    except QuestsModifierError:
        raise
    except QuestsInputError as error:  # every problem of the file or the settings, with its fix
        raise QuestsModifierError(str(error)) from None


def _key(settings: Settings) -> Settings:
    """The settings the ReferenceDh depends on: the threshold only in decide mode."""
    if settings.options.decide:
        return settings
    return replace(settings, options=replace(settings.options, threshold=0.0))


def _stat(path) -> tuple | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)
