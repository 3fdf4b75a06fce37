"""The ASE example's reference script runs without warnings (ASE warns when it picks the
barostat mass by heuristic: the example gives the same mass explicitly) and builds the
reference docs/ase-monitor.md#ase-monitor-example describes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ase_cu_melt"


@pytest.mark.slow
def test_make_reference_runs_without_warnings(tmp_path):
    shutil.copy(EXAMPLE / "make_reference.py", tmp_path)
    result = subprocess.run([sys.executable, "-W", "error", "make_reference.py"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Warning" not in result.stderr
    assert result.stdout.startswith("21 frames, 2268 environments -> cu_emt.qref")
