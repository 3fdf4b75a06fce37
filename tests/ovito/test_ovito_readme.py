"""The README's QuestsModifier snippet runs as written, on a LAMMPS dump and a reference of the
names it uses, and prints what the modifier computed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from ovito_support import md_dump, modifier_frames

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_snippet() -> str:
    section = README.read_text().split("### Any trajectory, inside OVITO: the `QuestsModifier`")[1]
    return section.split("```python\n")[1].split("```")[0]


def test_readme_snippet_runs_as_written(run_lmp, cu_reference, tmp_path):
    code = readme_snippet()
    assert len([line for line in code.splitlines() if line.startswith("pipeline")]) == 2  # + compute
    md_dump(run_lmp, tmp_path, temperature=1200.0).rename(tmp_path / "dump.lammpstrj")
    shutil.copy(cu_reference, tmp_path / "reference.qref")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = result.stdout.split()[0]
    [(values, attributes, _)] = modifier_frames(tmp_path / "dump.lammpstrj", reference=str(cu_reference))[:1]
    assert float(printed) == attributes["QUESTS.max"] == values.max()
    assert np.isfinite(values).all()


def test_readme_gives_the_ovito_pro_and_module_install_steps():
    section = README.read_text().split("### Any trajectory, inside OVITO: the `QuestsModifier`")[1]
    section = section.split("\n## ")[0]
    assert "ovitos -m pip install lammps-quests" in section
    assert 'pip install "lammps-quests[ovito]"' in section
    assert "docs/images/ovito_modifier.png" in section
    assert (README.parent / "docs" / "images" / "ovito_modifier.png").stat().st_size > 10_000
