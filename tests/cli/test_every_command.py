"""Every command of ``lammps-quests`` has a worked example in its --help, and every command
that reports results has --json: found by walking the click group, so a new
command cannot be left out."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from lammps_quests.cli import main

#: commands whose output is not a result: they run LAMMPS (demo), check the installation
#: (doctor) or write a script (invoke-script)
NO_JSON = set("demo doctor invoke-script".split())  # only --help of them runs here


def _commands(group=main, prefix=()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + (name,))
        else:
            yield prefix + (name,)


COMMANDS = list(_commands())


def test_the_walk_finds_the_commands():
    assert {("select",), ("saved",), ("render",), ("reference", "build"), ("reference", "index"),
            ("invoke-script",)} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_has_an_example_and_json(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output and f"lammps-quests {' '.join(command)}" in result.output
    if " ".join(command) not in NO_JSON:
        assert "--json" in result.output
