"""Which element each LAMMPS atom type is, for species-aware references.

LAMMPS types carry no element. ``fix quests ... elements El1 El2 ...`` names them in type order
(as ``pair_coeff * * file El1 El2`` does); without the keyword they come from the type masses
(g/mol): a type is the element whose standard atomic mass lies within 0.1 g/mol of its mass.
"""

from __future__ import annotations

import numpy as np

#: largest difference (g/mol) between a type's mass and an element's standard atomic mass
MASS_TOLERANCE = 0.1


def elements_from_masses(masses) -> list[str]:
    """Element symbol per atom type (list index 1..ntypes, index 0 unused), 'X' where no
    element's standard atomic mass lies within MASS_TOLERANCE g/mol of the type's mass."""
    from ase.data import atomic_masses, chemical_symbols

    symbols = ["X"]
    for mass in np.asarray(masses, dtype=float)[1:]:
        distance = np.abs(atomic_masses[1:] - mass)
        best = int(np.argmin(distance)) + 1
        symbols.append(chemical_symbols[best] if distance[best - 1] <= MASS_TOLERANCE else "X")
    return symbols


def type_elements(ntypes: int, masses, elements=None) -> list[str]:
    """Element per atom type (index 1..ntypes; index 0 unused), or ValueError naming the type.

    ``elements``: the fix's ``elements`` keyword (one symbol per type) or None to use ``masses``
    (g/mol, index 1..ntypes as LAMMPS stores them).
    """
    if elements is not None:
        if len(elements) != ntypes:
            raise ValueError(
                f"keyword elements names {len(elements)} element(s) ({' '.join(elements)}) but the "
                f"system has {ntypes} atom type(s); give one element per type, in type order"
            )
        return ["X", *elements]
    if masses is None:
        raise ValueError("the atom types have no masses yet; set them with the mass command or "
                         "give the elements keyword: elements El1 El2 ...")
    symbols = elements_from_masses(masses)
    for atom_type in range(1, ntypes + 1):
        if symbols[atom_type] == "X":
            mass = float(np.asarray(masses)[atom_type])
            raise ValueError(
                f"atom type {atom_type} has mass {mass:g} g/mol, which matches no element within "
                f"{MASS_TOLERANCE} g/mol; name the elements of the types with the keyword "
                "elements El1 El2 ... (in type order)"
            )
    return symbols


def elements_against_masses(elements, masses) -> str:
    """A warning when the ``elements`` keyword contradicts the type masses (g/mol, index
    1..ntypes): every type's mass matches an element and the two lists differ, as with
    ``elements P In`` for masses 114.818 and 30.974. '' otherwise (no masses, a type whose mass
    matches no element, e.g. a coarse or isotope mass, or agreement)."""
    if masses is None or len(masses) < len(elements) + 1:
        return ""
    from_masses = elements_from_masses(np.asarray(masses, dtype=float)[: len(elements) + 1])[1:]
    if "X" in from_masses or list(from_masses) == list(elements):
        return ""
    return (f"keyword elements names types 1..{len(elements)} {' '.join(elements)}, but their masses are "
            f"those of {' '.join(from_masses)}; the keyword is used: check its order (type order, as in "
            "pair_coeff)")


def type_species_numbers(symbols: list[str], species) -> np.ndarray:
    """Species number (index in ``species``) of each type (index 0 unused, -1): (ntypes + 1,)."""
    lookup = {symbol: number for number, symbol in enumerate(species)}
    return np.array([-1] + [lookup[symbol] for symbol in symbols[1:]], dtype=np.int64)
