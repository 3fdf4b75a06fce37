"""Reading structures (frames) from files with ASE, with errors that name the file.

Anything ``ase.io.read`` reads works: extended XYZ, VASP POSCAR/OUTCAR/XDATCAR, ASE
trajectories, ... On top of ASE's own detection this module recognises LAMMPS text dumps
(first line ``ITEM: TIMESTEP``, or names ``*.lammpstrj``/``*.dump``/``dump.*``) and LAMMPS
data files (``write_data`` header, or ``*.data``/``data.*``), which ASE only reads when told
the format. Coordinates are taken in Å: LAMMPS files must come from ``units metal`` or
``units real`` runs (both use Å); a dump that states another unit style, or a frame with atoms
closer than 0.5 Å, is refused (:mod:`lammps_quests.formats._lengths`, shared with OVITO).

A LAMMPS dump without an ``element`` (or ``mass``) column numbers its atom types; ASE reads
them as H, He, ... Where elements matter (``elements=``), they come from the rule of
:mod:`lammps_quests.formats._type_symbols`, shared with OVITO: given symbols name types 1, 2,
... in type-id order, and ``"auto"`` is an error for such a file, never H and He.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from lammps_quests.formats._lengths import check_frame_distances, check_unit_style

_DUMP_SUFFIXES = (".lammpstrj", ".dump")
_DATA_SUFFIXES = (".data", ".lmp")
_PEEK_BYTES = 4096


@dataclass(frozen=True)
class FrameSelection:
    """Frames picked from one file: which ones (0-based, stop excluded) out of how many."""

    start: int
    stop: int
    step: int
    of: int

    def as_dict(self) -> dict:
        return {"start": self.start, "stop": self.stop, "step": self.step, "of": self.of}


def parse_index(text) -> int | slice:
    """Turn an ASE-style frame selection into an int or slice.

    ``":"`` all frames, ``"-1"`` the last, ``"0"`` the first, ``"::10"`` every tenth,
    ``"100:"`` from frame 100 on (0-based, Python slicing).
    """
    if isinstance(text, (int, slice)):
        return text
    value = str(text).strip()
    try:
        if ":" not in value:
            return int(value)
        parts = value.split(":")
        if len(parts) > 3:
            raise ValueError
        numbers = [int(part) if part.strip() else None for part in parts]
    except ValueError:
        raise ValueError(
            f"frame index {text!r} is not an integer or a slice START:STOP:STEP "
            "(examples: ':' all, '-1' last, '::10' every tenth, '100:' from frame 100)"
        ) from None
    if len(numbers) == 3 and numbers[2] == 0:
        raise ValueError(f"frame index {text!r} has step 0; use a step >= 1, e.g. '::10'")
    return slice(*numbers)


def guess_format(path) -> str | None:
    """Format name for ASE, or None to let ASE decide (LAMMPS files are sniffed here)."""
    path = Path(path)
    name = path.name.lower()
    with open(path, "rb") as stream:
        head = stream.read(_PEEK_BYTES).decode("utf-8", errors="replace")
    first = head.lstrip().splitlines()[0] if head.strip() else ""
    if first.startswith(("ITEM: TIMESTEP", "ITEM: UNITS")) or name.endswith(_DUMP_SUFFIXES) \
            or name.startswith("dump."):
        return "lammps-dump-text"
    if "LAMMPS data file" in first or name.endswith(_DATA_SUFFIXES) or name.startswith("data."):
        return "lammps-data"
    return None


def read_frames(paths: str | os.PathLike | Iterable, index=":", format: str | None = None, elements=None):
    """Read the frames of one or several files.

    Each file is read whole and the selection applied afterwards, so that the provenance
    records exactly which frames (0-based numbers out of how many) were used.

    Args:
        paths: a file or a list of files.
        index: frame selection applied to each file (see :func:`parse_index`).
        format: ASE format name forcing the reader for all files, or None to detect it.
        elements: None when elements do not matter (species-agnostic use); ``"auto"`` to take
            them from the files (a LAMMPS dump without an element column is then an error
            naming the fix); or the elements of atom types 1, 2, ... ("In,P" or a sequence),
            applied to such dumps, in type-id order (files that name their elements keep them).

    Returns:
        (frames, sources): the list of ``ase.Atoms`` in file order, and one provenance dict
        per file (path, format, index, selected frames, number of frames and atoms, sha256 of
        the file) as :meth:`lammps_quests.formats.Reference.build` stores it.

    Raises:
        ValueError naming the file: missing or empty file, unreadable content, a selection
        that picks no frame, frames with no atoms, NaN positions, a degenerate periodic cell,
        lengths that cannot be Å, numbered atom types where elements are needed.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no input files given; pass at least one structure file")
    selection = parse_index(index)
    frames, sources = [], []
    for path in paths:
        file_frames, picked, fmt = _read_one(path, selection, format)
        if elements is not None and fmt == "lammps-dump-text" and _numbers_its_types(path):
            _name_types(path, file_frames, picked, elements)
        frames.extend(file_frames)
        sources.append(
            {
                "path": str(path.resolve()),
                "format": fmt,
                "index": index if isinstance(index, str) else str(index),
                "frames": picked.as_dict(),
                "n_frames": len(file_frames),
                "n_atoms": int(sum(len(frame) for frame in file_frames)),
                "file_sha256": _file_sha256(path),
            }
        )
    return frames, sources


