"""``python -m lammps_quests``: the same as the ``lammps-quests`` command."""

from .cli import main

main()
