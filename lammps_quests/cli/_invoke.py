"""``lammps-quests invoke-script``: the file a deck loads for the python/invoke route."""

from __future__ import annotations

from pathlib import Path

import click

from . import main
from ._options import PYTHON_NAMES, check_outputs, force_option


@main.command("invoke-script")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default="quests.py")
@click.option("--env", "prefix", default=None, metavar="DIR",
              help="environment where lammps-quests is installed (default: this one)")
@force_option
def invoke_script(path: Path, prefix: str | None, force: bool) -> None:
    """Write PATH (default quests.py) for `python quests ... file quests.py` in a LAMMPS with
    the PYTHON package (no plugin needed).

    \b
    Example:
      lammps-quests invoke-script quests.py
      lmp -in in.deck          # a LAMMPS with the PYTHON package, e.g. Debian's

    \b
    Deck:
      fix     dH all property/atom d_dH
      python  quests input 2 SELF "q all 100 ref.qref d_dH" format ps file quests.py
      python  quests invoke
    """
    from lammps_quests.lammps._bootstrap import environment_prefix, write_bootstrap

    check_outputs([path], force=force, names=PYTHON_NAMES)
    env = prefix or environment_prefix()
    write_bootstrap(path, env)
    click.echo(f"wrote {path} (lammps-quests environment {env})")
