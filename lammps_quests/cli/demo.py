"""lammps-quests demo commands (registered on lammps_quests.cli.main)."""
