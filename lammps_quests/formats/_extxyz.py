"""Extended-XYZ frames written at full precision (the format of `fix quests ... save`)."""

from __future__ import annotations

import numpy as np

from ._append import append_record


def write_extxyz_frame(path, species, positions, cell, pbc, columns: dict, info: dict) -> None:
    """Append one extended-XYZ frame with every float at full precision (17 digits).

    The frame is appended crash-safely: one write of its whole text, flushed to disk
    (:func:`lammps_quests.formats._append.append_record`).

    ``positions`` (n, 3) and ``cell`` (rows = lattice vectors) in Å; ``columns`` maps names to
    (n,) int or float arrays (written as I or R properties); ``info`` holds ints and strings
    (strings with spaces are quoted). ASE's writer keeps 8 decimals, too few to reproduce dH
    exactly.
    """
    properties = ["species:S:1", "pos:R:3"]
    arrays = []
    for name, values in columns.items():
        values = np.asarray(values)
        kind = "I" if np.issubdtype(values.dtype, np.integer) else "R"
        properties.append(f"{name}:{kind}:1")
        arrays.append(values)
    header = [
        'Lattice="' + " ".join(f"{v:.17g}" for v in np.asarray(cell, dtype=float).ravel()) + '"',
        "Properties=" + ":".join(properties),
        *(f"{key}={_info_value(value)}" for key, value in info.items()),
        'pbc="' + " ".join("T" if p else "F" for p in pbc) + '"',
    ]
    lines = [str(len(species)), " ".join(header)]
    for i, symbol in enumerate(species):
        fields = [symbol, *(f"{v:.17g}" for v in positions[i])]
        fields += [str(int(a[i])) if a.dtype.kind in "iu" else f"{a[i]:.17g}" for a in arrays]
        lines.append(" ".join(fields))
    append_record(path, "\n".join(lines) + "\n")


def _info_value(value) -> str:
    """An info value as extended XYZ writes it: strings with spaces in double quotes."""
    text = str(value)
    if isinstance(value, str) and (" " in text or "=" in text):
        if '"' in text:
            raise ValueError(f"an extended-XYZ info string cannot hold a double quote: {text!r}")
        return f'"{text}"'
    return text
