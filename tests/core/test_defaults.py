"""The method's defaults (k, cutoff Å, bandwidth Å^-1) live in core.defaults and reach every
public entry point from there."""

import inspect

import lammps_quests
from lammps_quests.analysis import entropy_summary
from lammps_quests.cli import main
import lammps_quests.core._defaults as defaults
from lammps_quests.formats._reference import Reference


def test_public_names_are_the_core_defaults():
    assert (defaults.DEFAULT_K, defaults.DEFAULT_CUTOFF, defaults.DEFAULT_BANDWIDTH) == (32, 5.0, 0.015)
    assert lammps_quests.DEFAULT_K is defaults.DEFAULT_K
    assert lammps_quests.DEFAULT_CUTOFF is defaults.DEFAULT_CUTOFF
    assert lammps_quests.DEFAULT_BANDWIDTH is defaults.DEFAULT_BANDWIDTH


def test_functions_and_commands_default_to_them(monkeypatch):
    build = inspect.signature(Reference.build).parameters
    assert (build["k"].default, build["cutoff"].default, build["bandwidth"].default) == (
        defaults.DEFAULT_K, defaults.DEFAULT_CUTOFF, defaults.DEFAULT_BANDWIDTH)
    assert inspect.signature(lammps_quests.entropy).parameters["h"].default == defaults.DEFAULT_BANDWIDTH
    assert inspect.signature(entropy_summary).parameters["h"].default == defaults.DEFAULT_BANDWIDTH
    import click

    context = click.Context(main)
    for path, expected in [(("reference", "build"), {"k": 32, "cutoff": 5.0, "bandwidth": 0.015}),
                           (("entropy",), {"k": 32, "cutoff": 5.0, "h": 0.015})]:
        command = main
        for name in path:
            command = command.get_command(context, name)
        found = {p.name: p.default for p in command.params if p.name in expected}
        assert found == expected, path
