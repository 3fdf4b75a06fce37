"""The ``lammps-quests`` command: one click group, subcommands live in sibling modules.

Each submodule defines its commands with ``@main.command()`` (or adds a sub-group) on the
group below; importing the submodules here registers them. Keeping them in separate files
keeps each family of commands (reference sets, analysis, rendering) small and independent.
"""

from __future__ import annotations

import importlib
import os

import click

__all__ = ["main"]


class _Main(click.Group):
    """The command group: a write that fails for want of space or a vanished directory ends
    in one error line, and the incomplete outputs are removed, instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except OSError as error:
            from lammps_quests.cli._options import remove_incomplete_outputs

            outputs = list(ctx.meta.get("lammps_quests.outputs", {}))
            removed = remove_incomplete_outputs(ctx)
            if error.filename:
                where = f": {error.filename}"
            else:  # a write, whose error carries no file name: the command's outputs
                where = f" while writing {', '.join(map(str, outputs))}" if outputs else ""
            note = f"; removed the incomplete {', '.join(map(str, removed))}" if removed else ""
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise click.ClickException(f"{reason}{where}{note}") from None


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lammps-quests")
@click.pass_context
def main(ctx) -> None:
    """QUESTS information entropy and uncertainty for atomistic data and LAMMPS runs.

    \b
    Example:
      lammps-quests demo
    """
    from lammps_quests._terminal import drop_colour_reset_at_exit

    ctx.call_on_close(drop_colour_reset_at_exit)


_SUBMODULES = ("_demo", "_reference", "_analysis", "_render", "_active", "_doctor", "_invoke")

for _name in _SUBMODULES:
    importlib.import_module(f"{__name__}.{_name}")
