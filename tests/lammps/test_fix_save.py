"""fix quests save: de-duplicated saves (default), `every`, cut-outs, the new-atom count in
thermo, the end-of-run report and its offline recount, and agreement of MPI ranks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import ase
import ase.io
import numpy as np

from fix_support import CU_POTENTIAL, cu_crystal, load, read_dump, requires_plugin, run_ok, thermo_table

pytestmark = requires_plugin


def vacancy_then_squeeze(reference, save: str, head: str | None = None) -> str:
    """A static 500-atom crystal with a vacancy (run 1, four evaluations of one frame), then
    one atom pushed 1 Å towards a neighbour (run 2): a new kind of environment."""
    return (head or cu_crystal(5, seed=31)) + f"""group gone id 1
delete_atoms group gone compress no
fix q all quests 10 {reference} save 2.0 saved.xyz {save}
thermo_style custom step f_q[1] f_q[4] f_q[5]
thermo 10
dump d all custom 10 dump.fix id type x y z f_q
dump_modify d sort id format float %.17g
run 30
group one id 200
displace_atoms one move 0.7 0.7 0.0 units box
run 20
"""


def report_numbers(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if "new environment(s)" in line]
    return re.findall(r"(\d+) structure\(s\) with (\d+) atoms .*?; (\d+) new environment\(s\) add (\S+) nats",
                      lines[-1])[0]


def test_persistent_hot_spot_saved_once_and_again_for_a_new_environment(run_lmp, cu_reference, tmp_path):
    result = run_ok(run_lmp, vacancy_then_squeeze(cu_reference, ""), tmp_path)
    rows = thermo_table(result.stdout)
    # threshold guidance at setup: the reference's leave-one-out dH distribution
    assert "leave-one-out dH of the reference's own environments" in result.stdout
    assert "fraction above > 0:" in result.stdout
    assert [int(r["Step"]) for r in rows] == [0, 10, 20, 30, 30, 40, 50]
    new = [int(r["f_q[5]"]) for r in rows]
    assert new[0] > 0 and new[1:4] == [0, 0, 0] and new[4] > 0 and new[5:] == [0, 0]
    assert all(r["f_q[1]"] > 2.0 for r in rows)  # the hot spot persists at every evaluation
    saved = ase.io.read(tmp_path / "saved.xyz", ":")
    assert [atoms.info["step"] for atoms in saved] == [0, 30]
    assert [int(atoms.arrays["new"].sum()) for atoms in saved] == [new[0], new[4]]
    for atoms in saved:
        assert len(atoms) == 499 and (atoms.arrays["dH"][atoms.arrays["new"] == 1] > 2.0).all()
    # the log's end-of-run report and the offline recount agree
    offline = subprocess.run([str(Path(sys.executable).parent / "lammps-quests"), "saved", "saved.xyz",
                              "-r", str(cu_reference)], cwd=tmp_path, capture_output=True, text=True)
    assert offline.returncode == 0, offline.stderr
    logged = report_numbers(result.stdout)
    assert logged == report_numbers(offline.stdout)
    assert logged[:3] == ("2", "998", str(new[0] + new[4])) and float(logged[3]) > 0

    every = tmp_path / "every"
    every.mkdir()
    run_ok(run_lmp, vacancy_then_squeeze(cu_reference, "every"), every)
    # every evaluation with dH > 2 is saved (step 30 once: the guard of `every` against
    # saving one step twice)
    assert [a.info["step"] for a in ase.io.read(every / "saved.xyz", ":")] == [0, 10, 20, 30, 40, 50]


def test_cut_outs_reproduce_in_run_dh_and_agree_across_ranks(run_lmp, cu_reference, tmp_path):
    from lammps_quests.core._descriptors import descriptors_from_arrays
    from lammps_quests.core._information import delta_entropy

    reference = load(cu_reference)
    # one data file for both rank counts (create_atoms numbers atoms by rank)
    run_ok(run_lmp, cu_crystal(5, seed=31) + f"write_data {tmp_path / 'crystal.data'}\n", tmp_path,
           name="in.data")
    head = f"units metal\nread_data {tmp_path / 'crystal.data'}\n{CU_POTENTIAL}\n"
    run_ok(run_lmp, vacancy_then_squeeze(cu_reference, "cut 5.5", head), tmp_path)
    pieces = ase.io.read(tmp_path / "saved.xyz", ":")
    frames = {f.step: f for f in read_dump(tmp_path / "dump.fix")}
    assert [p.info["step"] for p in pieces] == [0, 30]
    for piece in pieces:
        assert not piece.pbc.any() and piece.info["spans_box"] == 0 and len(piece) < 499
        exact = piece.arrays["exact"] == 1
        assert exact[piece.arrays["new"] == 1].all() and 0 < exact.sum() < len(piece)
        X = descriptors_from_arrays(piece.positions, piece.cell, piece.pbc)[exact]
        np.testing.assert_allclose(delta_entropy(X, reference.descriptors, reference.bandwidth),
                                   piece.arrays["dH"][exact], rtol=0, atol=1e-9)
        # no duplicated image: no pair closer than in the frame (minimum image)
        # the dump of step 30 holds the frame before the push; step 40 the same one after it
        frame = frames[{0: 0, 30: 40}[piece.info["step"]]]
        whole = ase.Atoms("Cu" * len(frame.ids), positions=frame.positions, cell=frame.cell, pbc=True)
        distances = whole.get_all_distances(mic=True)[np.triu_indices(len(whole), 1)]
        cut = piece.get_all_distances()[np.triu_indices(len(piece), 1)]
        assert cut.min() >= distances.min() - 1e-9
    # on two ranks: the same cut-outs, atoms and flags
    parallel = tmp_path / "np2"
    parallel.mkdir()
    run_ok(run_lmp, vacancy_then_squeeze(cu_reference, "cut 5.5", head), parallel, np=2)
    twins = ase.io.read(parallel / "saved.xyz", ":")
    assert len(twins) == len(pieces)
    for one, two in zip(pieces, twins):
        for column in ("id", "new", "exact"):
            np.testing.assert_array_equal(one.arrays[column], two.arrays[column])
        np.testing.assert_allclose(one.positions, two.positions, rtol=0, atol=1e-9)




def test_negative_threshold_saves_each_configuration_once_over_runs_and_a_restart(run_lmp, cu_reference, tmp_path):
    """`save -1.0`: an environment already saved is not new, whatever t. Step 40 is evaluated
    at the end of the first run (new atoms: saved) and again, at the same positions, at the
    setup of the second (nothing new). The same deck again (a restart: the file seeds the saved
    set) reproduces the same frames and saves nothing."""
    deck = cu_crystal(3, seed=31) + f"""group gone id 1
