"""CLI conventions of the analysis commands: help with examples, progress only on terminals."""

from __future__ import annotations

import io

import pytest
from click.testing import CliRunner

from lammps_quests.analysis._progress import progress_bar, wants_progress
from lammps_quests.cli import main

COMMANDS = ["entropy", "dh", "overlap", "learning-curve", "compress", "clusters", "bandwidth"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_a_worked_example(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert f"lammps-quests {command}" in result.output


def test_all_commands_registered():
    result = CliRunner().invoke(main, ["--help"])
    for command in COMMANDS:
        assert command in result.output


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_only_on_a_terminal_and_rank_zero():
    assert wants_progress(0, _Terminal())
    assert not wants_progress(1, _Terminal())  # other MPI ranks stay quiet
    assert not wants_progress(0, io.StringIO())  # pipe or log file
    with progress_bar(10, "x", enabled=False) as bar:
        bar.update(10)  # a disabled bar keeps the interface


def test_no_progress_output_in_a_pipe(tmp_path):
    import ase.io
    from ase.build import bulk

    path = tmp_path / "a.xyz"
    ase.io.write(path, bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2))
    result = CliRunner().invoke(main, ["entropy", str(path)])  # CliRunner streams are not TTYs
    assert result.exit_code == 0
    assert "it/s" not in result.output and "env/s" not in result.output and "%|" not in result.output


@pytest.mark.parametrize("command", [["entropy"], ["overlap", "FILE"], ["dh", "-r", "REF"]])
def test_bandwidth_outside_the_accepted_range_is_a_clear_error(tmp_path, command):
    import ase.io
    from ase.build import bulk

    from lammps_quests.formats._reference import Reference

    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    atoms.rattle(0.05, seed=3)
    path = tmp_path / "a.xyz"
    ase.io.write(path, atoms)
    Reference.build(atoms).save(tmp_path / "ref.qref")
    command = [word.replace("REF", str(tmp_path / "ref.qref")).replace("FILE", str(path)) for word in command]
    for value in ("1e-300", "50"):
        result = CliRunner().invoke(main, [*command, str(path), "--bandwidth", value])
        assert result.exit_code == 2, result.output
        assert f"bandwidth must lie between 0.0001 and 10 Å^-1, got {float(value)!r}" in result.output
        assert "nan" not in result.output and "Traceback" not in result.output
