"""Every feature with every reference: the combination matrix

    {species-agnostic Cu, species-aware InP} x {plugin fix quests, fix python/invoke in Debian's
    /usr/bin/lmp, ASE monitor} x {save (de-duplicated), save every, save cut R}
    x {exact, fast tol, fast tol decide}.

Each cell checks (1) the per-atom dH of every evaluation against offline dH (``ReferenceDh`` on
the dumped full-precision positions, same mode) to 1e-9 relative, and (2) the saved file against
an offline replay written here from core functions: the elements of every atom, dH of every
atom whose environment is whole, and which atoms are new (dH against the reference plus the
earlier saved rows centred on the atom's own element > t), frame by frame.

References (and their fast indexes) are built once per module; the LAMMPS runs hold one fix
per (save, mode) cell, so the module runs 8 small LAMMPS runs in all.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from conftest import BIN_DIR
from crystals import thermal_inp
from fix_support import cu_crystal, read_dump, requires_plugin

pytestmark = requires_plugin

DEBIAN_LMP = Path("/usr/bin/lmp")
SAVE_T = 0.0  # nats: save threshold of every cell
TOL = 1e-6  # nats: fast tolerance
EVERY = 10
STEPS = 20
SAVES = {"dedup": "", "every": " every", "cut": " cut 6.0"}
MODES = {"exact": "", "fast": f" fast {TOL}", "decide": f" fast {TOL} decide"}
# ---- references and systems, built once -----------------------------------------------------

def _index(path: Path) -> Path:
    result = subprocess.run([str(BIN_DIR / "lammps-quests"), "reference", "index", str(path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return path


@pytest.fixture(scope="module")
def systems(cu_reference, run_lmp, tmp_path_factory):
    """name -> System: the reference (with its .qidx beside it), a data file to start from."""
    from lammps_quests.formats._reference import Reference

    directory = tmp_path_factory.mktemp("matrix")
    cu = directory / "cu.qref"
    shutil.copyfile(cu_reference, cu)
    inp = Reference.build([thermal_inp(seed, sigma=0.06, repeat=2) for seed in range(4)],
                          species=["In", "P"]).save(directory / "inp.qref")
    heads = {"agnostic": cu_crystal(3, seed=13, displace=0.1) + "mass 1 63.546\n", "species": INP_HEAD}
    for name, head in heads.items():
        deck = head + f"velocity all create {TEMPERATURES[name]} 77 loop geom\nwrite_data {name}.data nocoeff\n"
        result = run_lmp(deck, directory, name=f"in.{name}")
        assert result.returncode == 0, result.stdout[-3000:]
    return {
        "agnostic": System(_index(cu), directory / "agnostic.data", ("Cu",), CU_PAIR),
        "species": System(_index(inp), directory / "species.data", ("In", "P"), ZERO_PAIR),
    }


@dataclass
class System:
    reference: Path
    data: Path
    elements: tuple  # element of each atom type
    pair: str  # deck lines of the potential


TEMPERATURES = {"agnostic": 1200, "species": 600}
CU_PAIR = "pair_style eam/alloy\npair_coeff * * Cu_mishin1.eam.alloy Cu\n"
ZERO_PAIR = "pair_style zero 7.0\npair_coeff * *\n"  # Debian's LAMMPS has no SNAP: free flight
#: 64-atom zincblende InP, displaced, with an antisite pair (hot atoms for the saves)
INP_HEAD = f"""units metal
boundary p p p
lattice diamond 5.87
region box block 0 2 0 2 0 2
create_box 2 box
create_atoms 1 box basis 5 2 basis 6 2 basis 7 2 basis 8 2
mass 1 114.818
mass 2 30.974
displace_atoms all random 0.06 0.06 0.06 5 units box
set atom 1 type 2
set atom 30 type 1
{ZERO_PAIR}"""


def fix_id(save: str, mode: str) -> str:
    return f"q{save}{mode}"


def keywords(system: System, save: str, mode: str, directory: Path) -> str:
    elements = " elements " + " ".join(system.elements) if len(system.elements) > 1 else ""
    return (f"threshold 0.0 save {SAVE_T} {directory / (fix_id(save, mode) + '.xyz')}{SAVES[save]}"
            f"{MODES[mode]}{elements}")


def deck(system: System, route: str, modes, directory: Path) -> str:
    """One LAMMPS run holding a fix per (save, mode) cell, dumping each fix's dH."""
    lines, columns = [], []
    for mode in modes:
        for save in SAVES:
            name = fix_id(save, mode)
            words = keywords(system, save, mode, directory)
            if route == "plugin":
                lines.append(f"fix {name} all quests {EVERY} {system.reference} {words}")
                columns.append(f"f_{name}")
            else:
                spec = f"{name} all {EVERY} {system.reference} d_{name} {words}"
                lines += [f"fix p{name} all property/atom d_{name}",
                          f'python quests input 2 SELF "{spec}" format ps file quests.py',
                          "python quests invoke"]
                columns.append(f"d_{name}")
    return f"""units metal
read_data {system.data}
{system.pair}comm_modify cutoff 8.0
fix nve all nve
{chr(10).join(lines)}
dump d all custom {EVERY} dump.dh id type x y z {' '.join(columns)}
dump_modify d sort id format float %.17g
run {STEPS}
"""


