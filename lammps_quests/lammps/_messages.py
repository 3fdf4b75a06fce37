"""One error format for ``fix quests`` on both routes (the plugin and python/invoke).

Every error reads ``ERROR: Fix quests ID: <what is wrong>`` and goes through LAMMPS's error
mechanism, so an MPI job ends on every rank. A user error (:func:`lammps_quests.errors.is_user_error`:
a keyword, a reference or save file, a setting, the environment) shows its message alone, which
names the keyword or file and the fix. Anything else is a bug of lammps-quests, whatever its
type (a ``ValueError`` from numpy or numba included): it shows as
:func:`lammps_quests.errors.bug_message` (type, message, the line that raised it, where to
report it), never as the user's mistake.
"""

from __future__ import annotations

from lammps_quests.errors import error_message, is_user_error

#: first character of the text :func:`bridge_text` returns for a user error; the C++ side
#: (src/python_bridge.cpp, ``INPUT_ERROR_MARK``) strips it and prints the message alone
INPUT_ERROR_MARK = "\x1e"


def error_text(error: BaseException) -> str:
    """The text of an error for the ERROR line (see the module docstring)."""
    return error_message(error)


def bridge_text(error: BaseException) -> str:
    """:func:`error_text` for the C++ bridge: marked with :data:`INPUT_ERROR_MARK` for a user error."""
    text = error_text(error)
    return INPUT_ERROR_MARK + text if is_user_error(error) else text


def prefix(fix_id: str) -> str:
    """``Fix quests ID``, the start of every error message of the fix (LAMMPS's own style)."""
    return f"Fix quests {fix_id}"
