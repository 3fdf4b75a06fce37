"""Building a reference from structures: descriptors of every atom, the elements, the
provenance of each row (source file, frames, row ranges), and the threshold guidance cached in
the header (:mod:`lammps_quests.core._threshold`). Units: positions and cutoffs in Å,
descriptors and bandwidths in Å^-1, dH in nats.
"""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from lammps_quests.core._species import check_labels
from lammps_quests.formats._qref import check_elements


def frame_descriptors(frames: list, k: int, cutoff: float, elements: tuple | None,
                      progress=None) -> tuple[np.ndarray, np.ndarray | None]:
    """(descriptors in Å^-1 of every atom of ``frames``, centre species numbers or None) for k
    neighbours within ``cutoff`` Å; elements None: species-agnostic. ``progress`` is called with
    the atoms done after each block of frames."""
    from lammps_quests.core._descriptors import descriptors as compute_descriptors
    from lammps_quests.core._descriptors import species_labels

    blocks, label_blocks = [], []
    for chunk in frame_chunks(frames):  # blocks of frames, for progress reports
        if elements is None:
            blocks.append(compute_descriptors(chunk, k=k, cutoff=cutoff))
        else:
            blocks.append(compute_descriptors(chunk, k=k, cutoff=cutoff, elements=elements))
            label_blocks.append(species_labels(chunk, elements))
        if progress is not None:
            progress(sum(len(frame) for frame in chunk))
    labels = np.concatenate(label_blocks) if elements is not None else None
    return np.concatenate(blocks), labels


def in_memory_sources(frames: list) -> list[dict]:
    """The provenance of frames given in memory (no file): one source holding them all."""
    return [
        {
            "path": None,
            "index": None,
            "n_frames": len(frames),
            "n_atoms": int(sum(len(frame) for frame in frames)),
        }
    ]


def threshold_guidance(reference, bandwidth: float, progress=None) -> dict:
    """The header entries of the threshold guidance every reader prints, computed once:
    species-aware references get one leave-one-out summary per centre element, against that
    element's environments; bandwidth in Å^-1."""
    from lammps_quests.core._threshold import HEADER_KEY, SPECIES_HEADER_KEY, self_information

    if reference.species_aware:
        return {SPECIES_HEADER_KEY: {name: self_information(rows, bandwidth, progress=progress)
                                     for name, rows in reference.element_rows()}}
    return {HEADER_KEY: self_information(reference.descriptors, bandwidth, progress=progress)}


def as_frame_list(frames) -> list:
    """``frames`` (one ``ase.Atoms`` or a sequence of them) as a non-empty list of non-empty frames."""
    from ase import Atoms

    frame_list = [frames] if isinstance(frames, Atoms) else list(frames)
    if not frame_list:
        raise ValueError("no frames given: a reference needs at least one structure")
    for number, frame in enumerate(frame_list):
        if not isinstance(frame, Atoms):
            raise ValueError(f"frame {number} is a {type(frame).__name__}, expected ase.Atoms")
        if len(frame) == 0:
            raise ValueError(f"frame {number} has no atoms; drop it from the input")
    return frame_list


def frame_chunks(frames: list, atoms_per_chunk: int = 20_000):
    """Consecutive blocks of frames of about ``atoms_per_chunk`` atoms (at least one frame)."""
    chunk, atoms = [], 0
    for frame in frames:
        chunk.append(frame)
        atoms += len(frame)
        if atoms >= atoms_per_chunk:
            yield chunk
            chunk, atoms = [], 0
    if chunk:
        yield chunk


def resolve_elements(elements, frames) -> tuple:
    """The ordered element symbols: ``"auto"`` = sorted chemical symbols of ``frames``, or given.

    Also accepts a comma-separated string ("In,P").
    """
    present = sorted({symbol for frame in frames for symbol in frame.get_chemical_symbols()})
    if isinstance(elements, str):
        if elements.strip().lower() == "auto":
            return tuple(present)
        elements = [word.strip() for word in elements.split(",") if word.strip()]
    elements = check_elements(elements)
    if not elements:
        raise ValueError("the elements list is empty; give element symbols like In,P or 'auto'")
    missing = [symbol for symbol in present if symbol not in elements]
    if missing:
        raise ValueError(
            f"the structures contain {', '.join(missing)}, which the elements "
            f"{','.join(elements)} lack; add them to the list or use 'auto'"
        )
    return elements


def rows_for_sources(sources: Sequence[dict] | None, n_rows: int) -> list[dict]:
    """Copy provenance dicts, adding each one's row range [start, stop) in the array."""
    if sources is None:
        return [{"path": None, "index": None, "n_atoms": n_rows, "rows": [0, n_rows]}]
    result, start = [], 0
    for source in sources:
        entry = dict(source)
        n_atoms = entry.get("n_atoms")
        if not isinstance(n_atoms, (int, np.integer)) or n_atoms < 0:
            raise ValueError(f"source {entry.get('path')!r} needs a non-negative integer 'n_atoms', got {n_atoms!r}")
        entry["n_atoms"] = int(n_atoms)
        entry["rows"] = [start, start + int(n_atoms)]
        start += int(n_atoms)
        result.append(entry)
    if start != n_rows:
        raise ValueError(
            f"sources account for {start} atoms but there are {n_rows} descriptors; "
            "give one source per input, with the number of atoms it contributed"
        )
    try:
        json.dumps(result)
    except TypeError as error:
        raise ValueError(f"sources must be JSON-serialisable (strings and numbers): {error}") from None
    return result


def rows_by_species(sources: list[dict], labels: np.ndarray, order: np.ndarray, species) -> None:
    """Replace each source's row range by one range per species (rows were grouped by species)."""
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    for source in sources:
        first, last = source["rows"]
        rows = {}
        for number, symbol in enumerate(species):
            mine = position[first:last][labels[first:last] == number]
            if mine.size:
                rows[symbol] = [int(mine.min()), int(mine.max()) + 1]
        source["rows"] = rows


def labels_of_rows(labels, n: int, n_species: int) -> np.ndarray:
    """The centre species number of each of the n rows, checked against S = ``n_species``."""
    if labels is None:
        raise ValueError("a species-aware reference needs species_labels, the centre species of every row")
    return check_labels(labels, n, n_species, "species_labels")


def describe_source(source: dict) -> str:
    path = source.get("path") or "(in-memory frames)"
    parts = [str(path)]
    if source.get("index") not in (None, ":"):
        parts.append(f"index {source['index']}")
    if source.get("frames"):
        parts.append(f"frames {_frame_ranges(source['frames'])}")
    if source.get("n_frames") is not None:
        parts.append(f"{source['n_frames']} frames")
    parts.append(f"{source.get('n_atoms')} atoms")
    rows = source.get("rows")
    if isinstance(rows, dict):
        parts.extend(f"{symbol} rows {a}-{b - 1}" for symbol, (a, b) in rows.items())
    elif rows:
        parts.append(f"rows {rows[0]}-{rows[1] - 1}")
    return ", ".join(parts)


def _frame_ranges(frames) -> str:
    """Compact text for a frame selection {"start", "stop", "step", "of"} (0-based, stop excluded)."""
    if isinstance(frames, dict):
        text = f"{frames.get('start')}:{frames.get('stop')}:{frames.get('step')}"
        return f"{text} of {frames['of']}" if "of" in frames else text
    return str(frames)


def creator() -> str:
    """Program and version that builds a reference, for its header."""
    try:
        from importlib.metadata import version

        return f"lammps-quests {version('lammps-quests')}"
    except Exception:  # running from a source tree that is not installed
        return "lammps-quests (source tree)"

