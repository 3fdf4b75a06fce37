"""Which element each OVITO particle type is, for species-aware references.

By default a type's name is its element (OVITO names the types of extended XYZ, POSCAR and
LAMMPS dumps with an ``element`` column after their elements). Files that number their types
(a LAMMPS dump with only ``type``) need the elements spelled out, in type-id order, as the
fix's ``elements`` keyword does: ``"In P"`` makes type 1 In and type 2 P. The rule is
:mod:`lammps_quests.formats._type_symbols`, shared with the command line's ``--elements``.
"""

from __future__ import annotations

from lammps_quests.formats._type_symbols import type_symbols

from lammps_quests.errors import QuestsModifierError

_HOW = ("and the reference is species-aware; name the elements of the types in the modifier's elements "
        "field, in type-id order (e.g. In P), or rename the types in OVITO")


def particle_symbols(type_ids, type_names: dict, elements, frame: int) -> list[str]:
    """Element symbol of every particle.

    Args:
        type_ids: (n,) OVITO particle type id of each particle, or None (no type property).
        type_names: {type id: name} of the particle types.
        elements: blank to use the type names, else element symbols separated by spaces or
            commas (or a list of them), one per type id 1, 2, ...
        frame: the frame number, for messages.

    Returns:
        n symbols; QuestsModifierError for a type that maps to no element.
    """
    if type_ids is None:
        raise QuestsModifierError(f"frame {frame} has no Particle Type property, so the particles have no elements; "
                                  "a species-aware reference needs them: load a file with types or elements")
    try:
        return type_symbols(type_ids, type_names, elements, f"frame {frame}", "the elements field", _HOW,
                            error=QuestsModifierError, noun="particle")
    except QuestsModifierError:
        raise
    except ValueError as error:  # a bad symbol in the field
        raise QuestsModifierError(str(error)) from None
