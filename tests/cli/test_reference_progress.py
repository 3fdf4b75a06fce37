"""reference build shows progress for each of its long stages on a terminal: descriptors, the
threshold guidance and the fast index (and reference index for the latter)."""

from __future__ import annotations

import re

import ase.io
import pytest
from cli_support import invoke
from crystals import inp_frames, rattled_frames


@pytest.fixture
def terminal(monkeypatch):
    """Progress bars on, as on a terminal (CliRunner's streams are not TTYs)."""
    import lammps_quests.analysis._progress as progress

    monkeypatch.setattr(progress, "wants_progress", lambda *args, **kwargs: True)


@pytest.mark.parametrize("species", [None, "auto"])
def test_build_shows_the_guidance_and_index_stages(terminal, tmp_path, species):
    frames = inp_frames(2, seed=1) if species else rattled_frames("fcc", 3.615, 2, 0.03, 1)
    ase.io.write(tmp_path / "train.xyz", frames)
    extra = ["--species", species] if species else []
    result = invoke("reference", "build", "r.qref", "train.xyz", "--fast-index", *extra, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    # each stage's bar (tqdm may not draw 100 % of a bar this short before clearing it)
    for stage in ("descriptors", "threshold guidance", "fast index: k-means"):
        assert re.search(rf"{stage}: +\d+%\|", result.stderr), (stage, result.stderr[-2000:])
    again = invoke("reference", "index", "r.qref", cwd=tmp_path)
    assert re.search(r"fast index: k-means: +\d+%\|", again.stderr)
