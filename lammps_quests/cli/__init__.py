"""The ``lammps-quests`` command: one click group, subcommands live in sibling modules.

Each submodule defines its commands with ``@main.command()`` (or adds a sub-group) on the
group below; importing the submodules here registers them. Keeping them in separate files
keeps each family of commands (reference sets, analysis, rendering) small and independent.
"""

from __future__ import annotations

import importlib

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lammps-quests")
@click.pass_context
def main(ctx) -> None:
    """QUESTS information entropy and uncertainty for atomistic data and LAMMPS runs.

    \b
    Example:
      lammps-quests demo
    """
    from lammps_quests.core.terminal import drop_colour_reset_at_exit

    ctx.call_on_close(drop_colour_reset_at_exit)


_SUBMODULES = ("demo", "reference", "analysis", "render", "active", "doctor", "invoke")

for _name in _SUBMODULES:
    importlib.import_module(f"{__name__}.{_name}")
