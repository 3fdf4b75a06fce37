"""Bad input to the OVITO modifier: each problem is one QuestsModifierError naming it and the fix,
raised through the pipeline (OVITO stops there and shows the message as the modifier's error),
never an exception from deep inside with a chained traceback."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

try:
    import ovito  # noqa: F401
except ImportError:
    pytest.fail('the OVITO modifier tests need OVITO: pip install ".[test]"', pytrace=False)

from fix_support import run_ok  # noqa: E402
from ovito_support import cu_triclinic, inp_crystal_atoms, inp_reference, pipeline_with, write_xyz  # noqa: E402


def error_of(path, **traits) -> str:
    """The message the modifier raises for frame 0 of ``path``: one line, no chained cause."""
    from lammps_quests.errors import QuestsModifierError

    pipeline, _ = pipeline_with(path, **traits)
    with pytest.raises(QuestsModifierError) as raised:
        pipeline.compute(0)
    error = raised.value
    assert error.__cause__ is None and error.__suppress_context__ or error.__context__ is None
    message = str(error)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.fixture(scope="module")
def cu_xyz(tmp_path_factory):
    return write_xyz(tmp_path_factory.mktemp("cu_xyz") / "cu.xyz", [cu_triclinic()])


def test_no_reference_set(cu_xyz):
    assert "no reference file is set" in error_of(cu_xyz)


def test_missing_reference(cu_xyz, tmp_path):
    message = error_of(cu_xyz, reference=str(tmp_path / "nowhere.qref"))
    assert "nowhere.qref" in message and "does not exist" in message


def test_damaged_reference(cu_xyz, cu_reference, tmp_path):
    damaged = tmp_path / "damaged.qref"
    damaged.write_bytes(cu_reference.read_bytes()[:-1000])  # cut short, as by a full disk
    message = error_of(cu_xyz, reference=str(damaged))
    assert "damaged.qref" in message and "rebuild" in message.lower()
    text = tmp_path / "text.qref"
    text.write_text("not a reference\n")
    assert "not a lammps-quests reference file" in error_of(cu_xyz, reference=str(text))


def test_k_and_cutoff_mismatch(cu_xyz, cu_reference):
    message = error_of(cu_xyz, reference=str(cu_reference), k=16)
    assert "16" in message and "32" in message
    message = error_of(cu_xyz, reference=str(cu_reference), cutoff=4.0)
    assert "cutoff" in message and "4" in message and "5" in message


def test_bad_settings(cu_xyz, cu_reference):
    from lammps_quests.errors import OptionError

    # a setting the fix and the ASE monitor share: their OptionError, unchanged
    pipeline, _ = pipeline_with(cu_xyz, reference=str(cu_reference), bandwidth=-0.01)
    with pytest.raises(OptionError, match="bandwidth must lie between"):
        pipeline.compute(0)
    assert "colour scale must be > 0" in error_of(cu_xyz, reference=str(cu_reference), colour_coding=True,
                                                  colour_range=0.0)


def test_fast_without_an_index(cu_xyz, cu_reference, tmp_path):
    reference = shutil.copy(cu_reference, tmp_path / "cu.qref")
    message = error_of(cu_xyz, reference=str(reference), fast=1e-6)
    assert "cu.qref.qidx" in message and "does not exist" in message and "reference index" in message


@pytest.fixture(scope="module")
def inp_ref(tmp_path_factory):
    return inp_reference(tmp_path_factory.mktemp("inp") / "inp.qref")


def test_particle_type_mapping_to_no_element(inp_ref, tmp_path):
    frames = [inp_crystal_atoms()]
    trajectory = write_xyz(tmp_path / "inp.xyz", frames)
    message = error_of(trajectory, reference=str(inp_ref), elements="In")  # types In, P: P has none
    assert "particle type 2" in message and "types 1..1" in message
    assert "'Q' in the elements field" in error_of(trajectory, reference=str(inp_ref), elements="In Q")
    message = error_of(trajectory, reference=str(inp_ref), elements="In Ga")
    assert "Ga" in message and "In P" in message  # Ga is an element, but not one of the reference's
    frames[0].numbers[frames[0].numbers == 15] = 31  # GaP-like atoms the reference lacks
    message = error_of(write_xyz(tmp_path / "gap.xyz", frames), reference=str(inp_ref))
    assert "Ga" in message and "not among the elements" in message


def test_lammps_dump_of_units_that_are_not_angstrom(run_lmp, cu_reference, tmp_path):
    run_ok(run_lmp, """units lj
