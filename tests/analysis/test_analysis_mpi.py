"""`mpirun -np 2 lammps-quests dh|entropy|overlap` prints the same numbers as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest

from cli_support import invoke
import lammps_quests.core._kernel_sums as kernel_sums
from lammps_quests.formats._reference import Reference
from crystals import rattled_frames

MPIRUN = Path(sys.executable).parent / "mpirun"
CLI = "from lammps_quests.cli import main; main()"

pytestmark = pytest.mark.slow  # mpirun -np 2 of the CLI: seconds of start-up per test


def _run(arguments, ranks: int, cwd: Path, cli: str = CLI) -> dict:
    """The command under ``mpirun -np ranks``, one thread per rank (the installed package)."""
    env = dict(os.environ)
    env["NUMBA_NUM_THREADS"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, "-c", cli, *arguments, "--json"]
    if ranks > 1:
        command = [str(MPIRUN), "-np", str(ranks)] + command
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)  # only rank 0 prints: one JSON document


def _one_process(arguments, cwd: Path) -> dict:
    """The command in one process: this one, on one thread as each rank (click's CliRunner)."""
    result = invoke(*arguments, "--json", cwd=cwd, threads_one=True)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mpi")
    # 5 frames of 108 atoms and one of 32: 572 rows, more than one block per rank.
    frames = rattled_frames("fcc", 3.615, 5, 0.08, 0, 3) + rattled_frames("fcc", 3.615, 1, 0.08, 9, 2)
    ase.io.write(directory / "test.xyz", frames)
    ase.io.write(directory / "bcc.xyz", rattled_frames("bcc", 2.87, 2, 0.05, 20, 3))
    Reference.build(rattled_frames("fcc", 3.615, 3, 0.06, 40, 3)).save(directory / "ref.qref")
    return directory


@pytest.mark.skipif(not MPIRUN.exists(), reason="the mpich wheel's mpirun is not installed")
@pytest.mark.parametrize(
    "arguments",
    [
        ["dh", "test.xyz", "-r", "ref.qref"],
        ["entropy", "test.xyz", "bcc.xyz"],
        ["overlap", "test.xyz", "bcc.xyz", "--bandwidth", "0.03"],
    ],
    ids=["dh", "entropy", "overlap"],
)
def test_mpi_equals_serial(inputs, arguments):
    serial = _one_process(arguments, inputs)
    parallel = _run(arguments, 2, inputs)
    assert serial.pop("mpi_ranks") == 1
    assert parallel.pop("mpi_ranks") == 2  # the rows really were split over two ranks
    assert parallel == serial  # every printed number identical


@pytest.mark.skipif(not MPIRUN.exists(), reason="the mpich wheel's mpirun is not installed")
def test_entropy_chunks_shared_by_ranks_add_up_to_the_serial_numbers(inputs, monkeypatch):
    """With 64-row blocks the symmetric self-sum of 572 rows has 45 block pairs in 16 chunks, so
    each of 2 ranks computes 8 of them; the entropy table equals one process's and the core's."""
    import lammps_quests
    from lammps_quests.analysis import read_dataset

    small_blocks = "import lammps_quests.core._kernel_sums as k; k.SELF_BLOCK = 64; " + CLI
    parallel = _run(["entropy", "test.xyz"], 2, inputs, small_blocks)
    with monkeypatch.context() as patch:  # the same blocks in this process; the core below: default ones
        patch.setattr(kernel_sums, "SELF_BLOCK", 64)
        serial = _one_process(["entropy", "test.xyz"], inputs)
    assert (serial.pop("mpi_ranks"), parallel.pop("mpi_ranks")) == (1, 2)
    assert parallel == serial
    X = read_dataset([inputs / "test.xyz"]).descriptors
    (row,) = serial["datasets"]
    assert row["n"] == 572
    assert row["entropy"] == pytest.approx(lammps_quests.entropy(X), abs=1e-10)
    assert row["diversity"] == pytest.approx(lammps_quests.diversity(X), abs=1e-10)


def test_descriptor_rows_match_whole_frames():
    """Each rank describes only its block of atoms; the blocks equal rows of the full array."""
    from ase.build import fcc111, molecule

    from lammps_quests.analysis._inputs import descriptor_rows
    from lammps_quests.core._descriptors import descriptors

    slab = fcc111("Cu", size=(3, 3, 3), vacuum=5.0)
    slab.rattle(0.05, seed=1)
    frames = rattled_frames("fcc", 3.615, 2, 0.08, 3, 2) + [slab, molecule("C6H6")]
    full = descriptors(frames)
    n = len(full)
    for start, stop in [(0, n), (0, 1), (10, 75), (60, n), (n - 3, n), (5, 5)]:
        assert np.array_equal(descriptor_rows(frames, start, stop), full[start:stop])


@pytest.mark.skipif(not MPIRUN.exists(), reason="the mpich wheel's mpirun is not installed")
def test_serial_commands_refuse_mpirun(inputs):
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    command = [str(MPIRUN), "-np", "2", sys.executable, "-c", CLI, "compress", "test.xyz", "-f", "0.5", "-o", "sub.xyz"]
    result = subprocess.run(command, cwd=inputs, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "compress does not run under MPI" in result.stderr + result.stdout
    assert not (inputs / "sub.xyz").exists()
