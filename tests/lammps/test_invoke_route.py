"""The python/invoke route in Debian's LAMMPS (29Sep2021, `/usr/bin/lmp`, OpenMPI): per-atom dH
equals the plugin's on the same data file and the offline value, 1 rank equals 2 ranks, halt
and save work, and bad input ends with one clear ERROR line and no traceback or hang."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from errors_support import planted_line
from fix_support import cu_crystal, load, offline_dh, read_dump, requires_plugin, thermo_table

DEBIAN_LMP = Path("/usr/bin/lmp")
DEBIAN_MPIRUN = Path("/usr/bin/mpirun")

if not (DEBIAN_LMP.is_file() and DEBIAN_MPIRUN.is_file()):
    if os.environ.get("CI"):
        raise RuntimeError("Debian's LAMMPS is missing: apt-get install lammps python3-lammps "
                           "(.ci/run does this)")
    pytest.skip("Debian's LAMMPS (/usr/bin/lmp) is not installed", allow_module_level=True)

pytestmark = requires_plugin

SPEC = "q all 10 {reference} d_dH"
ROUTE = """fix dH all property/atom d_dH
python quests input 2 SELF "{spec}" format ps file quests.py
python quests invoke
"""


def debian_env(base: dict, activated: bool) -> dict:
    """Environment for Debian's lmp: with this virtual environment activated, or without it
    (PATH without its bin, no VIRTUAL_ENV), as a user of a system LAMMPS may have either."""
    env = dict(base)
    if not activated:
        venv_bin = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="module")
def run_debian(lammps_env):
    def run(deck: str, cwd: Path, np_ranks: int = 1, activated: bool = False,
            extra_env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        from lammps_quests.lammps._bootstrap import write_bootstrap

        cwd = Path(cwd)
        cwd.mkdir(parents=True, exist_ok=True)
        write_bootstrap(cwd / "quests.py")
        (cwd / "in.deck").write_text(deck)
        command = [str(DEBIAN_LMP), "-in", "in.deck", "-log", "log.lammps", "-nocite"]
        if np_ranks > 1:
            command = [str(DEBIAN_MPIRUN), "--allow-run-as-root", "--oversubscribe", "-np",
                       str(np_ranks)] + command
        env = debian_env(lammps_env, activated)
        env.update(extra_env or {})
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)

    return run


@pytest.fixture(scope="module")
def cu_case(run_lmp, cu_reference, tmp_path_factory):
    """The shared Cu reference and a data file: 256 thermal Cu atoms at 1200 K."""
    directory = tmp_path_factory.mktemp("invoke_case")
    deck = cu_crystal(4, seed=13, displace=0.1) + """mass 1 63.546
velocity all create 1200 77 loop geom
write_data start.data
"""
    result = run_lmp(deck, directory, name="in.start")
    assert result.returncode == 0, result.stdout[-3000:]
    return cu_reference, directory / "start.data"


def md_deck(data: Path, quests_lines: str, column: str, steps: int = 20, tail: str = "") -> str:
    return f"""units metal
read_data {data}
pair_style eam/alloy
pair_coeff * * Cu_mishin1.eam.alloy Cu
fix nve all nve
{quests_lines}dump d all custom 10 dump.dh id type x y z {column}
dump_modify d sort id format float %.17g
run {steps}
{tail}"""


def route_lines(reference, keywords: str = "") -> str:
    return ROUTE.format(spec=SPEC.format(reference=reference) + (f" {keywords}" if keywords else ""))


def output(result) -> str:
    return result.stdout + result.stderr


REPORT = """def report(lmpptr):
    import sys
    import numba
    import lammps_quests.lammps._arrays as arrays
    lmp = next(iter(arrays._wrappers.values()))
    maps = open("/proc/self/maps").read()
    row = [numba.config.THREADING_LAYER, numba.get_num_threads(), len(arrays._wrappers),
           "libmpi.so.12" in maps, "mpi4py.MPI" in sys.modules, sys.modules["lammps"].__file__]
    with open("report.%d" % lmp.extract_setting("world_rank"), "w") as handle:
        handle.write(" ".join(str(value) for value in row))
