"""The fast-dH index of a reference (``<reference>.qidx``): clusters and bounds, memory-mapped.

Built by ``lammps-quests reference build --fast-index`` (automatic from
``AUTO_INDEX_ENVIRONMENTS`` environments on) or ``lammps-quests reference index REF``, read by
``lammps-quests dh --fast`` and ``fix quests ... fast``. It holds a
:class:`lammps_quests.core.ClusterIndex` and is tied to the reference by the
sha256 of the reference's descriptors: an index of another (or a rebuilt) reference is refused.

A species-aware reference gets one cluster index per centre element
(:class:`lammps_quests.core._species_index.SpeciesClusterIndex`; its rows are already grouped by
element), stored in one file of format version 2; species-agnostic references keep version 1.

File layout, version 1::

    bytes 0-7     magic  b"QUESTIDX"
    bytes 8-11    format version, uint32 little-endian (1)
    bytes 12-15   header length L, uint32 little-endian
    bytes 16..    JSON header, UTF-8, padded with spaces to a 64-byte boundary
    then          the arrays, each at the 64-aligned offset its header entry gives

Version 2 (species-aware) has the same prefix and header; the header's ``"species"`` lists the
elements and ``"parts"`` holds, per element, its reference rows ``[first, last)`` and its own
array table (null for an element without rows), offsets counted from the same data start.

The arrays are mapped read-only (``np.memmap``, MAP_SHARED), so the MPI ranks of a node
share one copy in the page cache. The index holds a cluster-ordered copy of the reference's
rows: it is about as large as the reference file.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from lammps_quests.core._cluster_index import (
    ARRAY_NAMES,
    ClusterIndex,
    build_cluster_index,
)
from lammps_quests.core._species_index import SpeciesClusterIndex, build_species_cluster_index
from lammps_quests.errors import FastIndexError, QuestsInputError

MAGIC = b"QUESTIDX"
FORMAT_VERSION = 1  # species-agnostic references: one cluster index
SPECIES_FORMAT_VERSION = 2  # species-aware references: one cluster index per centre element
ALIGNMENT = 64
SUFFIX = ".qidx"
# References from this many environments on get a fast index at `reference build` by default.
AUTO_INDEX_ENVIRONMENTS = 100_000
# Like the reference file: arrays up to this size have their sha256 checked at every load.
AUTO_VERIFY_BYTES = 256 * 1024 * 1024
_PREFIX = struct.Struct("<8sII")
_DTYPES = {"center": "<f8", "centroids": "<f8", "offsets": "<i8", "order": "<i8", "columns": "<f8",
           "row_norm2": "<f8", "ring_lo": "<f8", "ring_hi": "<f8", "ring_count": "<i8"}


def fast_index_path(reference_path) -> Path:
    """Where the fast index of ``reference_path`` lives: ``<reference_path>.qidx``."""
    reference_path = Path(reference_path)
    return reference_path.with_name(reference_path.name + SUFFIX)


def _build_hint(reference) -> str:
    where = reference.path if reference.path is not None else "REF"
    return f"build it with `lammps-quests reference index {where}`"


def build_fast_index(reference, cluster_size: int | None = None, seed: int = 0, progress=None):
    """Cluster the reference's descriptors (see :func:`build_cluster_index`): a ClusterIndex,
    or for a species-aware reference a SpeciesClusterIndex (each element's rows clustered alone).
    ``progress``: None, or called with rows done; n_environments x (KMEANS_ITERATIONS + 1) in all."""
    if reference.species_aware:
        return build_species_cluster_index(reference.descriptors, reference.species_labels,
                                           len(reference.elements), cluster_size=cluster_size, seed=seed,
                                           progress=progress)
    return build_cluster_index(reference.descriptors, cluster_size=cluster_size, seed=seed, progress=progress)


def save_fast_index(fast_index, reference, path=None, cluster_size: int | None = None) -> Path:
    """Write ``fast_index`` of ``reference`` to ``path`` (default beside the reference file),
    atomically.

    ``fast_index``: a ClusterIndex (species-agnostic reference, format version 1) or a
    SpeciesClusterIndex (species-aware reference, format version 2)."""
    if path is None:
        if reference.path is None:
            raise QuestsInputError("the reference has no file; give the fast index a path")
        path = fast_index_path(reference.path)
    path = Path(path)
    if isinstance(fast_index, SpeciesClusterIndex) != reference.species_aware:
        raise QuestsInputError("a species-aware reference needs a per-element index (build_fast_index "
                               "builds the right kind), a species-agnostic one a single cluster index")
    parts = fast_index.parts if isinstance(fast_index, SpeciesClusterIndex) else (fast_index,)
    part_arrays = [None if part is None else _typed(part.arrays()) for part in parts]
    header = {
        "format": "lammps-quests fast dH index",
        "format_version": SPECIES_FORMAT_VERSION if reference.species_aware else FORMAT_VERSION,
        "reference_sha256": reference.sha256,
        "n_environments": reference.n_environments,
        "width": reference.width,
        "n_clusters": fast_index.n_clusters,
        "cluster_size": "auto" if cluster_size is None else int(cluster_size),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "sha256": _digest_parts(part_arrays),
    }
    layouts, offset = [], 0
    for arrays in part_arrays:
        layout, offset = _layout(arrays, offset)
        layouts.append(layout)
    if reference.species_aware:
        rows = fast_index.row_offsets
        header["species"] = list(reference.elements)
        header["parts"] = [{"species": name, "rows": [int(rows[s]), int(rows[s + 1])], "arrays": layouts[s]}
                           for s, name in enumerate(reference.elements)]
    else:
        header["arrays"] = layouts[0]
    text = _encode_header(header)
    _write_atomically(path, text, part_arrays, layouts, offset, header["format_version"], _reference_mode(reference))
    return path


def _typed(arrays: dict) -> dict:
    return {name: np.ascontiguousarray(value, dtype=_DTYPES[name]) for name, value in arrays.items()}


def _layout(arrays, offset: int) -> tuple[dict | None, int]:
    """Array table of one part from data offset ``offset``; (None, offset) for an empty part."""
    if arrays is None:
        return None, offset
    layout = {}
    for name, array in arrays.items():
        layout[name] = {"offset": offset, "dtype": _DTYPES[name], "shape": list(array.shape)}
        offset = _aligned(offset + array.nbytes)
    return layout, offset


def _write_atomically(path: Path, text: bytes, part_arrays, layouts, end: int, version: int,
                      mode: int) -> None:
    """Write the index to a temporary file beside ``path``, give it permission bits ``mode``, then
    rename it into place (readers never see a partial index)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(_PREFIX.pack(MAGIC, version, len(text)))
            stream.write(text)
            start = stream.tell()
            for arrays, layout in zip(part_arrays, layouts):
                for name, array in (arrays or {}).items():
                    stream.seek(start + layout[name]["offset"])
                    stream.write(memoryview(array).cast("B"))
            stream.truncate(start + end)
        os.chmod(tmp, mode)  # readable by whoever reads the reference
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _reference_mode(reference) -> int:
    """Permission bits of the reference file (0644 minus the umask without a file)."""
    path = getattr(reference, "path", None)  # in-memory references have no file
    if path is not None and os.path.exists(path):
        return os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o644 & ~umask


def load_fast_index(reference, path=None, verify: bool | None = None):
    """The fast index of ``reference``, memory-mapped from ``path`` (default beside it): a
    ClusterIndex, or for a species-aware reference a SpeciesClusterIndex (one per element).

    Raises FastIndexError if the file is missing, not an index, damaged, built for other
    descriptors (stale: the reference changed since) or of the wrong kind for the reference,
    each with the command that fixes it.
    """
    if path is None:
        if reference.path is None:
            raise FastIndexError("an in-memory reference has no fast index file; build one with "
                                 "lammps_quests.build_fast_index(reference)")
        path = fast_index_path(reference.path)
    path = Path(path)
    if not path.is_file():
        raise FastIndexError(f"fast dH index {path} does not exist; {_build_hint(reference)}")
    header, start = _read_header(path, reference)
    stored = header.get("reference_sha256")
    if stored != reference.sha256:
        raise FastIndexError(
            f"fast dH index {path} is stale: it was built for a reference with descriptors "
            f"sha256 {str(stored)[:12]}..., but {reference.path or 'the reference'} has "
            f"{reference.sha256[:12]}... (the reference was rebuilt or replaced); "
            f"{_build_hint(reference)}"
        )
    version = header["format_version"]
    if reference.species_aware and version != SPECIES_FORMAT_VERSION:
        raise FastIndexError(f"fast dH index {path} mixes the elements of the species-aware reference in one "
                             f"index (written by an older lammps-quests); it needs one index per element: "
                             f"{_build_hint(reference)}")
    if reference.species_aware:
        parts, rows = _map_parts(path, header, start, reference)
    else:
        parts, rows = [_map_arrays(path, header.get("arrays"), start)], [(0, reference.n_environments)]
    for arrays, (first, last) in zip(parts, rows):
        if arrays is not None and (arrays["columns"].shape != (reference.width, last - first)
                                   or arrays["offsets"][-1] != last - first):
            raise FastIndexError(f"fast dH index {path} is corrupt: its arrays do not match the reference "
                                 f"({reference.n_environments} x {reference.width}); {_build_hint(reference)}")
    if verify is None:
        verify = sum(a.nbytes for arrays in parts if arrays for a in arrays.values()) <= AUTO_VERIFY_BYTES
    if verify and _digest_parts(parts) != header.get("sha256"):
        raise FastIndexError(f"fast dH index {path} is corrupt: the sha256 of its arrays does not "
                             f"match its header; {_build_hint(reference)}")
    if not reference.species_aware:
        return ClusterIndex(**parts[0])
    offsets = np.array([first for first, _ in rows] + [rows[-1][1]], dtype=np.int64)
    return SpeciesClusterIndex(parts=tuple(None if a is None else ClusterIndex(**a) for a in parts),
                               row_offsets=offsets)


def _map_parts(path: Path, header: dict, start: int, reference) -> tuple[list, list]:
    """Arrays and reference rows of each element's part; checked against the reference."""
    table = header.get("parts")
    species = list(reference.elements)
    edges = np.concatenate([[0], np.cumsum(reference.species_counts)]).astype(int).tolist()
    expected = [[edges[s], edges[s + 1]] for s in range(len(species))]
    if (not isinstance(table, list) or [p.get("species") for p in table if isinstance(p, dict)] != species
            or [p.get("rows") for p in table] != expected):
        raise FastIndexError(f"fast dH index {path} does not match the reference's elements "
                             f"({', '.join(species)}) and their rows; {_build_hint(reference)}")
    parts = []
    for part, (first, last) in zip(table, expected):
        if (part["arrays"] is None) != (last == first):
            raise FastIndexError(f"fast dH index {path} has a corrupt header (part {part['species']})")
        parts.append(None if part["arrays"] is None else _map_arrays(path, part["arrays"], start))
    return parts, [tuple(rows) for rows in expected]


def _read_header(path: Path, reference) -> tuple[dict, int]:
    size = path.stat().st_size
    with open(path, "rb") as stream:
        prefix = stream.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
            raise FastIndexError(f"{path} is not a lammps-quests fast dH index; delete it and "
                                 f"{_build_hint(reference)}")
        _, version, length = _PREFIX.unpack(prefix)
        if version not in (FORMAT_VERSION, SPECIES_FORMAT_VERSION):
            raise FastIndexError(f"fast dH index {path} has format version {version}, this lammps-quests "
                                 f"reads {FORMAT_VERSION} and {SPECIES_FORMAT_VERSION}; {_build_hint(reference)}")
        if length > size - _PREFIX.size:
            raise FastIndexError(f"fast dH index {path} is truncated; {_build_hint(reference)}")
        raw = stream.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FastIndexError(f"fast dH index {path} has a corrupt header; {_build_hint(reference)}") from None
    if not isinstance(header, dict):
        raise FastIndexError(f"fast dH index {path} has a corrupt header; {_build_hint(reference)}")
    header["format_version"] = version
    return header, _PREFIX.size + length


def _map_arrays(path: Path, layout, start: int) -> dict[str, np.ndarray]:
    if not isinstance(layout, dict) or set(layout) != set(ARRAY_NAMES):
        raise FastIndexError(f"fast dH index {path} has a corrupt header (array table)")
    size = path.stat().st_size
    arrays = {}
    for name in ARRAY_NAMES:
        entry = layout[name]
        shape = tuple(entry["shape"])
        dtype = np.dtype(_DTYPES[name])
        end = start + entry["offset"] + dtype.itemsize * int(np.prod(shape))
        if entry["dtype"] != _DTYPES[name] or end > size:
            raise FastIndexError(f"fast dH index {path} is truncated or corrupt (array {name})")
        mapped = np.memmap(path, dtype=dtype, mode="r", offset=start + entry["offset"], shape=shape)
        arrays[name] = mapped.view(np.ndarray)  # plain arrays for the compiled kernels, still mapped
    return arrays


def _digest_parts(parts) -> str:
    """sha256 of every part's arrays in order (empty parts skipped): for one part, the sha256
    format version 1 has always stored."""
    digest = hashlib.sha256()
    for arrays in parts:
        for name in ARRAY_NAMES if arrays is not None else ():
            flat = arrays[name].reshape(-1)
            for s in range(0, flat.size, 1 << 22):
                digest.update(memoryview(np.ascontiguousarray(flat[s:s + (1 << 22)])).cast("B"))
    return digest.hexdigest()


def _encode_header(header: dict) -> bytes:
    text = json.dumps(header, indent=1).encode("utf-8")
    padded = _aligned(_PREFIX.size + len(text) + 1) - _PREFIX.size
    return text + b" " * (padded - len(text) - 1) + b"\n"


def _aligned(nbytes: int) -> int:
    return -(-nbytes // ALIGNMENT) * ALIGNMENT