def run_route(system: System, route: str, modes, directory: Path, run_lmp, lammps_env):
    """Run the deck on the route; the dumped frames."""
    directory.mkdir(parents=True, exist_ok=True)
    text = deck(system, route, modes, directory)
    if route == "plugin":
        result = run_lmp(text, directory)
    else:
        from lammps_quests.lammps._bootstrap import write_bootstrap

        from test_invoke_route import debian_env

        write_bootstrap(directory / "quests.py")
        (directory / "in.deck").write_text(text)
        result = subprocess.run([str(DEBIAN_LMP), "-in", "in.deck", "-log", "log.lammps", "-nocite"],
                                cwd=directory, env=debian_env(lammps_env, False), capture_output=True,
                                text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return read_dump(directory / "dump.dh")


def monitor_route(system: System, frames, modes, directory: Path):
    """The ASE monitor over the plugin run's frames (positions and elements), one per cell."""
    import ase

    from lammps_quests.ase import QuestsMonitor

    directory.mkdir(parents=True, exist_ok=True)
    reference = str(system.reference)
    out = {}
    atoms = _atoms(frames[0], system)
    for mode in modes:
        for save in SAVES:
            name = fix_id(save, mode)
            path = directory / f"{name}.xyz"
            fast = None if mode == "exact" else TOL
            clock = types.SimpleNamespace(nsteps=0)
            monitor = QuestsMonitor(atoms, reference, threshold=0.0, save=(SAVE_T, path),
                                    cut=6.0 if save == "cut" else None, deduplicate=save != "every",
                                    fast=fast, decide=mode == "decide", dynamics=clock)
            values = []
            for frame in frames:
                clock.nsteps = frame.step
                atoms.positions = frame.positions
                monitor()
                values.append(atoms.arrays["dH"].copy())
            out[name] = values
    assert isinstance(atoms, ase.Atoms)
    return out


def _atoms(frame, system: System):
    import ase

    symbols = [system.elements[int(t) - 1] for t in frame.columns["type"]]
    return ase.Atoms(symbols, positions=frame.positions, cell=frame.cell, pbc=frame.pbc)


@pytest.fixture(scope="module")
def outcomes(systems, run_lmp, lammps_env, tmp_path_factory):
    """(reference kind, route, exact|fast group) -> (directory, dumped frames or per-cell dH)."""
    cache = {}

    def get(kind: str, route: str, group: str):
        key = (kind, route, group)
        if key not in cache:
            modes = ("exact",) if group == "exact" else ("fast", "decide")
            directory = tmp_path_factory.mktemp(f"{kind}_{route}_{group}")
            system = systems[kind]
            if route == "monitor":
                frames = get(kind, "plugin", "exact")[1]
                cache[key] = (directory, monitor_route(system, frames, modes, directory))
            else:
                cache[key] = (directory, run_route(system, route, modes, directory, run_lmp, lammps_env))
        return cache[key]

    return get


# ---- offline: what each cell must equal ------------------------------------------------------

def offline_dh(reference, mode: str):
    from lammps_quests.dh._reference_dh import ReferenceDh

    if mode == "exact":
        return ReferenceDh(reference)
    return ReferenceDh(reference, fast_tol=TOL, decide=[0.0, SAVE_T] if mode == "decide" else None)


def frame_environments(frame, system: System, dh):
    """(descriptors, labels) of every atom of a dumped frame, as ReferenceDh computes them."""
    return dh.descriptors(_atoms(frame, system))


def union_dh(dh_reference, Y, labels, saved_Y, saved_labels, h):
    """dH (nats) against reference ∪ saved rows of the same centre species, from the reference
    dH and the core's plain dH against the saved rows (the identity of the kernel sum)."""
    from lammps_quests.core._information import delta_entropy

    out = np.asarray(dh_reference, dtype=float).copy()
    labels = np.zeros(len(Y), dtype=int) if labels is None else labels
    for s in np.unique(labels):
        rows = np.flatnonzero(labels == s)
        mine = saved_Y[saved_labels == s]
        if len(mine):
            out[rows] = -np.logaddexp(-out[rows], -delta_entropy(Y[rows], mine, h))
    return out


def check_saved(path: Path, frames, dh_of_frames, system: System, reference, mode: str, save: str):
    """The saved file equals the offline replay: elements, dH of whole environments, new rows,
    and (whole frames) which evaluations were saved."""
    import ase.io

    from lammps_quests.active._saving import environments

    dh = offline_dh(reference, mode)
    h = reference.bandwidth
    structures = ase.io.read(path, index=":") if path.exists() else []
    assert structures, f"{path.name}: nothing saved (the systems have atoms above {SAVE_T})"
    by_step = {}
    for structure in structures:
        by_step.setdefault(int(structure.info["step"]), []).append(structure)
    saved_Y = np.zeros((0, reference.width))
    saved_labels = np.zeros(0, dtype=int)
    for frame, values in zip(frames, dh_of_frames):
        Y, labels = frame_environments(frame, system, dh)
        union = union_dh(values, Y, labels, saved_Y, saved_labels, h)
        expect_save = bool((values > SAVE_T).any()) if save == "every" else bool((union > SAVE_T + 1e-9).any())
        pieces = by_step.pop(frame.step, [])
        if save != "cut" or not expect_save:
            assert bool(pieces) == expect_save, (path.name, frame.step)
        for piece in pieces:
            types = frame.columns["type"][piece.arrays["id"].astype(int) - 1].astype(int)
            assert piece.get_chemical_symbols() == [system.elements[t - 1] for t in types]
            exact = np.flatnonzero(piece.arrays["exact"] == 1)
            Z, z_labels = environments(_structure(piece), exact, dh)
            np.testing.assert_allclose(dh(Z, z_labels), piece.arrays["dH"][exact], rtol=1e-9, atol=1e-9)
            new = np.flatnonzero(piece.arrays["new"] == 1)
            Z, z_labels = environments(_structure(piece), new, dh)
            if save == "every":
                np.testing.assert_array_equal(piece.arrays["new"] == 1, piece.arrays["dH"] > SAVE_T)
            else:
                got = union_dh(piece.arrays["dH"][new], Z, z_labels, saved_Y, saved_labels, h)
                assert (got > SAVE_T + 1e-9).all(), (path.name, frame.step)
            if save == "dedup":  # whole frame: every other candidate is covered
                others = (piece.arrays["new"] == 0) & (piece.arrays["dH"] > SAVE_T)
                np.testing.assert_array_equal(others, (values > SAVE_T) & ~(union > SAVE_T + 1e-9))
            saved_Y = np.vstack([saved_Y, Z])
            saved_labels = np.concatenate([saved_labels, np.zeros(len(new), int) if z_labels is None
                                           else z_labels])
    assert not by_step, f"saves at steps no evaluation had: {sorted(by_step)}"


def _structure(atoms):
    from lammps_quests.active import Structure

    return Structure.from_atoms(atoms)


# ---- the matrix ------------------------------------------------------------------------------

ROUTES = ("plugin", "invoke", "monitor")
CELLS = [pytest.param(kind, route, save, mode, id=f"{kind}-{route}-{save}-{mode}")
         for kind in ("agnostic", "species") for route in ROUTES for save in SAVES for mode in MODES]


@pytest.mark.parametrize("kind,route,save,mode", CELLS)
def test_cell(kind, route, save, mode, systems, outcomes):
    from lammps_quests.formats._reference import Reference

    if route == "invoke" and not DEBIAN_LMP.is_file():
        pytest.skip("Debian's LAMMPS (/usr/bin/lmp) is not installed")
    system = systems[kind]
    reference = Reference.load(system.reference)
    directory, result = outcomes(kind, route, "exact" if mode == "exact" else "fast")
    name = fix_id(save, mode)
    if route == "monitor":
        frames = outcomes(kind, "plugin", "exact")[1]
        values = result[name]
    else:
        frames = result
        values = [frame.columns[("f_" if route == "plugin" else "d_") + name] for frame in frames]
    assert [frame.step for frame in frames] == list(range(0, STEPS + 1, EVERY))
    dh = offline_dh(reference, mode)
    for frame, got in zip(frames, values):
        Y, labels = frame_environments(frame, system, dh)
        np.testing.assert_allclose(got, dh(Y, labels), rtol=1e-9, atol=1e-9)
    check_saved(directory / f"{name}.xyz", frames, values, system, reference, mode, save)
    if route == "plugin" and mode == "exact":  # `lammps-quests saved` recounts the run's report
        assert saved_numbers(directory / "log.lammps", f"fix quests {name}:") == \
            saved_numbers(_saved_cli(directory / f"{name}.xyz", system.reference), "saved:")


SAVED_LINE = re.compile(r"(\d+) structure\(s\) with (\d+) atoms saved to .*?; (\d+) new environment\(s\)"
                        r"(?: add (\S+) nats)?")


def saved_numbers(text: str, prefix: str) -> tuple:
    """Structures, atoms, new environments and entropy added (text, 9 digits) of a report line."""
    text = Path(text).read_text() if isinstance(text, Path) else text
    (line,) = [line for line in text.splitlines() if line.startswith(prefix) and "saved to" in line]
    return SAVED_LINE.search(line).groups()


def _saved_cli(path: Path, reference: Path) -> str:
    result = subprocess.run([str(BIN_DIR / "lammps-quests"), "saved", str(path), "-r", str(reference)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
