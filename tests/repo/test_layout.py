"""Repository conventions. The package's tiers: every module imports only its own tier and the
tiers below it, so data flows one way (core -> formats -> dh -> analysis -> active -> monitor ->
lammps / ase / render / ovito -> cli). Also: git ignores what runs write, comments cite only what the repository
holds, one docstring style."""

from __future__ import annotations

import ast
from pathlib import Path

RANK = {"core": 0, "errors": 0, "_terminal": 0, "formats": 1, "dh": 2, "analysis": 3, "active": 4, "monitor": 5,
        "lammps": 6, "ase": 6, "render": 6, "ovito": 6, "cli": 7, "__main__": 7}
ROOT = Path(__file__).resolve().parents[2] / "lammps_quests"  # the source, as committed


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


def test_comments_cite_only_what_the_repository_holds():
    """No pointers to texts outside the repository (a "GUIDE section", an "issue N")."""
    import re

    repo = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"\bGUIDE\b|\b[Ii]ssue #?\d")
    files = [p for folder in ("lammps_quests", "tests", "benchmarks", "src", "examples", ".ci")
             for p in (repo / folder).rglob("*") if p.is_file() and p.suffix in {".py", ".cpp", ".h", ".sh", ""}]
    files += [repo / "README.md", repo / "CMakeLists.txt", repo / "pyproject.toml"]
    assert len(files) > 50
    found = [f"{path.relative_to(repo)}:{number}" for path in files
             for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if pattern.search(line) and path.name != "test_layout.py"]
    assert found == []


def test_one_docstring_style():
    """Google style (``Args:``, ``Returns:``, ``Raises:``), not numpy sections underlined with dashes."""
    import re

    numpy_section = re.compile(r"^\s+(Parameters|Returns|Raises|Attributes|Yields)\n\s+-{3,}\n", re.M)
    found = [str(path.relative_to(ROOT)) for path in ROOT.rglob("*.py") if numpy_section.search(path.read_text())]
    assert found == []


def test_prose_spells_neighbour_the_british_way():
    """Comments, docstrings and messages say "neighbour"; American spellings remain only in names
    that code uses (the module ``core.neighbors``, ``n_neighbors`` as in PyNNDescent, ...) and in
    LAMMPS's own terms ("neighbor skin", the ``neighbor`` command)."""
    import io
    import re
    import tokenize

    repo = Path(__file__).resolve().parents[2]
    lammps_terms = re.compile(r"neighbor skin|neighbor \d|reneighbor", re.I)
    american_word = re.compile(r"(?<![\w.\-/])(?<!import )neighbors?\b(?![\w.(])", re.I)
    found = []
    for folder in ("lammps_quests", "tests", "benchmarks", "examples"):
        for path in (repo / folder).rglob("*.py"):
            if path.name == "test_layout.py":  # its patterns name the spelling
                continue
            for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
                if token.type in (tokenize.COMMENT, tokenize.STRING) and \
                        american_word.search(lammps_terms.sub("", token.string)):
                    found.append(f"{path.relative_to(repo)}:{token.start[0]}")
    assert found == []


def test_ruff_is_clean():
    """The lint settings of pyproject.toml ([tool.ruff]) hold for the package, tests and scripts."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "lammps_quests", "tests",
                             "benchmarks", "examples"], cwd=repo, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
