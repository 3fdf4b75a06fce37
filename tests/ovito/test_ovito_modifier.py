"""The OVITO modifier (lammps_quests.ovito.QuestsModifier) with the real `ovito` module: its dH
equals `lammps-quests dh` on the same frames, its attributes equal fix quests's f_q[1..4], it is
found through the OVITO.Modifier entry point, and it draws."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest

try:  # a silent skip would let CI pass without ever running the modifier
    import ovito  # noqa: F401
except ImportError:
    pytest.fail('the OVITO modifier tests need OVITO: pip install ".[test]"', pytrace=False)

from fix_support import dump_lines, read_dump, requires_plugin, run_ok, thermo_table  # noqa: E402
from inp_support import INP_MASSES, swap_lines  # noqa: E402
from ovito_support import (INP_SPECIES, assert_relative, cli_dh, cu_triclinic, inp_crystal_atoms,  # noqa: E402
                           inp_reference, md_dump, modifier_frames, pipeline_with, thermal_frames, write_xyz)


@pytest.fixture(scope="module")
def cu_dump(run_lmp, tmp_path_factory):
    """3 frames (steps 0, 10, 20) of 108 Cu atoms in a tilted box at 900 K, no fix quests."""
    return md_dump(run_lmp, tmp_path_factory.mktemp("cu_dump"))


def test_dh_of_a_lammps_dump_without_the_fix_equals_the_cli(cu_dump, cu_reference, tmp_path):
    lines = cu_dump.read_text().splitlines()
    assert lines[4].startswith("ITEM: BOX BOUNDS xy xz yz") and lines[8] == "ITEM: ATOMS id type x y z"
    expected, summary = cli_dh(cu_dump, cu_reference, tmp_path)
    results = modifier_frames(cu_dump, reference=str(cu_reference))
    assert [timestep for *_, timestep in results] == [0, 10, 20]
    for (values, attributes, _), cli in zip(results, expected):
        assert_relative(values, cli)
        assert attributes["QUESTS.max"] == pytest.approx(cli.max(), rel=1e-12)
        assert attributes["QUESTS.count"] == np.count_nonzero(cli > 0)
    assert (np.concatenate([v for v, *_ in results]) > 0).any()  # some atoms extrapolate: a real test
    assert max(a["QUESTS.max"] for _, a, _ in results) == pytest.approx(summary["max"], rel=1e-12)


def test_dh_of_an_extended_xyz_trajectory_with_a_non_orthogonal_cell(tmp_path):
    from lammps_quests.formats._reference import Reference

    crystal = cu_triclinic()
    reference = tmp_path / "cu_primitive.qref"
    Reference.build(thermal_frames(crystal, 2, 0.03, seed=1)).save(reference)
    trajectory = write_xyz(tmp_path / "heated.xyz", thermal_frames(crystal, 3, 0.05, seed=2))
    cell = np.asarray(crystal.cell)
    assert abs(cell[0] @ cell[1]) > 1.0  # the cell really is tilted
    results = modifier_frames(trajectory, reference=str(reference), threshold=1.0, bandwidth=0.02)
    expected, _ = cli_dh(trajectory, reference, tmp_path, "--bandwidth", "0.02")
    for (values, attributes, _), cli in zip(results, expected, strict=True):
        assert_relative(values, cli)
        assert attributes["QUESTS.mean"] == pytest.approx(cli.mean(), rel=1e-9)
        assert attributes["QUESTS.count"] == np.count_nonzero(cli > 1.0)
        assert attributes["QUESTS.fraction"] == np.count_nonzero(cli > 1.0) / len(cli)


def test_dh_of_a_slab_periodic_in_two_directions(cu_reference, tmp_path):
    """pbc = (T, T, F) reaches the descriptors: surface atoms extrapolate, as in the CLI."""
    from ase.build import fcc100

    slab = fcc100("Cu", size=(3, 3, 6), a=3.615, vacuum=8.0, periodic=False)
    slab.pbc = (True, True, False)
    slab.info.clear()  # fcc100's adsorption sites are no extended-XYZ field
    trajectory = write_xyz(tmp_path / "slab.xyz", thermal_frames(slab, 2, 0.03, seed=4))
    expected, _ = cli_dh(trajectory, reference=cu_reference, tmp_path=tmp_path)
    results = modifier_frames(trajectory, reference=str(cu_reference))
    for (values, _, _), cli in zip(results, expected, strict=True):
        assert_relative(values, cli)
    z = slab.positions[:, 2]
    surface = (z < z.min() + 0.5) | (z > z.max() - 0.5)
    assert results[0][0][surface].min() > results[0][0][~surface].max()


@pytest.fixture(scope="module")
def inp(tmp_path_factory):
    directory = tmp_path_factory.mktemp("inp")
    return directory, inp_reference(directory / "inp_species.qref")


def test_species_aware_inp_from_type_names_of_an_extended_xyz(inp, tmp_path):
    _, reference = inp
    frames = thermal_frames(inp_crystal_atoms(), 2, 0.05, seed=5)
    numbers = frames[1].numbers.copy()  # an antisite pair: In and P exchanged in frame 1
    pair = [int(np.argmax(numbers == 49)), int(np.argmax(numbers == 15))]
    numbers[pair] = numbers[pair[::-1]]
    frames[1].numbers = numbers
    trajectory = write_xyz(tmp_path / "inp.xyz", frames)
    expected, summary = cli_dh(trajectory, reference, tmp_path)
    assert set(summary["per_species"]) == set(INP_SPECIES)
    results = modifier_frames(trajectory, reference=str(reference))
    for (values, _, _), cli in zip(results, expected, strict=True):
        assert_relative(values, cli)
    assert results[1][0][pair].min() > 5 > results[0][0].max()  # the antisites stand out


def test_species_aware_inp_lammps_dump_with_numbered_types(inp, run_lmp, tmp_path):
    """A dump of types 1, 2 (no element column): the elements field names them."""
    from inp_support import inp_crystal, offline_species_dh

    from lammps_quests.formats._reference import Reference

    _, reference = inp
    deck = inp_crystal(2) + swap_lines() + dump_lines(1, "id type x y z", name="dump.inp") + "run 0\n"
    run_ok(run_lmp, deck, tmp_path)
    assert INP_MASSES.split()[2] == "114.818"  # type 1 is In
    frame = read_dump(tmp_path / "dump.inp")[0]
    expected = offline_species_dh(frame, Reference.load(reference))
    [(values, attributes, _)] = modifier_frames(tmp_path / "dump.inp", reference=str(reference), elements="In P")
    assert_relative(values, expected)
    assert attributes["QUESTS.count"] == np.count_nonzero(expected > 0) > 0
    # a list of symbols names the types the same way
    [(as_list, _, _)] = modifier_frames(tmp_path / "dump.inp", reference=str(reference), elements=["In", "P"])
    assert_relative(as_list, expected)
    # the type names of such a dump are numbers: without the elements field it is an error
    from lammps_quests.errors import QuestsModifierError

    pipeline, _ = pipeline_with(tmp_path / "dump.inp", reference=str(reference))
    with pytest.raises(QuestsModifierError, match="particle type 1 .* is not an element"):
        pipeline.compute(0)


def test_species_aware_fast_within_its_tolerance(inp, tmp_path):
    from lammps_quests.formats._fast_index import build_fast_index, save_fast_index
    from lammps_quests.formats._reference import Reference

    _, reference = inp
    loaded = Reference.load(reference)
    save_fast_index(build_fast_index(loaded), loaded)
    trajectory = write_xyz(tmp_path / "inp.xyz", thermal_frames(inp_crystal_atoms(), 1, 0.05, seed=5))
    [(exact, _, _)] = modifier_frames(trajectory, reference=str(reference))
    [(fast, _, _)] = modifier_frames(trajectory, reference=str(reference), fast=1e-6)
    assert np.all(fast >= exact - 1e-9) and np.all(fast <= exact + 1e-6)


def test_fast_mode_for_a_species_agnostic_reference(cu_dump, cu_reference, tmp_path):
    import shutil

    from lammps_quests.formats._fast_index import build_fast_index, save_fast_index
    from lammps_quests.formats._reference import Reference

    reference = shutil.copy(cu_reference, tmp_path / "cu.qref")  # the index goes beside it
    loaded = Reference.load(reference)
    save_fast_index(build_fast_index(loaded), loaded)
    fast = modifier_frames(cu_dump, reference=str(reference), fast=1e-6)
    expected, _ = cli_dh(cu_dump, reference, tmp_path, "--fast", "1e-6")
    exact, _ = cli_dh(cu_dump, reference, tmp_path)
    for (values, _, _), cli, truth in zip(fast, expected, exact, strict=True):
        assert_relative(values, cli)
        assert np.all(values >= truth - 1e-9) and np.all(values <= truth + 1e-6 + 1e-9)


@requires_plugin
def test_attributes_equal_the_fix_outputs_on_the_frames_it_evaluated(run_lmp, cu_reference, tmp_path):
    """fix quests every 10 steps with threshold -1.5; thermo prints f_q[1..4] at full precision."""
    extra = f"""fix q all quests 10 {cu_reference} threshold -1.5
