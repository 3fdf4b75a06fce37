"""What ``Reference.check`` answers for asked settings, as a value a test can compare."""

from __future__ import annotations

from lammps_quests.errors import ReferenceMismatchError
from lammps_quests.formats._reference import Reference


def refusal(reference: Reference, **asked) -> str | None:
    """The message with which ``reference.check(**asked)`` refuses the settings; None when it
    accepts them (returns without raising)."""
    try:
        reference.check(**asked)
    except ReferenceMismatchError as error:
        return str(error)
    return None
