"""The example decks run as a user runs them: make_reference.sh, then `lmp -in in.*` (~1 min)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest

from fix_support import requires_plugin
from lammps_quests.formats._structures import read_frames
from lammps_quests.formats._reference import Reference

pytestmark = pytest.mark.lammps

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BIN_DIR = Path(sys.executable).parent  # lmp and lammps-quests of this environment


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
           "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    env.pop("LAMMPS_POTENTIALS", None)  # as on a fresh machine: lmp must find them itself
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _thermo_rows(log: str) -> tuple[list[str], np.ndarray]:
    """Columns and rows of the last thermo block that prints f_q[1]."""
    lines = log.splitlines()
    start = max(i for i, line in enumerate(lines) if line.split()[:1] == ["Step"] and "f_q[1]" in line)
    columns = lines[start].split()
    rows = []
    for line in lines[start + 1:]:
        fields = line.split()
        if len(fields) != len(columns):
            if line.startswith("Loop time"):
                break
            continue  # messages of fix quests between thermo lines
        rows.append([float(value) for value in fields])
    return columns, np.array(rows)


def _example(name: str, tmp_path: Path) -> Path:
    directory = tmp_path / name
    shutil.copytree(EXAMPLES / name, directory)
    _run(["bash", "make_reference.sh"], directory)
    return directory


@requires_plugin
def test_cu_melt_example(tmp_path):
    directory = _example("cu_melt", tmp_path)
    reference = Reference.load(directory / "cu_fcc.qref")
    assert reference.n_environments == 21 * 256

    output = _run([str(BIN_DIR / "lmp"), "-in", "in.cu_melt"], directory).stdout
    columns, rows = _thermo_rows(output)
    q = {name: rows[:, columns.index(name)] for name in ("Temp", "f_q[1]", "f_q[2]", "f_q[3]", "f_q[4]")}
    assert len(rows) == 31  # steps 0, 500, ..., 15000
    # step 0 is the perfect lattice, part of the reference: nothing extrapolates
    assert q["f_q[1]"][0] <= 0 and q["f_q[4]"][0] == 0
    # the melt (last 5 rows, T > 2000 K): every atom is far outside the crystalline reference
    assert (q["f_q[3]"][-5:] == 1.0).all() and (q["f_q[4]"][-5:] == 500).all()
    assert (q["f_q[2]"][-5:] > 10).all()
    assert "final: max dH =" in output
    frames, _ = read_frames(directory / "dump.cu_melt.lammpstrj")
    assert len(frames) == 16 and "f_q" in frames[-1].arrays


@requires_plugin
def test_ta_strain_example_halts_and_saves(tmp_path):
    directory = _example("ta_strain", tmp_path)
    assert Reference.load(directory / "ta_bcc.qref").n_environments == 21 * 128

    output = _run([str(BIN_DIR / "lmp"), "-in", "in.ta_strain"], directory).stdout
    columns, rows = _thermo_rows(output)
    max_dh = rows[:, columns.index("f_q[1]")]
    assert max_dh[0] < 0  # the equilibrated, unstrained crystal is inside the reference
    assert "stopping the run (halt soft)" in output
    halted = [line for line in output.splitlines() if line.startswith("run ended at step")]
    assert halted and int(halted[0].split()[4].rstrip(",")) < 2250  # stopped before the end
    saved, _ = read_frames(directory / "extrapolated.xyz")
    assert saved and all(frame.arrays["dH"].max() > 2.0 for frame in saved)


@requires_plugin
def test_inp_antisite_example_flags_antisites_species_aware_only(tmp_path):
    workdir = tmp_path / "inp_antisite"
    shutil.copytree(EXAMPLES / "inp_antisite", workdir, ignore=shutil.ignore_patterns("*.qref", "dump.*", "log.*"))
    _run(["bash", "make_reference.sh"], workdir)
    species, agnostic = (Reference.load(workdir / name) for name in ("inp_species.qref", "inp_agnostic.qref"))
    assert species.species == ("In", "P") and species.species_counts == (1188, 1188)
    assert not agnostic.species_aware and agnostic.n_environments == 2376
    _run([str(BIN_DIR / "lmp"), "-in", "in.inp_antisite"], workdir)
    log = (workdir / "log.lammps").read_text()
    assert "4 atoms in group swapped" in log
    lines = log.splitlines()
    start = max(i for i, line in enumerate(lines) if "c_sw[1]" in line.split())
    columns = lines[start].split()
    rows = np.array([[float(v) for v in line.split()] for line in lines[start + 1:start + 7]])
    assert rows.shape == (6, len(columns))
    smallest_aware, smallest_agnostic = rows[:, columns.index("c_sw[1]")], rows[:, columns.index("c_sw[2]")]
    assert (smallest_aware > 0).all() and (smallest_agnostic <= 0).all()
    assert rows[0, columns.index("f_qa[4]")] == 0  # right after the exchange: nothing flagged


def test_inp_persist_example_counts_saves_of_a_persistent_defect(tmp_path):
    """The README's table: at t = 0 the fixed antisites are saved at all 16 evaluations, at
    t = 20 at a handful; the vacancy made afterwards is saved at once either way (its 4 In
    neighbours)."""
    workdir = tmp_path / "inp_antisite"
    shutil.copytree(EXAMPLES / "inp_antisite", workdir, ignore=shutil.ignore_patterns("*.qref", "dump.*", "log.*"))
    _run(["bash", "make_reference.sh"], workdir)
    saved = {}
    for t in (0, 20):
        _run([str(BIN_DIR / "lmp"), "-in", "in.inp_persist", "-var", "t", str(t)], workdir)
        frames = ase.io.read(workdir / f"saved_{t}.xyz", ":")
        saved[t] = sum(len(frame) == 216 for frame in frames)  # the first run: the fixed antisites
        vacancy = next(frame for frame in frames if len(frame) == 215)
        assert vacancy.info["step"] == 250  # the first evaluation after the vacancy appeared
        new = np.flatnonzero(vacancy.arrays["new"] == 1)
        assert len(new) == 4 and {vacancy.get_chemical_symbols()[i] for i in new} == {"In"}
    assert saved[0] == 16 and saved[20] <= 4
