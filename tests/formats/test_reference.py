"""Reference files: build, bitwise round trip, shared read-only memory map, corruption, CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.io import write
from click.testing import CliRunner

from crystal_md import run_cu_crystal
from crystals import thermal_cu_frames
from lammps_quests.cli import main
from lammps_quests.core._descriptors import descriptors
from lammps_quests.formats._qref import ALIGNMENT, read_header
from lammps_quests.formats._reference import Reference
from lammps_quests.errors import ReferenceFileError, ReferenceMismatchError

REPO = Path(__file__).resolve().parents[2]


def _random_reference(n: int = 50, k: int = 8, seed: int = 3) -> Reference:
    X = np.random.default_rng(seed).uniform(0.0, 1.0, size=(n, 2 * k - 1))
    return Reference.from_descriptors(X, k=k, cutoff=4.5, bandwidth=0.02)


@pytest.fixture
def saved(tmp_path):
    """A small saved reference and its file (k = 8, 50 environments)."""
    ref = _random_reference()
    return ref, ref.save(tmp_path / "ref.qref")


# ----------------------------------------------------------------------------- settings check
def test_check_accepts_the_reference_settings_and_a_cutoff_within_the_relative_tolerance(saved):
    _, path = saved
    ref = Reference.load(path)  # k = 8, cutoff 4.5 Å
    ref.check()
    ref.check(k=8, cutoff=4.5)
    ref.check(cutoff=4.5 * (1 + 5e-10))  # as typed in a deck: 4.50000000225
    ref.check(cutoff=4.5 * (1 - 5e-10))
    big = Reference.from_descriptors(np.ones((2, 3)), k=2, cutoff=5.0)
    big.check(cutoff=5.0000000001)  # relative 2e-11


@pytest.mark.parametrize("cutoff", [4.5 * (1 + 2e-9), 4.5 * (1 - 2e-9), 4.501, 4.0])
def test_check_refuses_a_cutoff_beyond_the_relative_tolerance(saved, cutoff):
    _, path = saved
    with pytest.raises(ReferenceMismatchError) as caught:
        Reference.load(path).check(cutoff=cutoff)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    for part in (str(path), "built with cutoff = 4.5 Å", f"asks for cutoff = {cutoff} Å",
                 f"--cutoff {cutoff}", "drop the cutoff option"):
        assert part in message, (part, message)


def test_check_refuses_another_k_naming_both_values_and_the_fix(saved):
    _, path = saved
    with pytest.raises(ReferenceMismatchError) as caught:
        Reference.load(path).check(k=16, by="the fix")
    message = str(caught.value)
    for part in (str(path), "built with k = 8", "the fix asks for k = 16", "--k 16", "drop the k option"):
        assert part in message, (part, message)
    with pytest.raises(ValueError, match="k must be"):
        Reference.load(path).check(k=0)


# ----------------------------------------------------------------------------- build, save, load
def test_build_stores_exactly_the_core_descriptors():
    frames = thermal_cu_frames(2)
    ref = Reference.build(frames, k=12, cutoff=4.0, bandwidth=0.03)
    expected = descriptors(frames, k=12, cutoff=4.0)
    assert ref.descriptors.tobytes() == expected.tobytes()
    assert (ref.k, ref.cutoff, ref.bandwidth, ref.n_environments) == (12, 4.0, 0.03, 64)
    assert ref.descriptors.shape == (64, 23) and not ref.descriptors.flags.writeable
    assert ref.sources[0]["n_frames"] == 2 and ref.sources[0]["rows"] == [0, 64]


def test_round_trip_is_bitwise_with_and_without_mmap(saved):
    ref, path = saved
    for mmap in (True, False):
        loaded = Reference.load(path, mmap=mmap)
        assert loaded.descriptors.tobytes() == ref.descriptors.tobytes()
        assert loaded.descriptors.dtype == np.float64 and loaded.descriptors.shape == (50, 15)
        assert (loaded.k, loaded.cutoff, loaded.bandwidth) == (8, 4.5, 0.02)
        assert loaded.n_environments == 50 and loaded.sha256 == ref.sha256
        assert loaded.sources == ref.sources and loaded.length_unit == "angstrom"
        assert loaded.descriptor_version == ref.descriptor_version
    header, offset = read_header(path)
    assert offset % ALIGNMENT == 0
    assert path.stat().st_size == offset + 50 * 15 * 8


def test_save_again_reproduces_the_same_bytes(saved, tmp_path):
    _, path = saved
    again = Reference.load(path).save(tmp_path / "again.qref")
    assert again.read_bytes() == path.read_bytes()


def test_mmap_is_read_only_memmap(saved):
    _, path = saved
    loaded = Reference.load(path, mmap=True)
    assert isinstance(loaded.descriptors, np.memmap)
    assert loaded.descriptors.offset == read_header(path)[1]
    with pytest.raises(ValueError, match="read-only"):
        loaded.descriptors[0, 0] = 1.0
    private = Reference.load(path, mmap=False).descriptors
    assert not isinstance(private, np.memmap)
    with pytest.raises(ValueError, match="read-only"):
        private[0, 0] = 1.0


def _shared_clean_kib(path: Path) -> tuple[int, int]:
    """(Shared_Clean, Private_Clean) kB of this process's mappings of ``path`` (Linux smaps)."""
    shared = private = 0
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:  # a mapping header line
            inside = len(fields) >= 6 and fields[5] == str(path)
        elif inside and fields[0] == "Shared_Clean:":
            shared += int(fields[1])
        elif inside and fields[0] == "Private_Clean:":
            private += int(fields[1])
    return shared, private


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc smaps")
def test_two_processes_share_the_pages_of_one_reference(tmp_path):
    X = np.random.default_rng(0).uniform(size=(20_000, 63))  # ~10 MB
    path = Reference.from_descriptors(X, k=32, cutoff=5.0).save(tmp_path / "big.qref").resolve()
    mine = Reference.load(path)
    assert float(np.asarray(mine.descriptors).sum()) > 0  # touch every page
    shared_alone, private_alone = _shared_clean_kib(path)
    assert shared_alone == 0 and private_alone > 0.9 * X.nbytes / 1024

    other = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, numpy as np; from lammps_quests.formats._reference import Reference;"
         f"r = Reference.load({str(path)!r}); np.asarray(r.descriptors).sum();"
         "print('mapped', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])},
    )
    try:
        assert other.stdout.readline().strip() == "mapped"
        shared_both, _ = _shared_clean_kib(path)
    finally:
        other.communicate("")
    assert shared_both > 0.9 * X.nbytes / 1024


