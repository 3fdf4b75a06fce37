#!/usr/bin/env bash
# Prepare examples/cu_invoke: the reference cu_fcc.qref (a short MD of the FCC crystal, 300 -> 1000
# K, every frame of its dump: 21 x 256 = 5,376 environments) and quests.py, the file with which
# in.cu_invoke loads lammps-quests into LAMMPS's embedded Python (it records where lammps-quests
# is installed). Run it where the `lammps-quests` command works (its environment activated, or
# PATH=/path/to/env/bin:$PATH). LMP is the LAMMPS that runs the reference MD (default: Debian's).
set -euo pipefail
cd "$(dirname "$0")"
LMP=${LMP:-/usr/bin/lmp}
"$LMP" -in in.crystal -log log.crystal
lammps-quests reference build cu_fcc.qref dump.crystal.lammpstrj --force
lammps-quests invoke-script quests.py --force
