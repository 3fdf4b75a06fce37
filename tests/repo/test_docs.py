"""The documentation is checked like code: every block a page marks as runnable is run (here the
ones that need no LAMMPS; tests/repo/test_docs_lammps.py runs the others), every block of shown
output is compared with a fresh run, and nothing in the code points into README headings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import ase.io
import numpy as np
import pytest

from crystals import thermal_fcc, thermal_inp
from docs_blocks import DOCS, ROOT, RUNNABLE, SHOWN_OUTPUT, block, blocks, page_blocks


def test_every_marked_block_is_run_or_compared_by_a_test():
    """A new runnable or shown-output block needs a test: its name must be registered."""
    assert {b.name for b in blocks("runnable")} == set(RUNNABLE)
    assert {b.name for b in blocks("shown-output")} == set(SHOWN_OUTPUT)
    assert all((ROOT / "tests" / test).is_file() for test in {**RUNNABLE, **SHOWN_OUTPUT}.values())


def test_the_block_reader_finds_options_and_text(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n```{code-block} python\n:class: runnable extra\n:name: snippet-x\n"
                    "print(1)\n```\n\n```python\nprint(2)\n```\n")
    [found] = page_blocks(page)
    assert (found.language, found.name, found.classes, found.text) == ("python", "snippet-x",
                                                                      {"runnable", "extra"}, "print(1)\n")


def run_snippet(name: str, directory, check: str = "") -> str:
    """Run the page's block ``name`` in ``directory`` as a script, with ``check`` appended."""
    code = block(name).text + check
    result = subprocess.run([sys.executable, "-c", code], cwd=directory, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_api_basics_snippet_runs_as_written(tmp_path):
    train = [thermal_fcc(0.05, repeat=(2, 2, 2), seed=seed) for seed in range(3)]
    md = [thermal_fcc(0.15, repeat=(2, 2, 2), seed=10)]
    ase.io.write(tmp_path / "train.xyz", train)
    ase.io.write(tmp_path / "md.xyz", md)
    printed = run_snippet("snippet-api-basics", tmp_path, "\nprint(X.shape[0], Y.shape[0], len(dh), X.shape[1])\n")
    assert printed.split() == ["96", "32", "32", "63"]


def test_api_species_snippet_runs_as_written(tmp_path):
    ase.io.write(tmp_path / "inp_train.xyz", [thermal_inp(seed, repeat=1) for seed in range(3)])
    ase.io.write(tmp_path / "inp_md.xyz", [thermal_inp(10, sigma=0.2, repeat=1)])
    printed = run_snippet("snippet-api-species", tmp_path,
                          "\nimport numpy as np\nprint(X.shape[1], len(dh), int(np.isfinite(dh).all()))\n")
    assert printed.split() == ["189", "8", "1"]


@pytest.mark.parametrize("name", sorted(name for name, test in SHOWN_OUTPUT.items() if "lammps" in test))
def test_shown_output_blocks_hold_thermo_rows(name):
    """What the LAMMPS-side test compares: each shown output has a header and numeric rows."""
    from docs_blocks import thermo_rows

    rows = thermo_rows(block(name).text)
    assert len(rows) >= 3
    assert all(np.isfinite([float(value) for value in row]).all() for row in rows.values())


@pytest.mark.slow
def test_shown_output_of_the_ase_example_is_that_of_a_fresh_run(tmp_path):
    """The ASE monitor page shows lines of `python make_reference.py && python melt.py` in
    examples/ase_cu_melt (seeded dynamics): each is a line of a fresh run, to the printed digits."""
    directory = tmp_path / "ase_cu_melt"
    shutil.copytree(ROOT / "examples" / "ase_cu_melt", directory)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    for script in ("make_reference.py", "melt.py"):
        result = subprocess.run([sys.executable, script], cwd=directory, env=env, capture_output=True, text=True,
                                timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
    shown = block("output-ase-melt").text.strip("\n").splitlines()
    assert len(shown) >= 10 and shown[0].split()[:2] == ["step", "T"]
    assert [line for line in shown if line not in result.stdout.splitlines()] == []


def test_nothing_points_into_readme_headings():
    """Messages (C++ and Python), docstrings and tests point to documentation pages by their
    anchors, or to nothing: the README is a short overview whose headings may change."""
    sources = [p for folder in ("src", "lammps_quests", "tests", "benchmarks", "examples")
               for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".cpp", ".h", ".sh"}]
    allowed = {ROOT / "tests" / "repo" / "test_docs.py", ROOT / "tests" / "repo" / "test_docs_lammps.py",
               ROOT / "tests" / "repo" / "test_layout.py"}  # these read README.md as a file
    found = [f"{path.relative_to(ROOT)}:{number}" for path in sources if path not in allowed
             for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if re.search(r"README", line)]
    assert found == []


def test_docs_anchors_named_in_the_code_exist():
    """A message or docstring naming a page anchor (docs/PAGE.md, "(anchor)=") names a real one."""
    anchors = {m.group(1) for page in DOCS.glob("*.md") for m in re.finditer(r"^\(([\w-]+)\)=$",
                                                                             page.read_text(), re.M)}
    assert "fix-quests-save" in anchors
    cited = set()
    sources = [p for folder in ("lammps_quests", "src", "tests", "benchmarks") for p in (ROOT / folder).rglob("*")
               if p.suffix in {".py", ".cpp", ".h"}] + [ROOT / ".ci" / "run"]
    for path in sources:
        cited |= set(re.findall(r"docs/[\w-]+\.md#([\w-]+)", path.read_text()))
    assert {"your-own-lammps-invoke", "performance-mixed"} <= cited
    assert cited <= anchors, cited - anchors