# ----------------------------------------------------------------------------- corrupt files
def _data_offset(path: Path) -> int:
    return read_header(path)[1]


def _patch(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as stream:
        stream.seek(offset)
        stream.write(data)


def _replace_in_header(path: Path, old: bytes, new: bytes) -> None:
    assert len(old) == len(new)
    raw = path.read_bytes()
    assert raw.count(old) == 1
    path.write_bytes(raw.replace(old, new))


def _expect_error(path: Path, pattern: str, **kwargs) -> str:
    with pytest.raises(ReferenceFileError, match=pattern) as caught:
        Reference.load(path, **kwargs)
    message = str(caught.value)
    assert str(path) in message  # the message names the file
    assert isinstance(caught.value, ValueError)
    return message


def test_missing_file(tmp_path):
    message = _expect_error(tmp_path / "none.qref", "does not exist")
    assert "reference build" in message  # and says how to make one


def test_truncated_data(saved):
    _, path = saved
    path.write_bytes(path.read_bytes()[:-8])
    _expect_error(path, "is truncated: .* needs")


def test_truncated_inside_preamble_and_header(saved):
    _, path = saved
    raw = path.read_bytes()
    path.write_bytes(raw[:10])
    _expect_error(path, "truncated.*preamble")
    path.write_bytes(raw[:100])
    _expect_error(path, "header length .* exceeds the file")


def test_trailing_bytes(saved):
    _, path = saved
    with open(path, "ab") as stream:
        stream.write(b"\0" * 8)
    _expect_error(path, "longer than its header says")


def test_wrong_magic(saved, tmp_path):
    _, path = saved
    _patch(path, 0, b"NOTAREF!")
    _expect_error(path, "not a lammps-quests reference file.*NOTAREF")
    npy = tmp_path / "plain.npy"
    np.save(npy, np.ones((3, 15)))
    _expect_error(npy, r"NumPy \.npy array")


def test_unsupported_format_and_descriptor_versions(saved):
    _, path = saved
    _patch(path, 8, (99).to_bytes(4, "little"))
    _expect_error(path, "format version 99")
    _patch(path, 8, (1).to_bytes(4, "little"))
    _replace_in_header(path, b'"descriptor_version": 1', b'"descriptor_version": 7')
    _expect_error(path, "descriptors of version 7")


def test_header_that_is_not_json(saved):
    _, path = saved
    _patch(path, 16, b"{{{{")
    _expect_error(path, "corrupt header .*not valid JSON")


def test_header_missing_a_field(saved):
    _, path = saved
    _replace_in_header(path, b'"cutoff"', b'"cutofX"')
    _expect_error(path, "missing field.*cutoff")


def test_nan_in_descriptors(saved):
    _, path = saved
    _patch(path, _data_offset(path) + 8 * (15 * 7 + 2), np.array([np.nan]).tobytes())
    _expect_error(path, "NaN or inf .*row 7")


def test_negative_descriptors(saved):
    _, path = saved
    _patch(path, _data_offset(path) + 8 * 15 * 4, np.array([-0.5]).tobytes())
    _expect_error(path, "negative values .*row 4")


def test_width_not_matching_k(saved):
    _, path = saved
    _replace_in_header(path, b'"k": 8', b'"k": 9')
    message = _expect_error(path, "width 15 does not match k = 9")
    assert "2k-1 = 17" in message


def test_changed_data_fails_the_hash_unless_skipped(saved):
    ref, path = saved
    _patch(path, _data_offset(path) + 8 * 20, np.array([0.123456]).tobytes())
    _expect_error(path, "sha256 .* does not match")
    unchecked = Reference.load(path, verify_hash=False)  # hashing can be skipped for speed
    assert unchecked.descriptors[1, 5] == 0.123456
    with pytest.raises(ReferenceFileError, match="sha256"):
        unchecked.verify()
    ref.verify()  # the intact in-memory copy passes


def test_bad_settings_and_arrays_are_refused_at_build():
    X = np.random.default_rng(1).uniform(size=(10, 15))
    with pytest.raises(ValueError, match="width 15 does not match k = 7"):
        Reference.from_descriptors(X, k=7, cutoff=5.0)
    with pytest.raises(ValueError, match="cutoff"):
        Reference.from_descriptors(X, k=8, cutoff=-1.0)
    with pytest.raises(ValueError, match="bandwidth"):
        Reference.from_descriptors(X, k=8, cutoff=5.0, bandwidth=0.0)
    X[3, 3] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        Reference.from_descriptors(X, k=8, cutoff=5.0)
    with pytest.raises(ValueError, match="no frames"):
        Reference.build([])
    with pytest.raises(ValueError, match="sources account for 5 atoms but there are 64"):
        Reference.build(thermal_cu_frames(2), k=8, cutoff=4.0, sources=[{"path": "x", "n_atoms": 5}])


# ----------------------------------------------------------------------------- command line
def test_cli_build_and_info_on_extxyz(tmp_path):
    frames = thermal_cu_frames(3)
    xyz = tmp_path / "cu.xyz"
    write(xyz, frames)
    out = tmp_path / "cu.qref"
    runner = CliRunner()
    result = runner.invoke(main, ["reference", "build", str(out), str(xyz), "--index", "1:",
                                  "--k", "10", "--cutoff", "4.2", "--bandwidth", "0.02"])
    assert result.exit_code == 0, result.output
    ref = Reference.load(out)
    assert (ref.k, ref.cutoff, ref.bandwidth, ref.n_environments) == (10, 4.2, 0.02, 64)
    expected = descriptors(frames[1:], k=10, cutoff=4.2)
    np.testing.assert_allclose(ref.descriptors, expected, rtol=0, atol=1e-7)  # extxyz: 8 decimals
    assert ref.sources[0]["frames"] == {"start": 1, "stop": 3, "step": 1, "of": 3}

    result = runner.invoke(main, ["reference", "info", str(out)])
    assert result.exit_code == 0, result.output
    assert "environments:      64" in result.output and "k = 10" in result.output
    assert "finite values, sha256: OK" in result.output
    result = runner.invoke(main, ["reference", "info", "--json", str(out)])
    assert json.loads(result.output)["sha256"] == ref.sha256


def test_cli_errors_are_clear_and_nonzero(tmp_path):
    xyz = tmp_path / "cu.xyz"
    write(xyz, thermal_cu_frames(1))
    out = tmp_path / "cu.qref"
    runner = CliRunner()
    assert runner.invoke(main, ["reference", "build", str(out), str(xyz), "--k", "8"]).exit_code == 0

    again = runner.invoke(main, ["reference", "build", str(out), str(xyz)])
    assert again.exit_code == 2 and "pass --force" in again.output
    forced = runner.invoke(main, ["reference", "build", str(out), str(xyz), "--k", "9", "--force"])
    assert forced.exit_code == 0 and Reference.load(out).k == 9

    missing = runner.invoke(main, ["reference", "build", str(tmp_path / "o.qref"), str(tmp_path / "no.xyz")])
    assert missing.exit_code == 2 and "no.xyz: no such file" in missing.output
    bad_k = runner.invoke(main, ["reference", "build", str(tmp_path / "o.qref"), str(xyz), "--k", "1"])
    assert bad_k.exit_code == 2 and "k must be an integer >= 2" in bad_k.output
    assert not (tmp_path / "o.qref").exists()

    raw = out.read_bytes()
    out.write_bytes(raw[:-3])
    broken = runner.invoke(main, ["reference", "info", str(out)])
    assert broken.exit_code == 1 and "is truncated" in broken.output and "Traceback" not in broken.output


def test_help_shows_a_worked_example():
    result = CliRunner().invoke(main, ["reference", "build", "--help"])
    assert result.exit_code == 0
    assert "lammps-quests reference build cu_fcc.qref" in result.output
    assert "fix q all quests 100 cu_fcc.qref" in result.output


@pytest.mark.lammps
def test_real_command_builds_from_lammps_dump_and_extxyz(tmp_path):
    """`lammps-quests` as a separate process, on a dump written by a real LAMMPS run."""
    dump, _, _, _ = run_cu_crystal(tmp_path, steps=60, every=20)  # frames at steps 0..60
    xyz = tmp_path / "cu.xyz"
    write(xyz, thermal_cu_frames(2))  # with --index 1: the second frame is used
    out = tmp_path / "mixed.qref"
    script = shutil.which("lammps-quests")
    command = [script] if script else [sys.executable, "-c", "from lammps_quests.cli import main; main()"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "NUMBA_NUM_THREADS": "1"}
    build = subprocess.run(command + ["reference", "build", str(out), str(dump), str(xyz), "--index", "1:"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert build.returncode == 0, build.stderr
    ref = Reference.load(out)
    assert ref.n_environments == 3 * 108 + 32
    assert [s["rows"] for s in ref.sources] == [[0, 324], [324, 356]]
    assert ref.sources[0]["format"] == "lammps-dump-text"
    info = subprocess.run(command + ["reference", "info", str(out)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert info.returncode == 0 and "environments:      356" in info.stdout
