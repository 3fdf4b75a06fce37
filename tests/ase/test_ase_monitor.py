"""QuestsMonitor on real ASE molecular dynamics (EMT Cu, 108 atoms, Langevin).

A reference from a short 600 K run of the crystal (0.5 ps); a hot run (1500 K) leaves it within
a few tens of femtoseconds and goes further out as it goes on, inside the 100 steps (0.5 ps)
the tests run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import thermalize_momenta

from lammps_quests import Reference
from lammps_quests.ase import QuestsMonitor
from lammps_quests.errors import QuestsError, QuestsHalt
from lammps_quests.formats._extxyz import write_extxyz_frame

INTERVAL = 10
HOT_STEPS = 100
BIN_DIR = Path(sys.executable).parent


def _crystal() -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)  # 108 atoms, 10.83 Å box
    atoms.calc = EMT()
    return atoms


def _langevin(atoms: Atoms, temperature: float, seed: int) -> Langevin:
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=temperature, rng=rng)
    return Langevin(atoms, 5 * units.fs, temperature_K=temperature, friction=0.02, rng=rng, fixcm=False)


def _hot_run(reference, steps: int = HOT_STEPS, **monitor_options):
    """The hot run with one monitor (every INTERVAL steps); returns (atoms, dyn, monitor)."""
    atoms = _crystal()
    dyn = _langevin(atoms, 1500.0, seed=7)
    monitor = QuestsMonitor(atoms, reference, **monitor_options).attach(dyn, interval=INTERVAL)
    return atoms, dyn, monitor


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    atoms = _crystal()
    dyn = _langevin(atoms, 600.0, seed=1)
    frames = []
    dyn.attach(lambda: frames.append(atoms.copy()), interval=10)
    dyn.run(100)
    path = tmp_path_factory.mktemp("ref") / "cu_emt.qref"
    Reference.build(frames).save(path)
    return path


@pytest.fixture(scope="module")
def hot(reference, tmp_path_factory):
    """One hot run watched by three monitors saving every frame, frames above 0 nats, and what
    is new above 0 nats (the default, de-duplicated save)."""
    directory = tmp_path_factory.mktemp("hot")
    atoms, dyn, every = _hot_run(reference, save=(-1e6, directory / "all.xyz"), deduplicate=False)
    above = QuestsMonitor(atoms, reference, save=(0.0, directory / "above.xyz"), deduplicate=False,
                          dynamics=dyn)
    new = QuestsMonitor(atoms, reference, save=(0.0, directory / "new.xyz"), dynamics=dyn)
    dyn.attach(above, interval=INTERVAL)
    dyn.attach(new, interval=INTERVAL)
    seen = {}  # step -> (positions, dH) as the monitors left them
    dyn.attach(lambda: seen.setdefault(dyn.nsteps, (atoms.positions.copy(), atoms.arrays["dH"].copy())),
               interval=INTERVAL)
    dyn.run(HOT_STEPS)
    return directory, every, above, new, seen


def test_history_and_arrays_follow_each_evaluation(hot):
    _, every, above, _, seen = hot
    steps = [record.step for record in every.history]
    assert steps == list(range(0, HOT_STEPS + 1, INTERVAL)) == sorted(seen)
    for record in every.history:
        dh = seen[record.step][1]
        assert record.max_dh == dh.max() and record.mean_dh == dh.mean()
        assert record.count_above == np.count_nonzero(dh > 0.0)
        assert record.fraction_above == record.count_above / len(dh)
    assert every.history[0].max_dh < 0 < every.history[-1].max_dh  # the run leaves the reference
    ignored = {"seconds": 0, "saved": 0, "new": 0}
    last = every.history[-1]
    assert (every.atoms.info["dH_max"], every.atoms.info["dH_mean"]) == (last.max_dh, last.mean_dh)
    assert [r.as_dict() | ignored for r in every.history] == [r.as_dict() | ignored for r in above.history]


def test_values_equal_offline_cli_on_the_saved_frames(hot, reference, tmp_path):
    directory, every, _, _, seen = hot
    saved = ase.io.read(directory / "all.xyz", index=":")
    assert [frame.info["step"] for frame in saved] == [r.step for r in every.history]
    check = tmp_path / "offline.lammpstrj"
    result = subprocess.run(
        [str(BIN_DIR / "lammps-quests"), "dh", str(directory / "all.xyz"), "-r", str(reference),
         "-o", str(check), "--json"],
        check=False, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    in_run = np.concatenate([seen[frame.info["step"]][1] for frame in saved])
    offline = _dump_column(check, "dH")
    assert offline.shape == in_run.shape
    np.testing.assert_allclose(offline, in_run, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([f.arrays["dH"] for f in saved]), in_run, rtol=0, atol=1e-12)
    assert summary["max"] == pytest.approx(max(r.max_dh for r in every.history), abs=1e-12)
    assert summary["mean"] == pytest.approx(np.mean(in_run), abs=1e-12)


def test_save_writes_frames_above_the_threshold_readably(hot):
    directory, _, above, _, seen = hot
    expected = [r.step for r in above.history if r.max_dh > 0.0]
    assert 0 < len(expected) < len(above.history)
    assert [r.step for r in above.history if r.saved] == expected
    frames = ase.io.read(directory / "above.xyz", index=":")
    assert [frame.info["step"] for frame in frames] == expected
    for frame in frames:
        positions, dh = seen[frame.info["step"]]
        assert frame.get_chemical_symbols() == ["Cu"] * 108 and frame.pbc.all()
        np.testing.assert_array_equal(frame.positions, positions)  # 17 digits round-trip exactly
        np.testing.assert_array_equal(frame.arrays["dH"], dh)
        np.testing.assert_array_equal(frame.arrays["id"], np.arange(1, 109))
        assert frame.info["source"] == "ase"


def test_trajectory_writers_carry_dh(reference, tmp_path):
    atoms = _crystal()
    atoms.positions[0] += [0.5, 0.0, 0.0]
    record = QuestsMonitor(atoms, reference)()
    ase.io.write(tmp_path / "frame.xyz", atoms)
    ase.io.write(tmp_path / "frame.traj", atoms)
    xyz, traj = ase.io.read(tmp_path / "frame.xyz"), ase.io.read(tmp_path / "frame.traj")
    np.testing.assert_allclose(xyz.arrays["dH"], atoms.arrays["dH"], rtol=0, atol=1e-8)  # ASE: 8 decimals
    assert traj.info["dH_max"] == record.max_dh and traj.info["dH_mean"] == record.mean_dh


def test_default_save_keeps_only_what_is_new(hot, reference):
    from lammps_quests.active import saved_summary

    directory, _, above, new, _ = hot
    frames = ase.io.read(directory / "new.xyz", index=":")
    steps = [frame.info["step"] for frame in frames]
    assert steps == [r.step for r in new.history if r.saved]
    assert steps[0] == next(r.step for r in above.history if r.max_dh > 0.0)  # the first is always new
    assert set(steps) <= {r.step for r in above.history if r.saved}
    flagged = [int(frame.arrays["new"].sum()) for frame in frames]
    assert flagged == [r.new for r in new.history if r.saved]
    # fewer atoms join the saved set than the atoms above 0 in the saved frames
    assert sum(flagged) < sum(r.count_above for r in new.history if r.saved)
    for frame in frames:  # new atoms are above the threshold against the reference
        assert (frame.arrays["dH"][frame.arrays["new"] == 1] > 0.0).all()
    counts, gain = saved_summary(frames, Reference.load(reference))
    assert (counts.structures, counts.new) == (len(frames), sum(flagged))
    assert gain.added > 0
    assert f"{counts.structures} structure(s) with {counts.atoms} atoms" in new.report()
    assert f"add {gain.added:.9g} nats" in new.report()


def test_negative_threshold_saves_the_same_atoms_once_also_after_a_restart(reference, tmp_path):
    """`save=(-1.0, ...)`: the same Atoms evaluated twice are saved once (an environment
    already saved is not new at any t), and a new monitor on the same file saves nothing."""
    atoms = _crystal()
    atoms.rattle(0.1, seed=5)
    del atoms[0]
    path = tmp_path / "saved.xyz"
    monitor = QuestsMonitor(atoms, reference, save=(-1.0, path))
    first, second = monitor(), monitor()
    # atoms one saved copy would leave above -1 against reference ∪ saved (dH(X) > -log(e - 1))
    assert (atoms.arrays["dH"] > -np.log(np.e - 1.0)).any()
    assert first.saved == 1 and first.new > 0
    assert (second.saved, second.new) == (0, 0)
    monitor.close()
    assert len(ase.io.read(path, index=":")) == 1
    restarted = QuestsMonitor(atoms, reference, save=(-1.0, path))
    assert restarted.seeded == first.new
    assert (restarted().saved, restarted.last.new) == (0, 0)
    restarted.close()
    assert len(ase.io.read(path, index=":")) == 1


def test_cut_outs_around_a_hot_spot_reproduce_dh_offline(reference, tmp_path):
    crystal = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(5)  # 500 atoms, 18 Å box
    crystal.positions[0] += [0.7, 0.3, 0.1]  # one displaced atom: one local hot spot
    crystal.positions += 1.37 * crystal.cell[0] - 0.6 * crystal.cell[2]  # outside the cell, as in ASE MD
    path = tmp_path / "cut.xyz"
    record = QuestsMonitor(crystal, reference, save=(0.0, path), cut=5.0)()
    assert record.saved == 1 and record.new == record.count_above > 0
    (piece,) = ase.io.read(path, index=":")
    assert not piece.pbc.any() and len(piece) < len(crystal)
    assert set(np.flatnonzero(crystal.arrays["dH"] > 0) + 1) <= set(piece.arrays["id"])
    exact = piece.arrays["exact"] == 1
    np.testing.assert_array_equal(piece.arrays["dH"], crystal.arrays["dH"][piece.arrays["id"] - 1])
    check = tmp_path / "offline.lammpstrj"
    result = subprocess.run(
        [str(BIN_DIR / "lammps-quests"), "dh", str(path), "-r", str(reference), "-o", str(check)],
        check=False, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(_dump_column(check, "dH")[exact], piece.arrays["dH"][exact], rtol=0, atol=1e-9)


def _halt_threshold(history) -> tuple[float, int]:
    """A threshold the first five evaluations stay below, and the step that first exceeds it."""
    threshold = max(record.max_dh for record in history[:5])
    return threshold, next(record.step for record in history if record.max_dh > threshold)


def test_halt_stops_at_the_first_evaluation_above(reference, hot):
    _, every, _, _, _ = hot
    threshold, first = _halt_threshold(every.history)
    _, dyn, monitor = _hot_run(reference, halt=threshold)
    with pytest.raises(QuestsHalt) as stop:
        dyn.run(HOT_STEPS)
    assert isinstance(stop.value, QuestsError)
    assert stop.value.step == first == dyn.nsteps == monitor.last.step
    assert stop.value.max_dh == monitor.last.max_dh > threshold
    assert len(monitor.history) > 5 and all(r.max_dh <= threshold for r in monitor.history[:-1])
    assert f"at step {first}" in str(stop.value)


def test_irun_loop_stops_at_the_same_step(reference, hot):
    _, every, _, _, _ = hot
    threshold, first = _halt_threshold(every.history)
    _, dyn, monitor = _hot_run(reference)
    for _ in dyn.irun(HOT_STEPS):
        if monitor.last is not None and monitor.last.max_dh > threshold:
            break
    assert dyn.nsteps == first


def test_reference_with_other_settings_is_refused(reference):
    atoms = _crystal()
    with pytest.raises(ValueError, match=r"built with k = 32, but the monitor asks for k = 16"):
        QuestsMonitor(atoms, reference, k=16)
    with pytest.raises(ValueError, match=r"built with cutoff = 5.0 Å, but the monitor asks for cutoff = 4.0 Å"):
        QuestsMonitor(atoms, reference, cutoff=4.0)
    other = Reference.build([_crystal()], k=16, cutoff=4.0)
    with pytest.raises(ValueError, match=r"k = 16, but the monitor asks for k = 32"):
        QuestsMonitor(atoms, other, k=32, cutoff=5.0)


def test_element_the_species_aware_reference_lacks_is_refused(reference):
    frames = [_crystal()]
    cu_only = Reference.build(frames, elements="auto")
    assert cu_only.elements == ("Cu",)
    alloy = _crystal()
    alloy.symbols[[3, 50]] = "Ag"
    with pytest.raises(ValueError, match=r"centred on Cu only, but the monitor has Ag") as refused:
        QuestsMonitor(alloy, cu_only)
    assert "atom types" not in str(refused.value) and "chemical symbols" in str(refused.value)
    monitor = QuestsMonitor(_crystal(), cu_only)
    monitor.atoms.symbols[7] = "Ag"  # an element appearing during the run is refused too
    with pytest.raises(ValueError, match=r"has Ag"):
        monitor()
    assert QuestsMonitor(alloy, reference)().count_above >= 0  # a species-agnostic one ignores elements


def test_species_aware_reference_compares_each_atom_with_its_own_element(tmp_path):
    from lammps_quests.core._descriptors import descriptors, species_labels
    from lammps_quests.core._information import delta_entropy

    alloy = _crystal()
    alloy.symbols[::4] = "Ag"
    dyn = _langevin(alloy, 600.0, seed=3)
    frames = []
    dyn.attach(lambda: frames.append(alloy.copy()), interval=10)
    dyn.run(30)
    reference = Reference.build(frames, elements=["Cu", "Ag"])
    monitor = QuestsMonitor(alloy, reference, dynamics=dyn)
    dyn.attach(monitor, interval=10)
    dyn.run(20)
    Y, labels = descriptors(alloy, elements=["Cu", "Ag"]), species_labels(alloy, ["Cu", "Ag"])
    expected = delta_entropy(Y, reference.descriptors, y_labels=labels, x_labels=reference.species_labels)
    np.testing.assert_array_equal(alloy.arrays["dH"], expected)
    # offline: the frame written at full precision, dH from the CLI with the species-aware reference
    frame, reference_path, check = tmp_path / "alloy.xyz", tmp_path / "alloy.qref", tmp_path / "dh.lammpstrj"
    write_extxyz_frame(frame, alloy.get_chemical_symbols(), alloy.positions, np.asarray(alloy.cell),
                       alloy.pbc, {}, {})
    reference.save(reference_path)
    result = subprocess.run(
        [str(BIN_DIR / "lammps-quests"), "dh", str(frame), "-r", str(reference_path), "-o", str(check)],
        check=False, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(_dump_column(check, "dH"), alloy.arrays["dH"], rtol=0, atol=1e-12)
    assert monitor.descriptors.shape == (108, 3 * 63)
    swapped = alloy.copy()  # Ag atoms on Cu sites are compared with Ag environments only
    swapped.symbols = ["Cu" if s == "Ag" else "Ag" for s in alloy.get_chemical_symbols()]
    assert QuestsMonitor(swapped, reference)().mean_dh > monitor.last.mean_dh + 1.0
    # de-duplicated saves work species-aware: new atoms are saved once, with their elements
    dedup = QuestsMonitor(swapped, reference, save=(0.0, tmp_path / "new.xyz"))
    first, again = dedup(), dedup()
    assert first.saved == 1 and first.new == first.count_above > 0
    assert (again.saved, again.new) == (0, 0)  # a frame already saved has nothing new
    (kept,) = ase.io.read(tmp_path / "new.xyz", index=":")
    assert kept.get_chemical_symbols() == swapped.get_chemical_symbols()
    np.testing.assert_array_equal(kept.arrays["new"] == 1, swapped.arrays["dH"] > 0.0)
    saving = QuestsMonitor(alloy, reference, save=(-1e6, tmp_path / "every.xyz"), deduplicate=False)
    assert saving().saved == 1
    (saved,) = ase.io.read(tmp_path / "every.xyz", index=":")
    np.testing.assert_array_equal(saved.arrays["dH"], alloy.arrays["dH"])
    assert saved.get_chemical_symbols() == alloy.get_chemical_symbols()


def test_atoms_without_cell_but_periodic_is_refused(reference):
    cluster = Atoms("Cu4", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0], [0, 0, 2.5]], pbc=True)
    with pytest.raises(ValueError, match=r"periodic directions need a cell.*atoms.set_cell"):
        QuestsMonitor(cluster, reference)
    cluster.pbc = False  # a cluster is fine
    assert QuestsMonitor(cluster, reference)().max_dh > 0
    slab = _crystal()
    slab.cell[2] = 0.0
    with pytest.raises(ValueError, match=r"no lattice vector c"):
        QuestsMonitor(slab, reference)


def test_bad_arguments_are_named(reference, tmp_path):
    atoms = _crystal()
    with pytest.raises(ValueError, match="save must be a pair"):
        QuestsMonitor(atoms, reference, save="out.xyz")
    with pytest.raises(ValueError, match="directory does not exist"):
        QuestsMonitor(atoms, reference, save=(1.0, tmp_path / "missing" / "out.xyz"))
    with pytest.raises(ValueError, match="cut only applies with save"):
        QuestsMonitor(atoms, reference, cut=6.0)
    with pytest.raises(ValueError, match="smaller than the descriptor cutoff"):
        QuestsMonitor(atoms, reference, save=(1.0, tmp_path / "out.xyz"), cut=3.0)
    with pytest.raises(ValueError, match="halt must be a finite number in nats"):
        QuestsMonitor(atoms, reference, halt=float("nan"))
    with pytest.raises(ValueError, match="does not exist"):
        QuestsMonitor(atoms, tmp_path / "none.qref")


def _dump_column(path: Path, name: str) -> np.ndarray:
    """One per-atom column of a LAMMPS text dump, all frames concatenated, rows in id order."""
    values, lines, at = [], path.read_text().splitlines(), 0
    while at < len(lines):
        if lines[at] == "ITEM: NUMBER OF ATOMS":
            count = int(lines[at + 1])
        elif lines[at].startswith("ITEM: ATOMS"):
            columns = lines[at].split()[2:]
            rows = np.array([row.split() for row in lines[at + 1 : at + 1 + count]], dtype=float)
            rows = rows[np.argsort(rows[:, columns.index("id")])]
            values.append(rows[:, columns.index(name)])
            at += count
        at += 1
    return np.concatenate(values)


def test_fast_decide_values_exact_where_flagged_and_saved_file_says_which(reference, tmp_path):
    """``fast=1e-6, decide=True``: values above the threshold (0) are within tol of exact, the
    others upper bounds; the saved file flags each (``dH_bound``) and names the rule in its
    info (``dH_values``), so a user never mistakes a bound for a value."""
    import shutil

    from lammps_quests.dh._reference_dh import ReferenceDh
    from lammps_quests.formats._fast_index import build_fast_index, save_fast_index

    path = shutil.copyfile(reference, tmp_path / "ref.qref")
    ref = Reference.load(path)
    save_fast_index(build_fast_index(ref, cluster_size=16), ref)
    saved = tmp_path / "saved.xyz"
    atoms, dyn, monitor = _hot_run(path, fast=1e-6, decide=True, save=(0.0, saved), deduplicate=False)
    dyn.run(HOT_STEPS)
    exact_dh = ReferenceDh(ref)
    frames = ase.io.read(saved, index=":")
    assert frames
    mixed = 0
    for frame in frames:
        values, bound = frame.arrays["dH"], frame.arrays["dH_bound"] == 1
        assert frame.info["dH_values"] == ("within 1e-06 nats above exact where dH > 0, "
                                           "upper bound where dH <= 0 (dH_bound = 1)")
        np.testing.assert_array_equal(bound, values <= 0.0)
        exact = exact_dh(exact_dh.descriptors([frame])[0])
        assert (values - exact).min() >= -1e-9
        assert np.abs(values[~bound] - exact[~bound]).max() <= 1e-6 + 1e-9
        assert (exact[bound] <= 0.0).all()
        mixed += bound.any() and (~bound).any()
    assert mixed  # frames with both kinds of values
