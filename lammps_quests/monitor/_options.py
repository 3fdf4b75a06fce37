"""The options of a monitored run, one record for every host, validated once.

``fix quests`` (plugin and python/invoke: :mod:`lammps_quests.lammps._keywords`), the ASE
:class:`~lammps_quests.ase._monitor.QuestsMonitor` and the OVITO
:class:`~lammps_quests.ovito._modifier.QuestsModifier` each build one :class:`MonitorOptions`;
its constructor checks every value, so the same bad value gives the same
:class:`~lammps_quests.errors.OptionError` with the same message on every host. Settings only
LAMMPS has (the halt mode, the elements of atom types, the save file's seeding) live in the
fix's own record, which holds this one.

Words (the same in the fix keywords, the ASE monitor, the OVITO modifier and the CLI):
``bandwidth`` (Å^-1), ``threshold`` (nats), ``fast`` (the fast index's tolerance in nats, None
for the exact dH) and ``decide`` (with ``fast``: certify only the decisions dH > threshold,
halt and save).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from lammps_quests.core._validation import check_bandwidth, check_fast, check_number
from lammps_quests.errors import OptionError

__all__ = ["MonitorOptions"]


@dataclass(frozen=True)
class MonitorOptions:
    """What a monitored run computes and decides (units: Å, Å^-1, nats).

    Attributes:
        bandwidth: kernel bandwidth, Å^-1; None takes the reference's.
        threshold: nats; dH above it counts as extrapolating.
        halt_threshold: nats; the run stops once max dH exceeds it; None: never.
        save_threshold: nats; atoms with dH above it (and new) are saved; None: no saving.
        save_path: the save file, required with ``save_threshold``.
        deduplicate: False saves every evaluation with max dH > the save threshold.
        save_cut: Å; one cut-out of this radius per hot spot instead of the frame (needs saving).
        k, cutoff: the k and cutoff (Å) the reference must have; None: the reference's.
        fast: the fast index's tolerance, nats in (0, 1): every dH at most this far above the
            exact one; None: the exact dH.
        decide: with ``fast``, certify only the decisions dH > t (threshold, halt, save): values
            above the smallest t stay within ``fast`` of exact, values at or below it are upper
            bounds.

    Raises :class:`~lammps_quests.errors.OptionError` naming the setting, its unit and a valid
    value. Numbers given as text (deck words) are accepted and converted.
    """

    bandwidth: float | None = None
    threshold: float = 0.0
    halt_threshold: float | None = None
    save_threshold: float | None = None
    save_path: str | None = None
    deduplicate: bool = True
    save_cut: float | None = None
    k: int | None = None
    cutoff: float | None = None
    fast: float | None = None
    decide: bool = False

    def __post_init__(self):
        checked = {
            "bandwidth": _optional(self.bandwidth, check_bandwidth),
            "threshold": check_number(self.threshold, "threshold", "nats", "0"),
            "halt_threshold": _optional(self.halt_threshold, lambda v: check_number(v, "halt", "nats", "5")),
            "save_threshold": _optional(self.save_threshold, lambda v: check_number(v, "save", "nats", "0")),
            "save_cut": _optional(self.save_cut, _check_cut),
            "k": _optional(self.k, _check_k),
            "cutoff": _optional(self.cutoff, _check_cutoff),
            "fast": _optional(self.fast, check_fast),
            "save_path": None if self.save_path is None else str(self.save_path),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        for name in ("deduplicate", "decide"):
            if not isinstance(getattr(self, name), bool):
                raise OptionError(f"{name} must be True or False, got {getattr(self, name)!r}")
        self._check_combinations()

    def _check_combinations(self) -> None:
        if (self.save_threshold is None) != (self.save_path is None):
            raise OptionError("save needs both a threshold in nats and a file, e.g. save 0 new.xyz "
                              "(ASE: save=(0.0, 'new.xyz'))")
        if self.save_cut is not None and self.save_threshold is None:
            raise OptionError("cut only applies with save (a threshold in nats and a file); give save too")
        if self.decide and self.fast is None:
            raise OptionError("decide only applies with fast (a tolerance in nats, e.g. fast 1e-6 decide); "
                              "give fast too")

    @property
    def decisions(self) -> list[float]:
        """The thresholds (nats) whose decisions dH > t are taken: threshold, halt, save."""
        return [self.threshold] + [t for t in (self.halt_threshold, self.save_threshold) if t is not None]


def _optional(value, check):
    return None if value is None else check(value)


def _check_cut(value) -> float:
    radius = check_number(value, "cut", "Å", "6.5")
    if not radius > 0:
        raise OptionError(f"cut must be a radius > 0 Å, e.g. 6.5; got {radius!r}")
    return radius


def _check_k(value) -> int:
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 2:
        raise OptionError(f"k must be an integer >= 2 (neighbours per descriptor), got {value!r}")
    return int(value)


def _check_cutoff(value) -> float:
    radius = check_number(value, "cutoff", "Å", "5.0")
    if not radius > 0:
        raise OptionError(f"cutoff must be a distance > 0 Å, e.g. 5.0; got {radius!r}")
    return radius
