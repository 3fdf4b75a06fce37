"""The package's structure. Its tiers: every module imports only its own tier and the tiers below
it, so data flows one way (core -> formats -> dh -> analysis -> active -> monitor -> lammps / ase /
render / ovito -> cli). Also: git ignores what runs write. (Style, spelling and what comments may
cite are checked by ruff, codespell and .ci/lint, before the tests.)"""

from __future__ import annotations

import ast
from pathlib import Path

import lammps_quests

RANK = {"core": 0, "errors": 0, "_terminal": 0, "formats": 1, "dh": 2, "analysis": 3, "active": 4, "monitor": 5,
        "lammps": 6, "ase": 6, "render": 6, "ovito": 6, "cli": 7, "__main__": 7}
ROOT = Path(lammps_quests.__file__).parent  # the installed package


def _tier(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, module: str):
    """lammps_quests modules imported by the file (absolute and relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("lammps_quests"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("lammps_quests"):
                yield from ((f"{name}.{alias.name}" if name == "lammps_quests" else name) for alias in node.names)


def test_every_module_imports_only_its_tier_and_those_below():
    checked, wrong = 0, []
    for path in sorted(ROOT.rglob("*.py")):
        module = ".".join(("lammps_quests",) + path.relative_to(ROOT).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        tier = _tier(module)
        if tier == "__init__":
            continue  # the package root re-exports the public API from every tier
        assert tier in RANK, f"{path}: a top-level module or package outside the known tiers"
        checked += 1
        for name in _imports(path, module):
            target = _tier(name)
            if target == "__init__" or RANK.get(target, 99) > RANK[tier]:
                wrong.append(f"{module} ({tier}) imports {name}")
    assert checked > 50
    assert wrong == []


def test_core_imports_numpy_and_numba_only():
    allowed = {"numpy", "numba", "threadpoolctl", "lammps_quests"}
    found = set()
    for path in (ROOT / "core").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found |= {name.split(".")[0] for name in names if name}
    import sys

    assert found - allowed - set(sys.stdlib_module_names) == set()


def test_git_ignores_what_the_demo_examples_and_analyses_write():
    import subprocess

    repo = Path(__file__).resolve().parents[2]
    written = ["quests-demo/log.crystal", "quests-demo/cu_fcc.qref", "train.qref.nnd-10.pkl", "train.qref.qidx",
               "examples/cu_melt/cu_fcc.qref", "examples/cu_melt/log.crystal",
               "examples/cu_melt/dump.cu_melt.lammpstrj",
               "examples/ta_strain/extrapolated.xyz", "examples/ase_cu_melt/new.xyz",
               "examples/inp_antisite/inp_antisite_dh.png"]
    result = subprocess.run(["git", "-C", str(repo), "check-ignore", "--no-index", *written],
                            capture_output=True, text=True, timeout=60)
    assert sorted(result.stdout.split()) == sorted(written)
    kept = subprocess.run(["git", "-C", str(repo), "check-ignore", "--no-index", "examples/cu_melt/in.cu_melt",
                           "examples/inp_antisite/picture.py"], capture_output=True, text=True, timeout=60)
    assert kept.stdout == ""


def test_one_minimum_cmake_version_everywhere():
    """pip's build (pyproject), a hand build against a user's LAMMPS (CMakeLists.txt) and the
    pages that state the requirement name the same minimum CMake: both builds were run with it."""
    import re
    import tomllib

    repo = Path(__file__).resolve().parents[2]
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text())
    wanted = re.fullmatch(r">=(\d+\.\d+)", pyproject["tool"]["scikit-build"]["cmake"]["version"]).group(1)
    minimum = re.search(r"cmake_minimum_required\(VERSION (\d+\.\d+)\)", (repo / "CMakeLists.txt").read_text())
    assert minimum.group(1) == wanted
    for page in ("README.md", "CONTRIBUTING.md", "docs/getting-started.md"):
        stated = set(re.findall(r"CMake >= (\d+\.\d+)", (repo / page).read_text()))
        assert stated == {wanted}, page
