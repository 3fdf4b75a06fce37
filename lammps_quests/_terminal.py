"""No stray colour codes at exit: numba's error highlighting starts colorama, whose exit
handler writes ``ESC[0m`` to a terminal after the program's last line (the CLI's tables, or
the python/invoke route's output in LAMMPS)."""

from __future__ import annotations

import atexit
import sys


def drop_colour_reset_at_exit() -> None:
    """Unregister colorama's exit handler if numba started it (nothing to reset: this package
    prints no colours); a no-op otherwise."""
    initialise = sys.modules.get("colorama.initialise")
    reset_all = getattr(initialise, "reset_all", None)
    if reset_all is not None:
        atexit.unregister(reset_all)