def _read_one(path: Path, selection, format: str | None):
    """Read all frames of one file, then apply the selection (so frame numbers are exact)."""
    import ase.io

    if not path.exists():
        raise ValueError(f"{path}: no such file; check the path")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file; give structure files, not directories")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty; give a structure file with at least one frame")
    if _is_reference_file(path):
        raise ValueError(
            f"{path} is a reference file (.qref), not structures: give the structure files it was "
            f"built from, or pass it with -r/--reference where a command takes one; "
            f"`lammps-quests reference info {path}` prints its entropy"
        )
    fmt = format or guess_format(path)
    if fmt == "lammps-dump-text":
        check_unit_style(path, f"{path} is")
    try:
        every = ase.io.read(path, index=":", format=fmt)
    except Exception as error:  # ASE raises many types; all mean "could not parse this file"
        how = f"as {fmt}" if fmt else "(format detected by ASE)"
        raise ValueError(
            f"{path}: cannot read {how}: {type(error).__name__}: {error}. "
            "Check the file, or name its ASE format with --format (e.g. extxyz, lammps-dump-text, "
            "lammps-data, vasp)"
        ) from None
    if not isinstance(every, list):
        every = [every]
    total = len(every)
    if total == 0:
        how = f"as {fmt}" if fmt else "(format detected by ASE)"
        raise ValueError(
            f"{path}: cannot read {how}: no frames found. Check the file, or name its ASE format "
            "with --format (e.g. extxyz, lammps-dump-text, lammps-data, vasp)"
        )
    if isinstance(selection, int):
        if not -total <= selection < total:
            raise ValueError(f"{path}: frame index {selection} is out of range, the file has {total} frame(s)")
        numbers = range(selection % total, selection % total + 1)
    else:
        numbers = range(*selection.indices(total))
    picked = FrameSelection(numbers.start, numbers.stop, numbers.step, total)
    chosen = [every[number] for number in numbers]
    if not chosen:
        raise ValueError(
            f"{path}: frame index selects no frames (the file has {total}); "
            "adjust --index, e.g. ':' for all frames"
        )
    for number, frame in zip(numbers, chosen):
        _check_frame(path, number, frame)
    return chosen, picked, fmt or _detected_name(path)


def _check_frame(path: Path, number: int, frame) -> None:
    if len(frame) == 0:
        raise ValueError(f"{path}: frame {number} has no atoms; select other frames with --index")
    if not np.isfinite(frame.positions).all():
        raise ValueError(f"{path}: frame {number} has NaN or inf positions; the file is damaged")
    cell = np.asarray(frame.cell[:], dtype=float)
    for axis in np.nonzero(frame.pbc)[0]:
        if np.linalg.norm(cell[axis]) == 0.0:
            raise ValueError(
                f"{path}: frame {number} is periodic along axis {axis} but its cell vector is zero; "
                "fix the cell (e.g. the Lattice= field of extended XYZ) or mark the axis non-periodic"
            )
    periodic = np.nonzero(frame.pbc)[0]
    if periodic.size == 3 and abs(np.linalg.det(cell)) < 1e-12:
        raise ValueError(f"{path}: frame {number} has a periodic cell of zero volume; fix the cell")
    check_frame_distances(frame.positions, cell, frame.pbc, f"{path}: frame {number}")


def _numbers_its_types(path: Path) -> bool:
    """True for a LAMMPS text dump whose atoms have a ``type`` but no ``element`` or ``mass``
    column (ASE would read type 1 as H, type 2 as He, ...)."""
    with open(path, "rb") as stream:
        for line in stream:
            if line.startswith(b"ITEM: ATOMS"):
                columns = line.decode("utf-8", errors="replace").split()[2:]
                return "type" in columns and "element" not in columns and "mass" not in columns
    return False


_TYPE_HOW = ("a LAMMPS dump without an element column numbers its atom types, and ASE would read them "
             "as H, He, ...; give the elements of types 1, 2, ... in type-id order, e.g. --elements In,P "
             "(as fix quests's elements keyword), or write the dump with its elements "
             "(dump_modify ID element In P)")


def _name_types(path: Path, frames: list, picked: FrameSelection, elements) -> None:
    """Give the frames of a dump that numbers its types their elements (in place), by the rule
    of :mod:`lammps_quests.formats._type_symbols`; 'auto' cannot, so it is an error."""
    from lammps_quests.formats._type_symbols import type_symbols

    auto = isinstance(elements, str) and elements.strip().lower() == "auto"
    for number, frame in zip(range(picked.start, picked.stop, picked.step), frames):
        where = f"{path}: frame {number}"
        if "type" not in frame.arrays:
            raise ValueError(f"{where}: the atoms have no type column, so they have no elements; " + _TYPE_HOW)
        frame.set_chemical_symbols(type_symbols(frame.arrays["type"], {}, "" if auto else elements, where,
                                                "--elements", _TYPE_HOW))


def _is_reference_file(path: Path) -> bool:
    """True for a lammps-quests reference file (by its first bytes, whatever its name)."""
    from lammps_quests.formats._qref import MAGIC

    with open(path, "rb") as stream:
        return stream.read(len(MAGIC)) == MAGIC


def _detected_name(path: Path) -> str:
    from ase.io.formats import filetype

    try:
        return filetype(str(path))
    except Exception:
        return "unknown"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
