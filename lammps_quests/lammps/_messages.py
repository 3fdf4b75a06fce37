"""One error format for ``fix quests`` on both routes (the plugin and python/invoke).

Every error reads ``ERROR: Fix quests ID: <what is wrong>``. The package's own input errors
(ValueError and its subclasses: a keyword, a reference or save file, a setting) show their
message alone, which names the keyword or file and the fix; only an unexpected failure shows
the exception's type name too, since its message alone may not say what happened.
"""

from __future__ import annotations


def is_input_error(error: BaseException) -> bool:
    """True for the package's input errors (their message is complete on its own)."""
    return isinstance(error, ValueError)


def error_text(error: BaseException) -> str:
    """The text of an error for the ERROR line (see the module docstring)."""
    if is_input_error(error):
        return str(error)
    return f"{type(error).__name__}: {error}"


def prefix(fix_id: str) -> str:
    """``Fix quests ID``, the start of every error message of the fix (LAMMPS's own style)."""
    return f"Fix quests {fix_id}"
