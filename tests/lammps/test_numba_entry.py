"""numba's settings inside LAMMPS (a writable cache directory, numba's own thread pool) are
applied by each route's entry, whatever was imported first: importing the numerics and the fix
session sets nothing, and the plugin route's ``open_fix`` and the python/invoke route's
``setup`` apply them. Fresh interpreters, no LAMMPS."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

PROBE = r"""
import json, os, sys
import numpy as np
import numba

route, reference = sys.argv[1], sys.argv[2]
default_layer = numba.config.THREADING_LAYER
import lammps_quests.lammps._threads as threads

# the installed package counts as read-only, so a cache directory must be chosen
package_dir = os.path.realpath(os.path.dirname(threads.__file__))
real_access = os.access
os.access = lambda path, mode, **kw: (False if os.path.realpath(path) == package_dir
                                      else real_access(path, mode, **kw))

# the other order: the numerics, the monitor and the fix session before the route's entry
import lammps_quests.core, lammps_quests.monitor, lammps_quests.lammps._session
before = [os.environ.get("NUMBA_CACHE_DIR"), numba.config.THREADING_LAYER]
if route == "plugin":
    from lammps_quests.lammps import _bridge
    os.environ.pop("NUMBA_CACHE_DIR", None)  # what importing the bridge set: open_fix must set it again
    numba.config.THREADING_LAYER = default_layer
    _bridge.open_fix(1, "q", "all", reference, [], 0, 1, np.empty(0))
else:
    from lammps_quests.lammps import _invoke
    try:
        _invoke.setup(None, "q all 1 " + reference + " d_dH")  # no LAMMPS behind the pointer
    except ValueError:
        pass
print(json.dumps({"default": default_layer, "before": before,
                  "after": [os.environ.get("NUMBA_CACHE_DIR"), numba.config.THREADING_LAYER],
                  "numba_config": numba.config.CACHE_DIR}))
"""


@pytest.fixture(scope="module")
def small_reference(tmp_path_factory):
    from lammps_quests import Reference

    X = np.abs(np.random.default_rng(0).normal(size=(20, 7)))
    path = tmp_path_factory.mktemp("reference") / "small.qref"
    Reference.from_descriptors(X, k=4, cutoff=4.0).save(path)
    return path


@pytest.mark.parametrize("route", ["plugin", "invoke"])
def test_route_entry_applies_numba_settings_after_the_numerics_were_imported(route, small_reference, tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("NUMBA_CACHE_DIR", "NUMBA_THREADING_LAYER", "PYTHONPATH")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    result = subprocess.run([sys.executable, "-c", PROBE, route, str(small_reference)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    chosen = str(tmp_path / "cache" / "lammps-quests" / "numba")
    assert report["before"] == [None, report["default"]]  # importing the session set nothing
    assert report["default"] != "workqueue"
    assert report["after"] == [chosen, "workqueue"]
    assert report["numba_config"] == chosen  # numba, imported first, was told too
