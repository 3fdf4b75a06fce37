"""Which element each OVITO particle type is, for species-aware references.

By default a type's name is its element (OVITO names the types of extended XYZ, POSCAR and
LAMMPS dumps with an ``element`` column after their elements). Files that number their types
(a LAMMPS dump with only ``type``) need the elements spelled out, in type-id order, as the
fix's ``elements`` keyword does: ``"In P"`` makes type 1 In and type 2 P.
"""

from __future__ import annotations

import numpy as np

from .frames import QuestsModifierError


def particle_symbols(type_ids, type_names: dict, elements: str, frame: int) -> list[str]:
    """Element symbol of every particle.

    Args:
        type_ids: (n,) OVITO particle type id of each particle, or None (no type property).
        type_names: {type id: name} of the particle types.
        elements: blank to use the type names, else element symbols separated by spaces or
            commas, one per type id 1, 2, ...
        frame: the frame number, for messages.

    Returns:
        n symbols; QuestsModifierError for a type that maps to no element.
    """
    from ase.data import chemical_symbols

    if type_ids is None:
        raise QuestsModifierError(f"frame {frame} has no Particle Type property, so the particles have no elements; "
                         "a species-aware reference needs them: load a file with types or elements")
    given = elements.replace(",", " ").split()
    for symbol in given:
        if symbol not in chemical_symbols[1:]:
            raise QuestsModifierError(f"'{symbol}' in the elements field ({elements!r}) is not an element symbol; "
                             "give one element per particle type, in type-id order, e.g. In P")
    symbol_of = {}
    for type_id in np.unique(type_ids):
        type_id = int(type_id)
        symbol_of[type_id] = _type_symbol(type_id, type_names.get(type_id, ""), given, elements, frame,
                                          chemical_symbols)
    return [symbol_of[int(t)] for t in type_ids]


def _type_symbol(type_id: int, name: str, given: list, elements: str, frame: int, chemical_symbols) -> str:
    if given:
        if not 1 <= type_id <= len(given):
            raise QuestsModifierError(
                f"frame {frame}: particle type {type_id} has no element in the elements field ({elements!r} "
                f"names types 1..{len(given)}); give one element per particle type, in type-id order")
        return given[type_id - 1]
    if name in chemical_symbols[1:]:
        return name
    shown = f"named '{name}'" if name else "without a name"
    raise QuestsModifierError(
        f"frame {frame}: particle type {type_id} ({shown}) is not an element, and the reference is "
        "species-aware; name the elements of the types in the modifier's elements field, in type-id "
        "order (e.g. In P), or rename the types in OVITO")
