"""Which element each numbered atom type is: one rule for every reader of untyped files.

A LAMMPS dump written without an ``element`` column (``dump ... id type x y z``) numbers its
atom types 1, 2, ... and says nothing about their elements (ASE then reads type 1 as H, type 2
as He). Every part of the package that needs elements from such a file (``reference build
--species``, ``entropy --species``, ``dh --species``, the OVITO modifier's ``elements`` field)
applies the rule below, which is also the one of ``fix quests ... elements``:

* a type whose name is an element symbol (OVITO names the types of a dump with an element
  column after them) is that element, unless elements are given;
* given elements name the types in type-id order: the first is type 1, the second type 2, ...;
* otherwise the type has no element, and that is an error naming the fix: it is never guessed.
"""

from __future__ import annotations

import numpy as np

from lammps_quests.errors import QuestsInputError


def given_elements(elements, field: str) -> list[str]:
    """The element symbols of ``elements`` ("In P", "In,P" or a sequence), checked.

    Args:
        elements: text of symbols separated by spaces or commas, or a sequence of symbols.
        field: how the user gave them, for messages (e.g. "the elements field", "--species").
    """
    from ase.data import chemical_symbols

    words = elements.replace(",", " ").split() if isinstance(elements, str) else [str(e) for e in elements]
    for symbol in words:
        if symbol not in chemical_symbols[1:]:
            raise QuestsInputError(f"'{symbol}' in {field} ({_shown(elements)}) is not an element symbol; "
                                   "give one element per atom type, in type-id order, e.g. In P")
    return words


def type_symbols(type_ids, type_names: dict, elements, where: str, field: str, how: str,
                 error=QuestsInputError, noun: str = "atom") -> list[str]:
    """Element symbol of every atom from its type id, by the rule of this module.

    Args:
        type_ids: (n,) integer type id of each atom.
        type_names: {type id: name}; names that are element symbols are used when no elements
            are given ({} for files that number their types).
        elements: the given elements of types 1, 2, ... (see :func:`given_elements`), or blank.
        where: the frame or file, for messages (e.g. "frame 3", "dump.inp frame 0").
        field: how elements are given, for messages (e.g. "the elements field", "--species").
        how: the fix to name when a type has no element (a sentence fragment).
        error: the exception class raised (a QuestsInputError).
        noun: what the types are of, for messages ("atom", OVITO's "particle").

    Returns:
        n element symbols.
    """
    from ase.data import chemical_symbols

    given = given_elements(elements or "", field)
    symbol_of = {}
    for type_id in np.unique(np.asarray(type_ids, dtype=np.int64)):
        type_id = int(type_id)
        if given:
            if not 1 <= type_id <= len(given):
                raise error(f"{where}: {noun} type {type_id} has no element in {field} ({_shown(elements)} "
                            f"names types 1..{len(given)}); give one element per {noun} type, in type-id order")
            symbol_of[type_id] = given[type_id - 1]
            continue
        name = type_names.get(type_id, "")
        if name not in chemical_symbols[1:]:
            shown = f"named '{name}'" if name else "without a name"
            raise error(f"{where}: {noun} type {type_id} ({shown}) is not an element; {how}")
        symbol_of[type_id] = name
    return [symbol_of[int(t)] for t in type_ids]


def _shown(elements) -> str:
    return repr(elements) if isinstance(elements, str) else repr(" ".join(map(str, elements)))
