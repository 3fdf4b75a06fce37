"""Offline commands on inputs that would give silent wrong answers: LAMMPS dumps that number
their atom types, and coordinates that cannot be in Å."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from cli_support import invoke
from crystals import inp_frames, rattled_frames

from lammps_quests.formats._lammps_dump import write_lammps_dump
from lammps_quests.formats._reference import Reference


def typed_dump(path, frames):
    """``frames`` written as a LAMMPS dump of id type x y z: In type 1, P type 2, no elements."""
    for frame in frames:
        frame.new_array("type", np.where(np.array(frame.get_chemical_symbols()) == "In", 1, 2))
    write_lammps_dump(path, frames, {})
    return path


@pytest.fixture(scope="module")
def inp_files(tmp_path_factory):
    """(typed dump, the same frames as extended XYZ, a species-aware In,P reference of other frames)."""
    directory = tmp_path_factory.mktemp("inp")
    frames = inp_frames(2, seed=3, swap=True)
    ase.io.write(directory / "inp.xyz", frames)
    typed_dump(directory / "dump.inp.lammpstrj", [frame.copy() for frame in frames])
    Reference.build(inp_frames(2, seed=40), species="In,P").save(directory / "inp.qref")
    return directory / "dump.inp.lammpstrj", directory / "inp.xyz", directory / "inp.qref"


def test_reference_build_auto_refuses_numbered_types_and_names_the_fix(inp_files, tmp_path):
    dump, _, _ = inp_files
    result = invoke("reference", "build", tmp_path / "r.qref", dump, "--species", "auto", cwd=tmp_path)
    assert result.exit_code != 0
    assert "atom type 1" in result.output and "--species In,P" in result.output
    assert "element" in result.output and not (tmp_path / "r.qref").exists()


def test_reference_build_with_the_elements_of_the_types_equals_the_xyz_build(inp_files, tmp_path):
    dump, xyz, _ = inp_files
    for name, source in (("dump.qref", dump), ("xyz.qref", xyz)):
        result = invoke("reference", "build", tmp_path / name, source, "--species", "In,P", cwd=tmp_path)
        assert result.exit_code == 0, result.output
    from_dump, from_xyz = Reference.load(tmp_path / "dump.qref"), Reference.load(tmp_path / "xyz.qref")
    assert from_dump.species == ("In", "P")
    np.testing.assert_allclose(from_dump.descriptors, from_xyz.descriptors, atol=1e-7)


def test_a_short_species_list_names_the_types_it_lacks(inp_files, tmp_path):
    dump, _, _ = inp_files
    result = invoke("entropy", dump, "--species", "In", cwd=tmp_path)
    assert result.exit_code != 0
    assert "atom type 2" in result.output and "types 1..1" in result.output
    assert "use 'auto'" not in result.output  # auto would read H and He


def test_entropy_auto_refuses_and_a_list_equals_the_xyz_rows(inp_files, tmp_path):
    dump, xyz, _ = inp_files
    refused = invoke("entropy", dump, "--species", "auto", cwd=tmp_path)
    assert refused.exit_code != 0 and "atom type 1" in refused.output and "centred on He" not in refused.output
    rows = []
    for source in (dump, xyz):
        result = invoke("entropy", source, "--species", "In,P", "--json", cwd=tmp_path)
        assert result.exit_code == 0, result.output
        rows.append(json.loads(result.output)["datasets"][0])
    assert [part["name"] for part in rows[0]["per_species"]] == ["In", "P"]
    assert rows[0]["entropy"] == pytest.approx(rows[1]["entropy"], abs=1e-9)


def test_dh_takes_the_elements_of_the_types_with_species(inp_files, tmp_path):
    dump, xyz, reference = inp_files
    refused = invoke("dh", dump, "-r", reference, cwd=tmp_path)
    assert refused.exit_code != 0 and "--species In,P" in refused.output
    results = []
    for source, extra in ((dump, ["--species", "In,P"]), (xyz, [])):
        result = invoke("dh", source, "-r", reference, *extra, "--json", cwd=tmp_path)
        assert result.exit_code == 0, result.output
        results.append(json.loads(result.output))
    assert results[0]["max"] == pytest.approx(results[1]["max"], abs=1e-9)
    assert results[0]["per_species"].keys() == {"In", "P"}
    # the reverse order names type 1 P: a different (wrong for this file) but honest answer
    swapped = invoke("dh", dump, "-r", reference, "--species", "P,In", "--json", cwd=tmp_path)
    assert swapped.exit_code == 0 and json.loads(swapped.output)["max"] != pytest.approx(results[1]["max"])


def test_dh_species_is_documented():
    from click.testing import CliRunner

    from lammps_quests.cli import main

    result = CliRunner().invoke(main, ["dh", "--help"])
    assert "--species" in result.output and "type-id order" in result.output


# ------------------------------------------------------------------ lengths that cannot be Å
@pytest.fixture(scope="module")
def cu_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cu")
    frames = rattled_frames("fcc", 3.615, 2, 0.05, 1)
    ase.io.write(directory / "cu.xyz", frames)
    Reference.build(rattled_frames("fcc", 3.615, 2, 0.05, 9)).save(directory / "cu.qref")
    nm = [frame.copy() for frame in frames]
    for frame in nm:
        frame.set_cell(frame.cell[:] / 10, scale_atoms=True)
    ase.io.write(directory / "cu_nm.xyz", nm)
    write_lammps_dump(directory / "dump.cu.lammpstrj", frames, {})
    text = (directory / "dump.cu.lammpstrj").read_text()
    (directory / "dump.lj.lammpstrj").write_text("ITEM: UNITS\nlj\n" + text)
    (directory / "dump.metal.lammpstrj").write_text("ITEM: UNITS\nmetal\n" + text)
    return directory


@pytest.mark.parametrize("command", [["dh", "-r", "cu.qref"], ["reference", "build", "out.qref"],
                                     ["entropy"]])
def test_nanometre_coordinates_are_refused(cu_files, command):
    files = ["cu_nm.xyz"]
    arguments = command[:2] + ["out.qref"] + files if command[0] == "reference" else command + files
    result = invoke(*arguments, cwd=cu_files)
    assert result.exit_code != 0
    assert "closer than any two atoms can be in Å" in result.output and "cu_nm.xyz: frame 0" in result.output
    assert "Traceback" not in result.output


def test_a_dump_of_units_lj_is_refused_and_metal_is_read(cu_files):
    refused = invoke("dh", "dump.lj.lammpstrj", "-r", "cu.qref", cwd=cu_files)
    assert refused.exit_code != 0
    assert "units lj" in refused.output and "not Å" in refused.output and "units metal or real" in refused.output
    accepted = [invoke("dh", name, "-r", "cu.qref", "--json", cwd=cu_files)
                for name in ("dump.metal.lammpstrj", "dump.cu.lammpstrj")]
    assert [result.exit_code for result in accepted] == [0, 0], accepted[0].output
    assert json.loads(accepted[0].output)["max"] == json.loads(accepted[1].output)["max"]
