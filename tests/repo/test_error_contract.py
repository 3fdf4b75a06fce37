"""The error contract: every error a user can cause is a class of lammps_quests.errors, a broken
invariant is QuestsInternalError, and hosts tell the user's mistakes from bugs with
errors.is_user_error (a bug is shown with its type, message and raising line)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest

import lammps_quests
from lammps_quests import errors

PACKAGE = Path(lammps_quests.__file__).resolve().parent
#: the built-in classes a module of the package must not raise or build itself: a user
#: error of that type would be shown as a bug, and a bug as the user's mistake
PLAIN = {"ValueError", "RuntimeError", "Exception", "TypeError", "KeyError", "IndexError"}


def plain_exceptions(tree: ast.AST) -> list[int]:
    """Lines that raise a plain built-in exception, or build one (to return or raise later)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Name) and node.exc.id in PLAIN:
            lines.append(node.lineno)  # `raise ValueError`, without a call
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in PLAIN:
            lines.append(node.lineno)  # `raise ValueError(...)`, `return ValueError(...)`, ...
    return sorted(lines)


def test_the_check_finds_every_spelling_of_a_plain_raise():
    source = ("def f(x):\n    raise ValueError('a')\n\ndef g():\n    raise RuntimeError\n\n"
              "def h():\n    return KeyError('b')\n\ndef ok():\n    raise errors.QuestsInputError('c')\n")
    assert plain_exceptions(ast.parse(source)) == [2, 5, 8]


def test_the_package_raises_no_plain_built_in_exception():
    found = [f"{path.relative_to(PACKAGE)}:{line}" for path in sorted(PACKAGE.rglob("*.py"))
             for line in plain_exceptions(ast.parse(path.read_text()))]
    assert found == []


def error_classes() -> list[type]:
    return [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, BaseException) and cls.__module__ == errors.__name__]


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_every_class_but_the_internal_error_is_the_users(cls):
    error = cls(1, 2.0, 3.0) if cls is errors.QuestsHalt else cls("a message")
    assert errors.is_user_error(error) is (cls is not errors.QuestsInternalError)


@pytest.mark.parametrize("error", [ValueError("from numpy"), KeyError("k"), IndexError("i"),
                                   RuntimeError("r"), errors.QuestsInternalError("invariant")])
def test_anything_else_is_a_bug(error):
    assert not errors.is_user_error(error)
    assert errors.error_message(error).startswith(f"{type(error).__name__}: ")
    assert errors.error_message(error).endswith(errors.BUG_REPORT)


def test_a_user_error_shows_its_message_alone():
    error = errors.ReferenceFileError("reference file x.qref does not exist; check the path")
    assert errors.error_message(error) == str(error)


def numpy_failure():
    return np.zeros(3).reshape(5)  # the raising line


def test_a_bug_names_its_type_message_and_raising_line():
    with pytest.raises(ValueError) as caught:
        numpy_failure()
    line = inspect.getsourcelines(numpy_failure)[1] + 1
    message = errors.bug_message(caught.value)
    assert message.startswith("ValueError: cannot reshape array of size 3 into shape (5,) (at ")
    assert f"{Path(__file__).name}:{line})" in message
    assert message.endswith(errors.BUG_REPORT)


def test_a_bug_raised_outside_the_package_also_names_the_package_line_that_called():
    """numpy raising inside lammps_quests code: the report names both lines."""
    from lammps_quests.core._validation import check_descriptors

    class Exploding:  # array-like whose conversion fails, deep under a package function
        def __array__(self, dtype=None, copy=None):
            raise ValueError("planted")

    with pytest.raises(ValueError) as caught:
        check_descriptors(Exploding(), "Y")
    location = errors.bug_location(caught.value)
    assert f"{Path(__file__).name}:" in location.split(",")[0]
    assert ", called from lammps_quests/core/_validation.py:" in location


def test_a_bug_of_many_coloured_lines_is_one_line():
    """numba's typing errors span many lines with terminal colours; LAMMPS prints one ERROR line."""
    error = ValueError("\x1b[1mFailed in nopython mode\x1b[0m\n\n  No implementation\n  of function\n")
    message = errors.bug_message(error)
    assert message.startswith("ValueError: Failed in nopython mode [2 more lines]; ")
    assert "\n" not in message and "\x1b" not in message


def test_missing_species_is_a_species_mismatch_error():
    from lammps_quests.core._species_index import missing_species_error

    error = missing_species_error(1, ("In", "P"))
    assert isinstance(error, errors.SpeciesMismatchError) and errors.is_user_error(error)
    assert "no environments centred on P" in str(error)


def test_an_unreadable_reference_of_a_fix_is_a_reference_file_error(tmp_path):
    from lammps_quests.lammps._session import cached_reference as load_reference

    with pytest.raises(errors.ReferenceFileError, match="missing.qref cannot be read"):
        load_reference(tmp_path / "missing.qref")


def test_the_bridge_marks_user_errors_only():
    from lammps_quests.lammps._messages import INPUT_ERROR_MARK, bridge_text

    assert bridge_text(errors.KeywordError("unknown keyword 'colour'")) == INPUT_ERROR_MARK + "unknown keyword 'colour'"
    bug = bridge_text(ValueError("from numba"))
    assert bug.startswith("ValueError: from numba") and errors.BUG_REPORT in bug


def test_the_cpp_bridge_uses_the_same_mark():
    cpp = Path(__file__).resolve().parents[2] / "src" / "python_bridge.cpp"
    from lammps_quests.lammps._messages import INPUT_ERROR_MARK

    assert f"const char INPUT_ERROR_MARK = '\\x{ord(INPUT_ERROR_MARK):02x}';" in cpp.read_text()