"""
REPORT_LINES = """python report input 1 SELF format p file report.py
python report invoke
"""


def process_report(directory: Path, ranks: int) -> list[list[str]]:
    """One row per rank (a file each: ranks' screen output can interleave): threading layer,
    numba threads, wrappers, MPICH loaded, mpi4py.MPI imported (the wrapper imports the mpi4py
    package, which loads no MPI), lammps module."""
    return [(directory / f"report.{rank}").read_text().split() for rank in range(ranks)]


def test_route_equals_plugin_offline_and_two_ranks(run_lmp, run_debian, cu_case, tmp_path):
    reference, data = cu_case
    plugin_deck = md_deck(data, f"fix q all quests 10 {reference}\n", "f_q").replace(
        "run 20", "thermo_style custom step pe f_q[1] f_q[2] f_q[3] f_q[4] f_q[5]\nthermo 10\nrun 20")
    (tmp_path / "plugin").mkdir()
    plugin = run_lmp(plugin_deck, tmp_path / "plugin")
    assert plugin.returncode == 0, output(plugin)[-3000:]
    route_deck = md_deck(data, route_lines(reference), "d_dH").replace(
        "run 20", "thermo_style custom step pe v_q_max v_q_mean v_q_fraction v_q_count v_q_new\n"
        "thermo 10\nrun 20") + REPORT_LINES
    runs = {}
    for name, ranks, activated, threads in (("np1", 1, False, "1"), ("np2", 2, True, "2")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.py").write_text(REPORT)
        result = run_debian(route_deck, tmp_path / name, np_ranks=ranks, activated=activated,
                            extra_env={"OMP_NUM_THREADS": threads, "NUMBA_NUM_THREADS": threads})
        assert result.returncode == 0, output(result)[-4000:]
        assert "Traceback" not in output(result)
        runs[name] = result
        # numba's own thread pool with OMP_NUM_THREADS threads per rank, one cached wrapper per
        # LAMMPS instance (a new capsule every call), no MPICH and no mpi4py in the OpenMPI
        # process, and Debian's lammps module (never the wheel's in the environment)
        rows = process_report(tmp_path / name, ranks)
        assert rows == [["workqueue", threads, "1", "False", "False",
                         "/usr/lib/python3/dist-packages/lammps/__init__.py"]] * ranks, rows
    plugin_frames = read_dump(tmp_path / "plugin" / "dump.dh")
    frames = {name: read_dump(tmp_path / name / "dump.dh") for name in runs}
    # step 0: the same positions from the data file in both LAMMPS builds
    np.testing.assert_array_equal(plugin_frames[0].ids, frames["np1"][0].ids)
    np.testing.assert_allclose(frames["np1"][0].columns["d_dH"], plugin_frames[0].columns["f_q"],
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(frames["np2"][0].columns["d_dH"], plugin_frames[0].columns["f_q"],
                               rtol=0, atol=1e-12)
    # the global values at step 0 (v_q_* against f_q[1..4])
    plugin_rows = thermo_table((tmp_path / "plugin" / "log.lammps").read_text())
    route_rows = thermo_table((tmp_path / "np1" / "log.lammps").read_text())
    plugin0 = next(r for r in plugin_rows if r["Step"] == 0 and "f_q[1]" in r)
    route0 = next(r for r in route_rows if r["Step"] == 0 and "v_q_max" in r)
    for plugin_key, route_key in (("f_q[1]", "v_q_max"), ("f_q[2]", "v_q_mean"),
                                  ("f_q[3]", "v_q_fraction"), ("f_q[4]", "v_q_count"),
                                  ("f_q[5]", "v_q_new")):
        assert route0[route_key] == pytest.approx(plugin0[plugin_key], rel=1e-9, abs=1e-12)
    assert plugin0["f_q[1]"] < 0  # a thermal crystal the reference covers
    # every frame: the offline dH of the dumped positions, and 1 rank = 2 ranks
    loaded = load(reference)
    assert [f.step for f in frames["np1"]] == [0, 10, 20] == [f.step for f in frames["np2"]]
    for one, two in zip(frames["np1"], frames["np2"]):
        np.testing.assert_allclose(one.columns["d_dH"], offline_dh(one, loaded), rtol=0, atol=1e-9)
        np.testing.assert_allclose(two.columns["d_dH"], offline_dh(two, loaded), rtol=0, atol=1e-9)
        np.testing.assert_allclose(two.columns["d_dH"], one.columns["d_dH"], rtol=0, atol=1e-8)


def test_save_matches_plugin_and_soft_halt(run_lmp, run_debian, cu_case, tmp_path):
    """Strained cell: dH > 0 everywhere, every evaluation saves the whole frame; the soft halt
    ends the run at the first evaluation after step 0 and the script goes on."""
    import ase.io

    reference, data = cu_case
    strain = "change_box all x scale 1.15 remap\n"
    plugin_deck = md_deck(data, strain + f"fix q all quests 10 {reference} save 0.0 saved.xyz\n", "f_q")
    (tmp_path / "plugin").mkdir()
    plugin = run_lmp(plugin_deck, tmp_path / "plugin")
    assert plugin.returncode == 0, output(plugin)[-3000:]
    route = run_debian(md_deck(data, strain + route_lines(reference, "save 0.0 saved.xyz"), "d_dH"),
                       tmp_path / "route", np_ranks=2)
    assert route.returncode == 0, output(route)[-4000:]
    saved_plugin = ase.io.read(tmp_path / "plugin" / "saved.xyz", index=":")
    saved_route = ase.io.read(tmp_path / "route" / "saved.xyz", index=":")
    # the same de-duplicated saves: the whole frame at step 0, then only frames with new atoms
    assert [a.info["step"] for a in saved_route] == [a.info["step"] for a in saved_plugin]
    assert saved_route[0].info["step"] == 0
    first_plugin, first_route = saved_plugin[0], saved_route[0]
    np.testing.assert_array_equal(first_route.arrays["new"], first_plugin.arrays["new"])
    assert first_route.get_chemical_symbols() == first_plugin.get_chemical_symbols()
    np.testing.assert_array_equal(first_route.arrays["id"], first_plugin.arrays["id"])
    np.testing.assert_array_equal(first_route.positions, first_plugin.positions)
    np.testing.assert_array_equal(first_route.cell[:], first_plugin.cell[:])
    np.testing.assert_allclose(first_route.arrays["dH"], first_plugin.arrays["dH"], rtol=0, atol=1e-12)
    dumped = {f.step: f for f in read_dump(tmp_path / "route" / "dump.dh")}
    for atoms in saved_route:
        np.testing.assert_array_equal(atoms.arrays["dH"], dumped[atoms.info["step"]].columns["d_dH"])
        assert atoms.arrays["dH"].min() > 0

    # unstrained at 1200 K: max dH starts below 0 and crosses it within 50 steps
    halted = run_debian(md_deck(data, route_lines(reference, "halt 0.0 soft"), "d_dH",
                                steps=50, tail='print "script goes on"\n'), tmp_path / "soft")
    assert halted.returncode == 0, output(halted)[-4000:]
    assert "stopping the run (halt soft)" in halted.stdout
    assert "script goes on" in halted.stdout
    frames = read_dump(tmp_path / "soft" / "dump.dh")
    assert 0 < frames[-1].step < 50
    assert frames[-1].columns["d_dH"].max() > 0 >= frames[-2].columns["d_dH"].max()


def test_negative_save_threshold_saves_nothing_again_after_a_restart(run_debian, cu_case, tmp_path):
    """`save -1.0` over two runs, then the same deck again: the save file seeds the saved set,
    the frames repeat exactly, and an environment already saved is not new at any t."""
    import ase.io

    reference, data = cu_case
    lines = route_lines(reference, "save -1.0 saved.xyz") + "thermo_style custom step v_q_max v_q_new\nthermo 10\n"
    deck = md_deck(data, lines, "d_dH", steps=20, tail="run 20\n")
    first = run_debian(deck, tmp_path)
    assert first.returncode == 0, output(first)[-4000:]
    rows = [r for r in thermo_table(first.stdout) if "v_q_new" in r]
    saved = ase.io.read(tmp_path / "saved.xyz", ":")
    steps = [atoms.info["step"] for atoms in saved]
    assert steps and steps == sorted(set(steps)), steps
    before = (tmp_path / "saved.xyz").read_bytes()
    again = run_debian(deck, tmp_path)
    assert again.returncode == 0, output(again)[-4000:]
    assert f"{sum(int(a.arrays['new'].sum()) for a in saved)} environments from earlier saves" in again.stdout
    repeated = [r for r in thermo_table(again.stdout) if "v_q_new" in r]
    assert [r["v_q_max"] for r in repeated] == [r["v_q_max"] for r in rows]
    assert all(r["v_q_new"] == 0 for r in repeated)
    assert (tmp_path / "saved.xyz").read_bytes() == before


def error_lines(result) -> list[str]:
    text = output(result)
    assert result.returncode != 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    return [line for line in result.stdout.splitlines() if line.startswith("ERROR")]


def assert_one_clear_error(result, *expected: str, during_run: bool = False) -> None:
    """One ERROR line naming the problem; an error during a run is followed by LAMMPS's
    generic line for a failed python/invoke callback."""
    lines = error_lines(result)
    assert len(lines) == (2 if during_run else 1), lines
    for text in expected:
        assert text in lines[0], lines
    if during_run:
        assert "Fix python/invoke end_of_step() method failed" in lines[1], lines


def test_hard_halt_is_one_error_on_two_ranks(run_debian, cu_case, tmp_path):
    reference, data = cu_case
    strained = md_deck(data, "change_box all x scale 1.15 remap\n" +
                       route_lines(reference, "halt 0.0 hard"), "d_dH")
    result = run_debian(strained, tmp_path / "setup", np_ranks=2)
    assert_one_clear_error(result, "ERROR: Fix quests q: ", "> halt threshold 0 at step 0")
    # during the run (1200 K: max dH crosses 0 within 50 steps)
    result = run_debian(md_deck(data, route_lines(reference, "halt 0.0 hard"), "d_dH", steps=50),
                        tmp_path / "run", np_ranks=2)
    assert_one_clear_error(result, "ERROR: Fix quests q: ", "> halt threshold 0 at step",
                           during_run=True)


def test_short_ghost_cutoff_is_an_error_naming_comm_modify(run_debian, cu_case, tmp_path):
    """A pair style with a 2.5 Angstrom cutoff and a 0.3 skin gives ghosts within 2.8 Angstrom
    of each sub-domain, short of the 5 Angstrom descriptor cutoff."""
    reference, data = cu_case
    deck = md_deck(data, route_lines(reference), "d_dH").replace(
        "pair_style eam/alloy\npair_coeff * * Cu_mishin1.eam.alloy Cu",
        "pair_style zero 2.5\npair_coeff * *\nneighbor 0.3 bin")
    for ranks in (1, 2):
        result = run_debian(deck, tmp_path / f"np{ranks}", np_ranks=ranks)
        assert_one_clear_error(result, "ghost atoms reach 2.8 Angstrom", "comm_modify cutoff",
                               "descriptor cutoff 5")
    fixed = run_debian(deck.replace("neighbor 0.3 bin", "neighbor 0.3 bin\ncomm_modify cutoff 5.3"),
                       tmp_path / "fixed", np_ranks=2)
    assert fixed.returncode == 0, output(fixed)[-3000:]
    # just enough at setup, but atoms drifting 0.1 Angstrom out of their sub-domain before the
    # first reneighbouring (step 10) need more at step 5: an error during the run, on both ranks
    drifting = deck.replace("neighbor 0.3 bin", "neighbor 0.3 bin\ncomm_modify cutoff 5.05\n"
                            "velocity all set 0 0 20 sum yes units box").replace("q all 10", "q all 5")
    result = run_debian(drifting, tmp_path / "drift", np_ranks=2)
    assert_one_clear_error(result, "at step 5", "comm_modify cutoff", during_run=True)


@pytest.mark.parametrize("problem", ["missing reference", "no property", "bad keyword"])
def test_bad_input_is_one_clear_error(run_debian, cu_case, tmp_path, problem):
    reference, data = cu_case
    lines = route_lines(reference)
    expected = {
        "missing reference": (lines.replace(str(reference), "missing.qref"), ["missing.qref", "cannot be read"]),
        "no property": (lines.replace("fix dH all property/atom d_dH\n", ""),
                        ["no per-atom property d_dH", "fix dH all property/atom d_dH"]),
        "bad keyword": (lines.replace("d_dH\"", "d_dH colour red\""), ["unknown keyword 'colour'"]),
    }[problem]
    result = run_debian(md_deck(data, expected[0], "id"), tmp_path)
    assert_one_clear_error(result, "ERROR: Fix quests q: ", *expected[1])


BUG_INJECTION = Path(__file__).resolve().parents[1] / "bug_injection"


@pytest.mark.parametrize("ranks", [1, 2])
def test_a_bug_in_an_evaluation_is_reported_as_a_bug(run_debian, cu_case, tmp_path, ranks):
    """A plain ValueError from numpy code inside the evaluation (planted by a test-only
    sitecustomize on PYTHONPATH, which Debian's embedded Python imports too) is one ERROR line
    naming it a bug, with its type, message and raising line; never an input error."""
    from lammps_quests.errors import BUG_REPORT

    reference, data = cu_case
    result = run_debian(md_deck(data, route_lines(reference), "d_dH"), tmp_path, np_ranks=ranks,
                        extra_env={"PYTHONPATH": str(BUG_INJECTION)})
    assert_one_clear_error(result, "Fix quests q: ValueError: cannot reshape array of size 0 into shape (3,)",
                           f"(at {BUG_INJECTION / 'sitecustomize.py'}:", planted_line(BUG_INJECTION),
                           "called from lammps_quests/", BUG_REPORT, "(computing dH at step 0)")
    # the converse, with the bug planted too: a missing reference is the user's, in one line
    missing = route_lines(reference).replace(str(reference), "missing.qref")
    result = run_debian(md_deck(data, missing, "d_dH"), tmp_path / "missing", np_ranks=ranks,
                        extra_env={"PYTHONPATH": str(BUG_INJECTION)})
    assert_one_clear_error(result, "ERROR: Fix quests q: reference file missing.qref cannot be read")
    assert BUG_REPORT not in output(result)


def test_other_python_version_is_named(run_debian, cu_case, tmp_path):
    reference, data = cu_case
    fake = tmp_path / "env"
    (fake / "lib" / "python3.99" / "site-packages" / "lammps_quests").mkdir(parents=True)
    result = run_debian(md_deck(data, route_lines(reference), "d_dH"), tmp_path / "run",
                        extra_env={"QUESTS_ENV": str(fake)})
    want = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert_one_clear_error(result, "installed for python3.99", f"this LAMMPS embeds {want}")


def test_save_failing_on_rank_0_stops_both_ranks(run_debian, cu_case, tmp_path):
    """Only rank 0 writes saved frames: its failure reaches the other rank (no hang). A missing
    directory is refused at setup; one removed after setup fails the first save of the run."""
    reference, data = cu_case
    deck = md_deck(data, route_lines(reference, "save -100 missing-dir/saved.xyz every"), "d_dH")
    result = run_debian(deck, tmp_path / "setup", np_ranks=2, timeout=120)
    assert_one_clear_error(result, "ERROR: Fix quests q: save file missing-dir/saved.xyz", "does not exist")
    (tmp_path / "run" / "gone").mkdir(parents=True)
    deck = md_deck(data, route_lines(reference, "save -100 gone/saved.xyz every") +
                   "shell rm gone/saved.xyz gone/saved.xyz.lock\nshell rmdir gone\n",
                   "d_dH")
    result = run_debian(deck, tmp_path / "run", np_ranks=2, timeout=120)
    assert_one_clear_error(result, "saving at step 10 failed", "gone/saved.xyz", during_run=True)


def _check_decide_values(values, exact, tol=1e-6, rounding=1e-9):
    """The decide-mode rule at t0 = 0: above, within tol of exact; at or below, an upper bound
    certifying exact dH <= 0."""
    above = values > 0.0
    assert (values - exact).min() >= -rounding
    assert np.abs(values[above] - exact[above]).max(initial=0.0) <= tol + rounding
    assert (exact[~above] <= 0.0).all()
    return above


def test_fast_decide_values_exact_where_flagged_in_both_hosts(run_lmp, run_debian, cu_case, tmp_path):
    """``fast 1e-6 decide`` in the plugin and the python/invoke route (1200 K, max dH crosses 0):
    dumped values above the threshold are within tol of exact, the others upper bounds; the
    saved file flags each value (``dH_bound``) and says what the values are (``dH_values``)."""
    import shutil

    import ase.io

    from lammps_quests.formats._fast_index import build_fast_index, save_fast_index

    reference_path, data = cu_case
    reference_path = shutil.copyfile(reference_path, tmp_path / "cu.qref")
    reference = load(reference_path)
    save_fast_index(build_fast_index(reference, cluster_size=20), reference)
    keywords = "fast 1e-6 decide save 0.0 saved.xyz every"
    (tmp_path / "plugin").mkdir()
    plugin = run_lmp(md_deck(data, f"fix q all quests 10 {reference_path} {keywords}\n", "f_q", steps=50),
                     tmp_path / "plugin")
    assert plugin.returncode == 0, output(plugin)[-3000:]
    route = run_debian(md_deck(data, route_lines(reference_path, keywords), "d_dH", steps=50), tmp_path / "route")
    assert route.returncode == 0, output(route)[-4000:]
    for where, column in (("plugin", "f_q"), ("route", "d_dH")):
        flagged = 0
        for frame in read_dump(tmp_path / where / "dump.dh"):
            flagged += _check_decide_values(frame.columns[column], offline_dh(frame, reference)).sum()
        assert 0 < flagged
        saved = ase.io.read(tmp_path / where / "saved.xyz", index=":")
        assert saved
        for atoms in saved:
            assert "upper bound where dH <= 0" in atoms.info["dH_values"]
            np.testing.assert_array_equal(atoms.arrays["dH_bound"], (atoms.arrays["dH"] <= 0.0).astype(int))
            assert atoms.arrays["dH_bound"].any() and not atoms.arrays["dH_bound"].all()
