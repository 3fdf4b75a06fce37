"""Helpers for the ``fix quests`` tests: small decks, reference building, dump reading and the
offline dH that the fix must reproduce."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lammps_quests.core._defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K

CU_LATTICE = 3.615  # Å, FCC
TA_LATTICE = 3.316  # Å, BCC

CU_POTENTIAL = """pair_style eam/alloy
pair_coeff * * Cu_mishin1.eam.alloy Cu"""
TA_POTENTIAL = """pair_style snap
pair_coeff * * Ta06A.snapcoeff Ta06A.snapparam Ta
mass 1 180.88"""


def plugin_built() -> bool:
    """True if `lmp` will find the plugin (this checkout's or the installed distribution's)."""
    from lammps_quests.lammps._plugin import PLUGIN_FILE, find_plugin_directory

    return (Path(find_plugin_directory()) / PLUGIN_FILE).is_file()


if os.environ.get("CI") and not plugin_built():
    # in CI the plugin is installed by the README's command: missing means broken, not skipped
    raise RuntimeError("questsplugin.so is not installed next to the imported lammps_quests; "
                       "run the tests from the environment made by `pip install .`")

requires_plugin = pytest.mark.skipif(
    not plugin_built(),
    reason="questsplugin.so is not built next to the imported lammps_quests: `pip install .` "
    "and run pytest from the installed environment",
)


def crystal(lattice: str, a: float, cells: int, potential: str, seed: int = 1,
            displace: float = 0.05, boundary: str = "p p p", tilt: float = 0.0) -> str:
    """Deck lines for a thermally displaced crystal (random displacements up to ``displace`` Å)."""
    if tilt:
        region = f"region box prism 0 {cells} 0 {cells} 0 {cells} {tilt} 0 0"
    else:
        region = f"region box block 0 {cells} 0 {cells} 0 {cells}"
    return f"""units metal
boundary {boundary}
lattice {lattice} {a}
{region}
create_box 1 box
create_atoms 1 box
{potential}
displace_atoms all random {displace} {displace} {displace} {seed} units box
"""


def cu_crystal(cells: int = 3, **kw) -> str:
    return crystal("fcc", CU_LATTICE, cells, CU_POTENTIAL, **kw)


def ta_crystal(cells: int = 3, **kw) -> str:
    return crystal("bcc", TA_LATTICE, cells, TA_POTENTIAL, **kw)


def dump_lines(every: int, columns: str = "id type x y z f_q", name: str = "dump.fix") -> str:
    """A sorted full-precision dump (positions must reach the offline code unrounded)."""
    return f"""dump d all custom {every} {name} {columns}
dump_modify d sort id format float %.17g
"""


@dataclass
class Frame:
    step: int
    ids: np.ndarray
    positions: np.ndarray  # Å, relative to the box origin
    cell: np.ndarray  # rows = lattice vectors, Å
    pbc: np.ndarray
    columns: dict


def read_dump(path) -> list[Frame]:
    """Frames of a LAMMPS ``dump custom`` text file (orthogonal or triclinic box)."""
    frames = []
    lines = Path(path).read_text().splitlines()
    i = 0
    while i < len(lines):
        assert lines[i].startswith("ITEM: TIMESTEP"), lines[i]
        step = int(lines[i + 1])
        n = int(lines[i + 3])
        header = lines[i + 4].split()
        pbc = np.array([flag == "pp" for flag in header[-3:]])
        bounds = np.array([[float(v) for v in lines[i + 5 + d].split()] for d in range(3)])
        xy = xz = yz = 0.0
        if bounds.shape[1] == 3:
            xy, xz, yz = bounds[:, 2]
        xlo = bounds[0, 0] - min(0.0, xy, xz, xy + xz)
        xhi = bounds[0, 1] - max(0.0, xy, xz, xy + xz)
        ylo = bounds[1, 0] - min(0.0, yz)
        yhi = bounds[1, 1] - max(0.0, yz)
        zlo, zhi = bounds[2, :2]
        cell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]])
        names = lines[i + 8].split()[2:]
        table = np.array([[float(v) for v in line.split()] for line in lines[i + 9:i + 9 + n]])
        columns = {name: table[:, j] for j, name in enumerate(names)}
        positions = np.column_stack([columns["x"], columns["y"], columns["z"]]) - [xlo, ylo, zlo]
        frames.append(Frame(step, columns["id"].astype(int), positions, cell, pbc, columns))
        i += 9 + n
    return frames


def offline_dh(frame: Frame, reference, bandwidth: float | None = None,
               rows: np.ndarray | None = None) -> np.ndarray:
    """dH (nats) of the frame's atoms (or of ``rows``) computed by the Python API."""
    from lammps_quests.core._descriptors import descriptors_from_arrays
    from lammps_quests.core._information import delta_entropy

    X = descriptors_from_arrays(frame.positions, frame.cell, frame.pbc, k=reference.k,
                                cutoff=reference.cutoff)
    if rows is not None:
        X = X[rows]
    h = reference.bandwidth if bandwidth is None else bandwidth
    return delta_entropy(X, reference.descriptors, h)


def run_ok(run_lmp, deck: str, cwd, **kw):
    """Run ``deck`` with the ``run_lmp`` fixture and fail the test, with LAMMPS's output, if it fails."""
    result = run_lmp(deck, cwd, **kw)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def build_reference(run_lmp, directory: Path, deck_head: str, out: str, steps: int = 100,
                    every: int = 25, temperature: float = 600.0, k: int = DEFAULT_K,
                    cutoff: float = DEFAULT_CUTOFF, bandwidth: float = DEFAULT_BANDWIDTH) -> Path:
    """Run a short NVE MD from ``deck_head``, build a Reference from its frames, save it."""
    import ase

    from lammps_quests.formats._reference import Reference

    directory = Path(directory)
    deck = deck_head + f"""velocity all create {temperature} 4928 loop geom
fix nve all nve
{dump_lines(every, "id type x y z", name="dump.reference")}
run {steps}
"""
    result = run_lmp(deck, directory, name="in.reference")
    assert result.returncode == 0, result.stdout + result.stderr
    frames = [
        ase.Atoms(numbers=np.zeros(len(f.ids), dtype=int), positions=f.positions, cell=f.cell, pbc=f.pbc)
        for f in read_dump(directory / "dump.reference")
    ]
    reference = Reference.build(frames, k=k, cutoff=cutoff, bandwidth=bandwidth)
    path = directory / out
    reference.save(path)
    return path


def load(path):
    from lammps_quests.formats._reference import Reference

    return Reference.load(path)


def thermo_table(log_text: str) -> list[dict]:
    """Rows of every thermo block in a LAMMPS log (keys = column names); other lines printed
    during a run (fix messages, warnings) are skipped."""
    rows, names = [], None
    for line in log_text.splitlines():
        words = line.split()
        if words[:1] == ["Step"]:
            names = words
        elif line.startswith("Loop time"):
            names = None
        elif names and len(words) == len(names):
            try:
                rows.append(dict(zip(names, (float(w) for w in words))))
            except ValueError:
                continue
    return rows


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "ERROR" in line]