thermo_style custom step f_q[1] f_q[2] f_q[3] f_q[4]
thermo 10
thermo_modify format float %.17g"""
    dump = md_dump(run_lmp, tmp_path, temperature=1200.0, extra=extra, columns="id type x y z f_q")
    thermo = {int(row["Step"]): row for row in thermo_table((tmp_path / "log.lammps").read_text())}
    results = modifier_frames(dump, reference=str(cu_reference), threshold=-1.5)
    assert [timestep for *_, timestep in results] == [0, 10, 20]
    fractions = []
    for (values, attributes, timestep), frame in zip(results, read_dump(dump), strict=True):
        row = thermo[timestep]
        assert attributes["QUESTS.max"] == pytest.approx(row["f_q[1]"], rel=1e-9)
        assert attributes["QUESTS.mean"] == pytest.approx(row["f_q[2]"], rel=1e-9)
        assert attributes["QUESTS.fraction"] == pytest.approx(row["f_q[3]"], rel=1e-12)
        assert attributes["QUESTS.count"] == row["f_q[4]"]
        assert_relative(values, frame.columns["f_q"])
        fractions.append(attributes["QUESTS.fraction"])
    assert 0 < max(fractions) < 1  # the threshold splits the atoms: count and fraction are tested


def test_found_through_the_ovito_entry_point():
    from lammps_quests.ovito import QuestsModifier

    found = {point.name: point for point in importlib.metadata.entry_points(group="OVITO.Modifier")}
    assert "QUESTS dH" in found
    assert found["QUESTS dH"].load() is QuestsModifier


def test_the_gui_shows_the_parameters_and_saves_no_loaded_reference():
    """OVITO Pro shows the class's visible traits as input fields and saves the non-transient ones."""
    from lammps_quests.ovito import QuestsModifier

    parameters = ["reference", "bandwidth", "threshold", "fast", "decide", "elements", "k", "cutoff", "select",
                  "colour_coding", "colour_range"]
    assert QuestsModifier.class_visible_traits() == parameters
    assert sorted(QuestsModifier().trait_get(transient=lambda value: value is None)) == sorted(parameters)


