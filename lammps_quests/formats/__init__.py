"""File formats: structures (via ASE), `.qref` references, LAMMPS dumps, extended-XYZ frames."""