lattice fcc 0.8442
region box block 0 3 0 3 0 3
create_box 1 box
create_atoms 1 box
mass 1 1.0
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
dump d all custom 1 dump.lj id type x y z
dump_modify d units yes
run 0
""", tmp_path)
    message = error_of(tmp_path / "dump.lj", reference=str(cu_reference))
    assert "units lj" in message and "not Å" in message and "units metal or real" in message


def test_coordinates_in_nanometres_are_refused(cu_reference, tmp_path):
    crystal = cu_triclinic()
    crystal.set_cell(crystal.cell / 10.0, scale_atoms=True)  # Cu in nm: 0.256 apart
    message = error_of(write_xyz(tmp_path / "nm.xyz", [crystal]), reference=str(cu_reference))
    assert "0.256" in message and "other units" in message


def test_frame_without_a_cell(cu_reference, tmp_path):
    path = tmp_path / "nocell.xyz"
    positions = np.array(cu_triclinic().positions[:4])
    path.write_text("4\n\n" + "".join(f"Cu {x:.6f} {y:.6f} {z:.6f}\n" for x, y, z in positions))
    message = error_of(path, reference=str(cu_reference))
    assert "no simulation cell" in message and "Lattice" in message


def test_a_good_frame_after_an_error_works_again(cu_xyz, cu_reference, tmp_path):
    """A failed load leaves no stale state: fixing the setting is enough."""
    from lammps_quests.errors import QuestsModifierError

    pipeline, modifier = pipeline_with(cu_xyz, reference=str(tmp_path / "missing.qref"))
    with pytest.raises(QuestsModifierError):
        pipeline.compute(0)
    modifier.reference = str(cu_reference)
    assert len(pipeline.compute(0).particles["dH"]) == len(cu_triclinic())


def test_elements_take_a_list_of_symbols_and_refuse_other_types():
    from traits.api import TraitError

    from lammps_quests.ovito import QuestsModifier

    assert QuestsModifier(elements=["In", "P"]).elements == "In P"
    modifier = QuestsModifier()
    modifier.elements = ("P",)
    assert modifier.elements == "P"
    with pytest.raises(TraitError):
        modifier.elements = 3


def planted(self, Y, labels=None, **kwargs):
    return np.asarray(Y)[:, :0].reshape(3)  # a bug in numpy code: cannot reshape


def test_a_bug_is_not_shown_as_bad_input(cu_xyz, cu_reference, monkeypatch):
    """A plain ValueError from numpy code inside the evaluation is a bug: OVITO shows a
    QuestsInternalError naming its type, message and raising line, never a QuestsModifierError."""
    from lammps_quests.dh import ReferenceDh
    from lammps_quests.errors import BUG_REPORT, QuestsInternalError
    from lammps_quests.errors import QuestsModifierError

    monkeypatch.setattr(ReferenceDh, "__call__", planted)
    pipeline, _ = pipeline_with(cu_xyz, reference=str(cu_reference))
    with pytest.raises(QuestsInternalError) as raised:
        pipeline.compute(0)
    assert not isinstance(raised.value, QuestsModifierError)
    message = str(raised.value)
    assert message.startswith("QUESTS dH, frame 0: ValueError: cannot reshape array of size 0 into shape (3,)")
    assert "test_ovito_errors.py:" in message and message.endswith(BUG_REPORT)
