"""The LAMMPS glue's own pieces, without starting LAMMPS: the one box-to-cell conversion, how the
python/invoke route reads failures from its gathered state array, and which module owns which job."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

LAMMPS_DIR = Path(__file__).resolve().parents[2] / "lammps_quests" / "lammps"


class FakeBox:
    """Answers ``extract_box`` as LAMMPS does: boxlo, boxhi, xy, yz, xz, periodicity, box_change."""

    def extract_box(self):
        return [1.0, -2.0, 0.5], [5.0, 3.0, 7.5], 0.3, -0.2, 0.1, [1, 0, 1], 0


def test_box_cell_rows_are_the_lattice_vectors():
    from lammps_quests.lammps._arrays import box_cell

    origin, cell, pbc = box_cell(FakeBox())
    np.testing.assert_array_equal(origin, [1.0, -2.0, 0.5])
    # LAMMPS's restricted triclinic: a = (lx, 0, 0), b = (xy, ly, 0), c = (xz, yz, lz)
    np.testing.assert_array_equal(cell, [[4.0, 0.0, 0.0], [0.3, 5.0, 0.0], [0.1, -0.2, 7.0]])
    assert pbc.tolist() == [True, False, True]


def test_failed_ranks_are_read_from_the_codes_lowest_first():
    from lammps_quests.lammps._invoke import IN_GROUP, NEW, OUTSIDE, failed_ranks

    assert failed_ranks(np.array([OUTSIDE, IN_GROUP, NEW])) == []
    # rank r writes -(r + 1) on all its atoms
    assert failed_ranks(np.array([IN_GROUP, -3.0, -3.0, NEW, -1.0])) == [0, 2]


def test_every_lammps_module_names_one_job_in_one_line():
    """Each module's docstring opens with a one-line summary, and no two summaries are equal."""
    summaries = {}
    for path in sorted(LAMMPS_DIR.glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc, f"{path.name} has no docstring"
        lines = doc.splitlines()
        assert len(lines) == 1 or lines[1] == "", f"{path.name}: the first docstring line is not one line"
        summaries[path.name] = lines[0]
    assert len(set(summaries.values())) == len(summaries)
    assert "fix.py" not in summaries  # its jobs went to arrays, session and bridge


def test_the_plugin_calls_the_bridge_module_with_its_functions():
    """src/python_bridge.cpp imports lammps_quests.lammps._bridge and calls functions it defines."""
    import re

    import lammps_quests.lammps._bridge as bridge

    source = (Path(__file__).resolve().parents[2] / "src" / "python_bridge.cpp").read_text()
    assert '"lammps_quests.lammps._bridge"' in source
    called = set(re.findall(r'call_bridge\(lmp, "(\w+)"', source))
    assert called == {"open_fix", "evaluate", "wants_frame", "finish", "report", "close_fix"}
    assert all(callable(getattr(bridge, name)) for name in called)
