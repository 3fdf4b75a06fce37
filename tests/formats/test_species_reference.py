"""Species-aware reference files: header, row grouping, round trip, CLI build/info, old files."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from crystals import thermal_inp
from lammps_quests.cli import main
from lammps_quests.core._descriptors import descriptors, species_labels
from lammps_quests.formats._reference import Reference, read_header
from lammps_quests.errors import ReferenceFileError


@pytest.fixture(scope="module")
def frames():
    return [thermal_inp(seed, sigma=0.05, repeat=2) for seed in range(3)]


def test_rows_grouped_by_species_and_round_trip(frames, tmp_path):
    reference = Reference.build(frames, k=8, cutoff=4.5, elements="auto")
    assert reference.elements == ("In", "P")
    assert reference.species_counts == (96, 96)
    X = descriptors(frames, k=8, cutoff=4.5, elements=["In", "P"])
    labels = species_labels(frames, ["In", "P"])
    assert reference.width == 3 * 15
    np.testing.assert_array_equal(reference.descriptors, X[np.argsort(labels, kind="stable")])
    path = reference.save(tmp_path / "inp.qref")
    header, _ = read_header(path)
    assert header["descriptor_mode"] == "species"
    assert header["species"] == ["In", "P"] and header["species_counts"] == [96, 96]
    loaded = Reference.load(path)
    assert loaded.elements == ("In", "P") and loaded.species_counts == (96, 96)
    np.testing.assert_array_equal(loaded.descriptors, reference.descriptors)
    np.testing.assert_array_equal(loaded.species_labels, np.repeat([0, 1], 96))
    # each source keeps one row range per species
    assert loaded.sources[0]["rows"] == {"In": [0, 96], "P": [96, 192]}


def test_explicit_order_and_bad_lists(frames):
    reference = Reference.build(frames[:1], k=8, elements="P,In")
    assert reference.elements == ("P", "In")
    np.testing.assert_array_equal(reference.species_labels, np.repeat([0, 1], 32))
    with pytest.raises(ValueError, match="contain In, which the elements P lack"):
        Reference.build(frames[:1], k=8, elements=["P"])
    with pytest.raises(ValueError, match="name an element twice"):
        Reference.build(frames[:1], k=8, elements=["In", "In", "P"])


def test_agnostic_references_stay_agnostic(frames, tmp_path):
    path = Reference.build(frames[:1], k=8).save(tmp_path / "plain.qref")
    header, _ = read_header(path)
    assert header["descriptor_mode"] == "agnostic" and "species" not in header
    loaded = Reference.load(path)
    assert loaded.elements == () and not loaded.species_aware and loaded.width == 15


def test_header_species_that_do_not_add_up_are_refused(frames, tmp_path):
    path = Reference.build(frames[:1], k=8, elements="auto").save(tmp_path / "inp.qref")
    raw = path.read_bytes()
    damaged = raw.replace(b'"species_counts": [\n  32,\n  32\n ]', b'"species_counts": [\n  31,\n  32\n ]')
    assert damaged != raw
    path.write_bytes(damaged)
    with pytest.raises(ReferenceFileError, match="do not account for the 64 environments"):
        Reference.load(path)


def test_cli_build_and_info_show_species(frames, tmp_path):
    import ase.io

    ase.io.write(tmp_path / "inp.xyz", frames)
    runner = CliRunner()
    out = tmp_path / "inp.qref"
    result = runner.invoke(main, ["reference", "build", str(out), str(tmp_path / "inp.xyz"),
                                  "--k", "8", "--elements", "auto"])
    assert result.exit_code == 0, result.output
    info = runner.invoke(main, ["reference", "info", str(out)])
    assert info.exit_code == 0, info.output
    assert "species:           In P (species-aware; environments per centre: In 96, P 96)" in info.output
    header = json.loads(runner.invoke(main, ["reference", "info", str(out), "--json"]).output)
    assert header["species"] == ["In", "P"]
    # threshold guidance per centre element: leave-one-out dH against that element's rows, cached
    from lammps_quests.core._threshold import self_information

    reference = Reference.load(out)
    cached = header["self_information_per_species"]
    assert set(cached) == {"In", "P"}
    for s, name in enumerate(("In", "P")):
        expected = self_information(np.asarray(reference.descriptors)[reference.species_labels == s], 0.015)
        assert cached[name]["max"] == pytest.approx(expected["max"], abs=1e-12)
        assert cached[name]["entropy"] == pytest.approx(expected["entropy"], abs=1e-12)
    assert "threshold guidance, per centre element:" in info.output and "centred on P:" in info.output
    assert "computed now" not in info.output
    # the one reader of that cache (reference info, fix log): cached, or the same numbers computed now
    from lammps_quests.core._threshold import element_self_information

    summaries, was_cached = element_self_information(reference, 0.015)
    assert was_cached and summaries == [("In", cached["In"]), ("P", cached["P"])]
    reference.extra.pop("self_information_per_species")
    recomputed, was_cached = element_self_information(reference, 0.015)
    assert not was_cached and [name for name, _ in recomputed] == ["In", "P"]
    for name, info in recomputed:
        assert info["max"] == pytest.approx(cached[name]["max"], abs=1e-12)
        assert info["percentiles"] == pytest.approx(cached[name]["percentiles"], abs=1e-12)
    plain = runner.invoke(main, ["reference", "build", str(tmp_path / "plain.qref"),
                                 str(tmp_path / "inp.xyz"), "--k", "8"])
    assert "species:           agnostic" in plain.output
    wrong = runner.invoke(main, ["reference", "build", str(tmp_path / "bad.qref"),
                                 str(tmp_path / "inp.xyz"), "--elements", "In"])
    assert wrong.exit_code != 0 and "contain P, which the elements In lack" in wrong.output


def test_check_names_an_element_the_reference_lacks(frames):
    from lammps_quests.errors import ReferenceMismatchError

    reference = Reference.build(frames[:1], k=8, elements="auto")
    reference.check(symbols=["P", "In"], by="the fix")
    with pytest.raises(ReferenceMismatchError, match="centred on In, P only, but the fix has Ga"):
        reference.check(symbols=["In", "Ga"], by="the fix")
    Reference.build(frames[:1], k=8).check(symbols=["Ga"])  # agnostic: any element
