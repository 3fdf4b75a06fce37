"""lammps-quests analysis commands (registered on lammps_quests.cli.main)."""
