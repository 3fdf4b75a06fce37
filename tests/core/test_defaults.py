"""The method's defaults (k, cutoff Å, bandwidth Å^-1) live in core.defaults and reach every
public entry point from there."""

import inspect

import numpy as np
from ase.build import bulk

import lammps_quests
from lammps_quests.analysis import entropy_summary
from lammps_quests.cli import main
import lammps_quests.core._defaults as defaults
from lammps_quests.formats._reference import Reference


def test_public_names_are_the_defaults_the_computations_use():
    """The exported defaults are the paper's, and what descriptors and entropy compute with when
    no setting is given: equal to passing them, unlike passing another value."""
    k, cutoff, bandwidth = lammps_quests.DEFAULT_K, lammps_quests.DEFAULT_CUTOFF, lammps_quests.DEFAULT_BANDWIDTH
    assert (k, cutoff, bandwidth) == (32, 5.0, 0.015)
    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=1)
    X = lammps_quests.descriptors(atoms)
    assert X.shape == (32, 2 * k - 1)
    np.testing.assert_array_equal(X, lammps_quests.descriptors(atoms, k=k, cutoff=cutoff))
    assert not np.array_equal(X, lammps_quests.descriptors(atoms, k=k, cutoff=0.9 * cutoff))
    assert lammps_quests.entropy(X) == lammps_quests.entropy(X, bandwidth) != lammps_quests.entropy(X, 2 * bandwidth)


def test_functions_and_commands_default_to_them(monkeypatch):
    build = inspect.signature(Reference.build).parameters
    assert (build["k"].default, build["cutoff"].default, build["bandwidth"].default) == (
        defaults.DEFAULT_K, defaults.DEFAULT_CUTOFF, defaults.DEFAULT_BANDWIDTH)
    assert inspect.signature(lammps_quests.entropy).parameters["bandwidth"].default == defaults.DEFAULT_BANDWIDTH
    assert inspect.signature(entropy_summary).parameters["bandwidth"].default == defaults.DEFAULT_BANDWIDTH
    import click

    context = click.Context(main)
    for path, expected in [(("reference", "build"), {"k": 32, "cutoff": 5.0, "bandwidth": 0.015}),
                           (("entropy",), {"k": 32, "cutoff": 5.0, "h": 0.015})]:
        command = main
        for name in path:
            command = command.get_command(context, name)
        found = {p.name: p.default for p in command.params if p.name in expected}
        assert found == expected, path
