"""--json of saved, select, reference build and reference index: the same
numbers as the text and the Python API; and `saved` on a file no run wrote."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from cli_support import invoke
from crystals import rattled_frames

from lammps_quests.active import Saver, Structure
from lammps_quests.core._information import delta_entropy
from lammps_quests.formats._reference import Reference


def hot_frame(seed: int) -> Structure:
    atoms = bulk("Cu", "fcc", a=3.615, cubic=True).repeat(2)
    atoms.rattle(0.3, seed=seed)
    return Structure(atoms.get_chemical_symbols(), atoms.positions.copy(), np.array(atoms.cell),
                     np.array(atoms.pbc), {"id": np.arange(1, len(atoms) + 1)}, {"step": seed})


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    """cu.qref, saved.xyz (structures a de-duplicating save wrote) and plain.xyz (the same
    frames written by ASE, as no run writes them)."""
    directory = tmp_path_factory.mktemp("json")
    Reference.build(rattled_frames("fcc", 3.615, 3, 0.03, 7)).save(directory / "cu.qref")
    reference = Reference.load(directory / "cu.qref")
    saver = Saver(reference, reference.bandwidth, 0.0)
    for seed in (3, 4):
        frame = hot_frame(seed)
        Y = frame.descriptors(np.arange(len(frame)), reference.k, reference.cutoff)
        for structure in saver.structures(frame, delta_entropy(Y, reference.descriptors, reference.bandwidth)):
            structure.write(directory / "saved.xyz")
    ase.io.write(directory / "plain.xyz", rattled_frames("fcc", 3.615, 2, 0.3, 3))
    return directory, saver.counts


def test_saved_json_holds_the_numbers_of_the_text_line(run_files):
    directory, counts = run_files
    text = invoke("saved", "saved.xyz", "-r", "cu.qref", cwd=directory)
    data = json.loads(invoke("saved", "saved.xyz", "-r", "cu.qref", "--json", cwd=directory).output)
    assert (data["structures"], data["new_environments"]) == (counts.structures, counts.new) and counts.new > 0
    assert f"add {data['entropy_added']:.9g} nats" in text.output and data["entropy_added"] > 0


def test_saved_on_a_file_no_run_wrote_says_so(run_files):
    directory, _ = run_files
    result = invoke("saved", "plain.xyz", "-r", "cu.qref", cwd=directory)
    assert result.exit_code == 1
    assert "was not written by fix quests ... save" in result.output and "sha256 none" not in result.output


def test_select_json_lists_the_picks_of_the_text(run_files, tmp_path):
    directory, _ = run_files
    reference = directory / "cu.qref"
    text = invoke("select", directory / "plain.xyz", "-r", reference, "-o", tmp_path / "a.xyz", cwd=tmp_path)
    data = json.loads(invoke("select", directory / "plain.xyz", "-r", reference, "-o", tmp_path / "b.xyz",
                             "--json", cwd=tmp_path).output)
    assert data["picks"] and data["output"] == str(tmp_path / "b.xyz")
    for pick in data["picks"]:
        assert f"{pick['gain']:.9g}" in text.output
    assert f"stopped: {data['stopped']}" in text.output
    assert len(ase.io.read(tmp_path / "b.xyz", ":")) == len(data["picks"])


def test_reference_build_and_index_json(tmp_path):
    ase.io.write(tmp_path / "train.xyz", rattled_frames("fcc", 3.615, 2, 0.03, 1))
    result = invoke("reference", "build", "r.qref", "train.xyz", "--json", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    reference = Reference.load(tmp_path / "r.qref")
    assert data["header"]["sha256"] == reference.sha256 and data["atoms"] == reference.n_environments == 64
    assert data["threshold_guidance"]["n"] == 64 and data["fast_index"] is None
    indexed = invoke("reference", "index", "r.qref", "--json", cwd=tmp_path)
    assert indexed.exit_code == 0, indexed.output
    built = json.loads(indexed.stdout)["fast_index"]
    assert built["path"].endswith("r.qref.qidx") and built["clusters"] >= 1
