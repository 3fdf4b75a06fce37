#!/usr/bin/env bash
# Build the two references of in.inp_antisite from one short MD of perfect InP at 300 K (216
# atoms, SNAP+ZBL): frames of steps 100-300 (11 x 216 = 2,376 environments), once
# species-aware (--elements auto: In and P from the dump's element column) and once
# species-agnostic, for comparison. About 20 s on one core: InP SNAP costs ~190 us/atom-step.
set -euo pipefail
cd "$(dirname "$0")"
lmp -in in.crystal -log log.crystal
lammps-quests reference build inp_species.qref dump.crystal.lammpstrj --index '5:' --elements auto --force
lammps-quests reference build inp_agnostic.qref dump.crystal.lammpstrj --index '5:' --force
