"""The package's exceptions: one family under :class:`QuestsError`, so callers catch by type.

Every exception class the package defines derives from :class:`QuestsError` (tests check it).
The input errors with a class of their own (a reference file, a fix keyword, a fast index, a
ghost cutoff, a dump, settings that differ from a reference's) derive from
:class:`QuestsInputError`, which is also a ``ValueError``, so ``except ValueError`` catches them
as it catches the plain ``ValueError`` of other bad input; messages name the problem and the
fix. A missing part of the environment (OVITO, a ``lammps`` module for the running LAMMPS)
raises a ``RuntimeError`` of the family. This is the one place they are defined and
the one public place they are imported from.
"""

from __future__ import annotations

__all__ = [
    "AppendFailed",
    "DumpChanged",
    "FastIndexError",
    "GhostCutoffError",
    "HostLammpsError",
    "KeywordError",
    "LockingUnsupported",
    "OptionError",
    "QuestsError",
    "QuestsHalt",
    "QuestsInputError",
    "QuestsModifierError",
    "ReferenceFileError",
    "ReferenceMismatchError",
    "RenderUnavailable",
    "ReportedError",
    "SaveFileBusy",
]


class QuestsError(Exception):
    """Base class of every exception the package raises on purpose."""


class QuestsInputError(QuestsError, ValueError):
    """Bad input: the message names the problem and how to fix it."""


class ReferenceFileError(QuestsInputError):
    """A reference file that cannot be used; the message names the file, problem and fix."""


class ReferenceMismatchError(QuestsInputError):
    """Settings asked for (k, cutoff, species) that differ from the ones a reference was built with."""


class FastIndexError(QuestsInputError):
    """A fast-dH index that cannot be used; the message names the file, problem and fix."""


class KeywordError(QuestsInputError):
    """A malformed ``fix quests`` keyword; the message names the keyword and its syntax."""


class OptionError(QuestsInputError):
    """A setting of a monitored run or of dH (bandwidth, threshold, fast, ...) with a bad value;
    the fix keywords, the ASE monitor and the OVITO modifier raise the same one with the same
    message, which names the setting, its unit and a valid value."""


class GhostCutoffError(QuestsInputError):
    """The ghost atoms do not reach the descriptor cutoff around the owned atoms."""


class DumpChanged(QuestsInputError):
    """A frame found in a dump was no longer there when it was read (file cut or replaced)."""


class QuestsModifierError(QuestsInputError):
    """Bad input to the OVITO modifier (reference, settings or frame): one message naming the
    problem and the fix, which OVITO shows as the modifier's error."""


class SaveFileBusy(QuestsInputError):
    """Another fix, monitor or run holds the lock of a save file (one writer per save file)."""


class AppendFailed(QuestsError, OSError):
    """A record could not be appended to a save file (a full disk, a quota, an I/O error); the
    file was cut back to its last complete record and the message names it."""


class LockingUnsupported(QuestsError, OSError):
    """The file system of a save file does not implement flock (e.g. Lustre mounted noflock);
    caught where the lock is taken, which then saves unenforced and says so."""


class HostLammpsError(QuestsError, RuntimeError):
    """No usable ``lammps`` module for the running LAMMPS; the message says where it looked."""


class RenderUnavailable(QuestsError, RuntimeError):
    """OVITO or the Vulkan libraries it renders with are missing."""


class ReportedError(QuestsError, RuntimeError):
    """An error already printed as a LAMMPS-style ERROR line (python/invoke route); its
    traceback is not shown again."""

    quiet = True


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
