"""lammps-quests render commands (registered on lammps_quests.cli.main)."""