def test_reference_loaded_once_per_pipeline_and_again_when_it_changes(cu_dump, cu_reference, tmp_path):
    import os
    import shutil

    reference = shutil.copy(cu_reference, tmp_path / "cu.qref")
    pipeline, modifier = pipeline_with(cu_dump, reference=str(reference))
    assert pipeline.num_frames == 3
    for frame in range(pipeline.num_frames):
        pipeline.compute(frame)
    assert modifier._cache.loads == 1
    modifier.bandwidth = 0.02
    wider = pipeline.compute(0).particles["dH"][...]
    assert modifier._cache.loads == 2
    stat = os.stat(reference)
    os.utime(reference, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # rebuilt in place
    pipeline.compute(1)
    assert modifier._cache.loads == 3
    assert not np.allclose(wider, modifier_frames(cu_dump, reference=str(reference))[0][0])


def test_progress_is_reported_per_block_of_particles(cu_dump, cu_reference, monkeypatch):
    from ovito.io import import_file

    import lammps_quests.ovito._compute as compute
    from lammps_quests.ovito import QuestsModifier

    monkeypatch.setattr(compute, "BLOCK", 25)
    data = import_file(str(cu_dump)).compute(0)
    steps = list(QuestsModifier(reference=str(cu_reference)).modify(data, frame=0))
    texts = [step for step in steps if isinstance(step, str)]
    fractions = [step for step in steps if isinstance(step, float)]
    assert texts and len(fractions) == 5  # 108 particles in blocks of 25
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len(data.particles["dH"]) == 108


def test_selection_and_colours(cu_dump, cu_reference):
    """Selection = dH > threshold, usable by OVITO's own modifiers downstream; colours are
    render's blue-white-red palette, white at dH = 0, clipped at the scale's ends."""
    from ovito.modifiers import DeleteSelectedModifier

    pipeline, _ = pipeline_with(cu_dump, reference=str(cu_reference), threshold=-1.0, select=True,
                                colour_coding=True, colour_range=2.0)
    data = pipeline.compute(2)
    dh, selected, rgb = (np.array(data.particles[name][...]) for name in ("dH", "Selection", "Color"))
    assert np.array_equal(selected != 0, dh > -1.0) and 0 < selected.sum() < len(dh)
    t = np.clip((dh + 2.0) / 4.0, 0.0, 1.0)[:, None]
    blue, white, red = np.array([0.0, 0, 1]), np.ones(3), np.array([1.0, 0, 0])
    expected = np.where(t < 0.5, blue + 2 * t * (white - blue), white + (2 * t - 1) * (red - white))
    assert np.allclose(rgb, expected, atol=1e-6)
    assert (dh < -2).any() and (dh > 2).any()  # both ends of the scale are exercised
    pipeline.modifiers.append(DeleteSelectedModifier())
    assert pipeline.compute(2).particles.count == len(dh) - selected.sum()


RENDER = """
import sys
from ovito.io import import_file
from ovito.vis import TachyonRenderer, Viewport
from lammps_quests.ovito import QuestsModifier

dump, reference, output = sys.argv[1:]
pipeline = import_file(dump)
pipeline.modifiers.append(QuestsModifier(reference=reference, colour_coding=True))
pipeline.add_to_scene()
viewport = Viewport(type=Viewport.Type.Top)
viewport.zoom_all(size=(240, 180))
viewport.render_image(size=(240, 180), filename=output, renderer=TachyonRenderer(), frame=2)
"""


def test_rendered_picture_of_a_pipeline_using_it(cu_dump, cu_reference, tmp_path):
    """Rendered in a process of its own: after a render, OVITO 3.17.2 reads later multi-frame
    files of the same process as one frame, which would upset the other tests."""
    import subprocess
    import sys

    import matplotlib.image

    output = tmp_path / "dh.png"
    result = subprocess.run([sys.executable, "-c", RENDER, str(cu_dump), str(cu_reference), str(output)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rgb = matplotlib.image.imread(output)[..., :3].astype(float)
    assert rgb.shape == (180, 240, 3)
    assert rgb.std() > 0.1  # not blank
    reddish = rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2]) > 0.25
    bluish = rgb[..., 2] - np.maximum(rgb[..., 0], rgb[..., 1]) > 0.25
    assert reddish.sum() > 50 and bluish.sum() > 50  # atoms coloured by dH on both sides of 0