delete_atoms group gone compress no
velocity all create 1200 4928 loop geom
fix nve all nve
fix q all quests 20 {cu_reference} save -1.0 saved.xyz
thermo_style custom step f_q[1] f_q[5]
thermo 20
run 40
run 40
"""
    result = run_ok(run_lmp, deck, tmp_path)
    rows = thermo_table(result.stdout)
    assert [int(r["Step"]) for r in rows] == [0, 20, 40, 40, 60, 80]
    assert rows[2]["f_q[5]"] > 0 and rows[3]["f_q[5]"] == 0  # step 40: saved, then nothing new
    saved = ase.io.read(tmp_path / "saved.xyz", ":")
    steps = [atoms.info["step"] for atoms in saved]
    assert 40 in steps and steps == sorted(set(steps)), steps
    assert steps == [int(r["Step"]) for r in rows if r["f_q[5]"] > 0]
    before = (tmp_path / "saved.xyz").read_bytes()
    again = run_ok(run_lmp, deck, tmp_path)
    assert f"{sum(int(a.arrays['new'].sum()) for a in saved)} environments from earlier saves" in again.stdout
    assert all(r["f_q[5]"] == 0 for r in thermo_table(again.stdout))
    assert (tmp_path / "saved.xyz").read_bytes() == before
