"""The package's declared surface and conventions, checked on the installed package.

Packages are the public surface: each declares ``__all__`` and every name in it resolves;
every module file inside a package is internal (a leading underscore); exceptions are defined
and exported in ``lammps_quests.errors`` only; every exported callable has a docstring, stating
Å where it takes lengths; no modules import each other in a circle; the names the docs teach
(the fast index, ``prepare_reference``, the default tolerance) work from the top level; and
``__version__`` comes from the installed distribution's metadata."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lammps_quests
from lammps_quests import errors

INSTALLED = Path(lammps_quests.__file__).resolve().parent
SOURCE = Path(__file__).resolve().parents[2] / "lammps_quests"  # the source, as committed
#: parameters that take a length (Å) or positions (Å)
LENGTH_PARAMETERS = {"cutoff", "positions", "cell", "radius", "cut_radius", "points", "vacuum", "R"}


def _packages() -> list[str]:
    """The top-level package and its subpackages, found on disk (not from any list)."""
    return ["lammps_quests"] + sorted(f"lammps_quests.{info.name}" for info in pkgutil.iter_modules([str(INSTALLED)])
                                      if info.ispkg)


def _importable(package: str) -> bool:
    """The OVITO subpackage needs the optional ``ovito`` module."""
    if package == "lammps_quests.ovito":
        return importlib.util.find_spec("ovito") is not None
    return True


def _exported(package: str):
    module = importlib.import_module(package)
    return module, [(name, getattr(module, name)) for name in module.__all__]


def test_packages_are_found():
    found = _packages()
    assert {"lammps_quests.core", "lammps_quests.formats", "lammps_quests.monitor",
            "lammps_quests.errors"} <= set(found)
    assert len(found) >= 12


@pytest.mark.parametrize("package", _packages())
def test_every_public_package_declares_all_and_every_name_resolves(package):
    if not _importable(package):
        pytest.skip("needs the ovito module")
    module = importlib.import_module(package)
    names = module.__dict__.get("__all__")
    assert isinstance(names, list) and names, f"{package} declares no __all__"
    assert len(set(names)) == len(names), f"{package}.__all__ names a name twice"
    missing = [name for name in names if not hasattr(module, name)]
    assert missing == []
    internal = [name for name in names if name.startswith("_")]
    assert internal == []


def test_module_files_inside_packages_are_internal():
    """Only ``__init__.py`` and ``__main__.py`` may lack the leading underscore (in the installed
    package and in the source)."""
    for root in (INSTALLED, SOURCE):
        files = sorted(root.rglob("*.py"))
        assert len(files) > 50
        public = [str(path.relative_to(root)) for path in files
                  if path.name not in ("__init__.py", "__main__.py") and not path.name.startswith("_")]
        assert public == []


def test_exceptions_are_exported_by_errors_only():
    classes = {value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, BaseException)}
    assert set(errors.__all__) == {cls.__name__ for cls in classes if cls.__module__ == "lammps_quests.errors"}
    elsewhere = [f"{package}.{name}" for package in _packages() if package != "lammps_quests.errors" and
                 _importable(package) for name, value in _exported(package)[1] if value in classes]
    assert elsewhere == []


@pytest.mark.parametrize("package", _packages())
def test_exported_callables_have_docstrings_with_units_for_lengths(package):
    if not _importable(package):
        pytest.skip("needs the ovito module")
    checked, undocumented, unitless = 0, [], []
    for name, value in _exported(package)[1]:
        if not callable(value):
            continue
        checked += 1
        text = inspect.getdoc(value) or ""
        if isinstance(value, type):
            text += inspect.getdoc(value.__init__) or "" if "__init__" in vars(value) else ""
        if not text.strip():
            undocumented.append(name)
        try:
            parameters = set(inspect.signature(value).parameters)
        except (TypeError, ValueError):
            parameters = set()
        if parameters & LENGTH_PARAMETERS and "Å" not in text:
            unitless.append(f"{name}({', '.join(sorted(parameters & LENGTH_PARAMETERS))})")
    assert checked or package in ("lammps_quests.errors",)
    assert undocumented == []
    assert unitless == []


def _import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> lammps_quests modules it imports (anywhere in the file), names resolved to the
    module that defines them when they are submodules, else to the package."""
    modules = {}
    for path in root.rglob("*.py"):
        name = ".".join(("lammps_quests",) + path.relative_to(root).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    graph = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names if alias.name.startswith("lammps_quests")}
            elif isinstance(node, ast.ImportFrom):
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else node.module or ""
                if base.startswith("lammps_quests"):
                    targets |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                                for alias in node.names}
        graph[module] = {target for target in targets if target in modules and target != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_circle(tmp_path):
    """The check below can fail: two modules that import each other form a cycle."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "_a.py").write_text("from ._b import x\n")
    (tmp_path / "pkg" / "_b.py").write_text("def f():\n    from lammps_quests.pkg._a import y\n")
    (tmp_path / "pkg" / "_c.py").write_text("from lammps_quests.pkg import _a\n")
    assert _cycles(_import_graph(tmp_path)) == [["lammps_quests.pkg._a", "lammps_quests.pkg._b"]]


def test_no_modules_import_each_other():
    """Counting imports inside functions too: a lazy import is still a dependency."""
    graph = _import_graph(SOURCE)
    assert len(graph) > 50
    assert _cycles(graph) == []


def test_the_fast_index_works_from_the_top_level(tmp_path):
    """What the docs teach, with public names only: a reference, its fast index built, saved and
    loaded again, fast dH within the default tolerance (nats) of the exact dH."""
    from ase.build import bulk

    import lammps_quests.formats as formats

    rng = np.random.default_rng(1)
    crystal = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)
    frames = []
    for _ in range(3):
        frame = crystal.copy()
        frame.positions += rng.normal(scale=0.05, size=frame.positions.shape)
        frames.append(frame)
    reference = lammps_quests.Reference.build(frames, k=8, cutoff=4.0)
    reference.save(tmp_path / "cu.qref")
    reference = lammps_quests.Reference.load(tmp_path / "cu.qref")
    formats.save_fast_index(lammps_quests.build_fast_index(reference, cluster_size=8), reference)
    index = lammps_quests.load_fast_index(reference)
    query = crystal.copy()
    query.positions += rng.normal(scale=0.2, size=query.positions.shape)
    Y = lammps_quests.descriptors(query, k=8, cutoff=4.0)
    h = reference.bandwidth
    exact = lammps_quests.delta_entropy(Y, lammps_quests.prepare_reference(reference.descriptors), h)
    fast = lammps_quests.delta_entropy_fast(Y, index, h, lammps_quests.DEFAULT_FAST_TOLERANCE)
    assert np.all(fast >= exact - 1e-9)
    assert np.all(fast <= exact + lammps_quests.DEFAULT_FAST_TOLERANCE + 1e-9)
    assert exact.max() > 0.1  # the query is not inside the reference: a bound that can fail


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
    assert len(found) >= 12
    outside = [f"{module}.{name}" for module, name, cls in found if not issubclass(cls, errors.QuestsError)]
    assert outside == []
    assert {module for module, _, _ in found} == {"lammps_quests.errors"}  # defined in one place


def _bad_reference_file(tmp_path):
    return lammps_quests.Reference.load(tmp_path / "missing.qref")


def _bad_keyword(tmp_path):
    from lammps_quests.lammps._keywords import parse_keywords

    parse_keywords(["no_such_keyword", "1"])


def _mismatched_reference(tmp_path):
    X = np.abs(np.random.default_rng(0).normal(size=(10, 7)))
    lammps_quests.Reference.from_descriptors(X, k=4, cutoff=5.0).check(k=8, by="the test")


def _missing_fast_index(tmp_path):
    X = np.abs(np.random.default_rng(0).normal(size=(10, 7)))
    reference = lammps_quests.Reference.from_descriptors(X, k=4, cutoff=5.0)
    reference.save(tmp_path / "r.qref")
    lammps_quests.load_fast_index(lammps_quests.Reference.load(tmp_path / "r.qref"))


@pytest.mark.parametrize("cause, cls, words", [
    (_bad_reference_file, errors.ReferenceFileError, "does not exist"),
    (_bad_keyword, errors.KeywordError, "no_such_keyword"),
    (_mismatched_reference, errors.ReferenceMismatchError, "k = 8"),
    (_missing_fast_index, errors.FastIndexError, "reference"),
])
def test_bad_input_reaches_the_caller_as_a_value_error_of_its_class(cause, cls, words, tmp_path):
    """``except ValueError`` catches the input errors the package raises, and their class and
    message say which input is wrong."""
    with pytest.raises(ValueError) as caught:
        cause(tmp_path)
    assert type(caught.value) is cls and isinstance(caught.value, errors.QuestsInputError)
    assert words in str(caught.value)


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
