"""LAMMPS glue: the Python side of `fix quests`, plugin location and loading, thread control."""
