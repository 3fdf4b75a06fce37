"""Package-wide conventions: one exception family under errors.QuestsError (input errors are also
ValueErrors), the old import paths of the exceptions still work, and __version__ comes from the
installed distribution's metadata."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lammps_quests
from lammps_quests import errors

SOURCE = Path(__file__).resolve().parents[2] / "lammps_quests"  # the source, as committed


def _exception_classes():
    """(module, class name) of every class defined in the package's source that is an exception."""
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        module = ".".join(("lammps_quests",) + path.relative_to(SOURCE).with_suffix("").parts).removesuffix(".__init__")
        classes = [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef)]
        if not classes:
            continue
        loaded = importlib.import_module(module)
        for node in classes:
            value = getattr(loaded, node.name, None)
            if isinstance(value, type) and issubclass(value, BaseException):
                found.append((module, node.name, value))
            else:  # nested or not importable: judge by the names of its bases
                bases = [ast.unparse(b) for b in node.bases]
                assert not any(b.endswith(("Error", "Exception", "Warning")) for b in bases) or \
                    "QuestsError" in " ".join(bases), f"{module}.{node.name}({', '.join(bases)})"
    return found


def test_every_exception_class_derives_from_quests_error():
    found = _exception_classes()
    assert len(found) >= 12  # QuestsError, QuestsInputError, the 11 classes of before, ReportedError
    outside = [f"{module}.{name}" for module, name, cls in found if not issubclass(cls, errors.QuestsError)]
    assert outside == []
    assert {module for module, _, _ in found} == {"lammps_quests.errors"}  # defined in one place


@pytest.mark.parametrize("name", ["QuestsInputError", "ReferenceFileError", "ReferenceMismatchError",
                                  "FastIndexError", "KeywordError", "GhostCutoffError", "DumpChanged"])
def test_input_errors_are_value_errors(name):
    cls = getattr(errors, name)
    assert issubclass(cls, ValueError) and issubclass(cls, errors.QuestsInputError)
    with pytest.raises(ValueError, match="a message"):
        raise cls("a message")


def test_environment_errors_are_runtime_errors_and_reported_ones_are_quiet():
    for cls in (errors.HostLammpsError, errors.RenderUnavailable, errors.ReportedError):
        assert issubclass(cls, RuntimeError) and not issubclass(cls, ValueError)
    assert errors.ReportedError.quiet is True  # the python/invoke route's excepthook skips it
    assert issubclass(errors.QuestsHalt, errors.QuestsError) and not issubclass(errors.QuestsHalt, ValueError)


@pytest.mark.parametrize("module, name", [
    ("lammps_quests.formats._reference", "ReferenceFileError"),
    ("lammps_quests.formats._reference", "ReferenceMismatchError"),
    ("lammps_quests.formats._fast_index", "FastIndexError"),
    ("lammps_quests.formats._growing_dump", "DumpChanged"),
    ("lammps_quests.lammps._keywords", "KeywordError"),
    ("lammps_quests.lammps._host", "HostLammpsError"),
    ("lammps_quests.lammps._invoke", "GhostCutoffError"),
    ("lammps_quests.render._render", "RenderUnavailable"),
    ("lammps_quests.ase", "QuestsError"),
])
def test_old_import_paths_give_the_same_classes(module, name):
    assert getattr(importlib.import_module(module), name) is getattr(errors, name)


def test_the_invoke_route_has_no_second_quests_error():
    import lammps_quests.lammps._invoke as invoke

    assert getattr(invoke, "QuestsError", errors.QuestsError) is errors.QuestsError
    assert invoke.ReportedError is errors.ReportedError


def test_version_is_the_installed_distributions():
    assert lammps_quests.__version__ == importlib.metadata.version("lammps-quests")


def test_version_of_a_source_tree_that_is_not_installed(tmp_path):
    """Imported from the tree with no distribution metadata: pyproject.toml's version, marked."""
    probe = ("import importlib.metadata as m\n"
             "def missing(name): raise m.PackageNotFoundError(name)\n"
             "m.version = missing\n"
             "import lammps_quests\n"
             "print(lammps_quests.__file__)\n"
             "print(lammps_quests.__version__)\n")
    env = dict(os.environ, PYTHONPATH=str(SOURCE.parent))
    result = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    path, version = result.stdout.split()[-2:]
    assert Path(path).resolve().parent == SOURCE
    pyproject = (SOURCE.parent / "pyproject.toml").read_text()
    assert f'version = "{version.removesuffix("+source")}"' in pyproject and version.endswith("+source")
