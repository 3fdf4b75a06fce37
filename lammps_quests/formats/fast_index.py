"""The fast-dH index of a reference (``<reference>.qidx``): clusters and bounds, memory-mapped.

Built by ``lammps-quests reference build --fast-index`` (automatic from
``AUTO_INDEX_ENVIRONMENTS`` environments on) or ``lammps-quests reference index REF``, read by
``lammps-quests dh --fast`` and ``fix quests ... fast``. It holds a
:class:`lammps_quests.core.cluster_index.ClusterIndex` and is tied to the reference by the
sha256 of the reference's descriptors: an index of another (or a rebuilt) reference is refused.

File layout, version 1::

    bytes 0-7     magic  b"QUESTIDX"
    bytes 8-11    format version, uint32 little-endian (1)
    bytes 12-15   header length L, uint32 little-endian
    bytes 16..    JSON header, UTF-8, padded with spaces to a 64-byte boundary
    then          the arrays, each at the 64-aligned offset its header entry gives

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

from lammps_quests.core.cluster_index import (
    ARRAY_NAMES,
    DEFAULT_CLUSTER_SIZE,
    ClusterIndex,
    build_cluster_index,
)

MAGIC = b"QUESTIDX"
FORMAT_VERSION = 1
ALIGNMENT = 64
SUFFIX = ".qidx"
# References from this many environments on get a fast index at `reference build` by default.
AUTO_INDEX_ENVIRONMENTS = 100_000
# Like the reference file: arrays up to this size have their sha256 checked at every load.
AUTO_VERIFY_BYTES = 256 * 1024 * 1024
_PREFIX = struct.Struct("<8sII")
_DTYPES = {"center": "<f8", "centroids": "<f8", "offsets": "<i8", "order": "<i8", "columns": "<f8",
           "row_norm2": "<f8", "ring_lo": "<f8", "ring_hi": "<f8", "ring_count": "<i8"}


class FastIndexError(ValueError):
    """A fast-dH index that cannot be used; the message names the file, problem and fix."""


def index_path(reference_path) -> Path:
    """Where the fast index of ``reference_path`` lives: ``<reference_path>.qidx``."""
    reference_path = Path(reference_path)
    return reference_path.with_name(reference_path.name + SUFFIX)


def _build_hint(reference) -> str:
    where = reference.path if reference.path is not None else "REF"
    return f"build it with `lammps-quests reference index {where}`"


def build_fast_index(reference, cluster_size: int = DEFAULT_CLUSTER_SIZE, seed: int = 0) -> ClusterIndex:
    """Cluster the reference's descriptors (see :func:`build_cluster_index`)."""
    return build_cluster_index(reference.descriptors, cluster_size=cluster_size, seed=seed)


def save_fast_index(index: ClusterIndex, reference, path=None, cluster_size=DEFAULT_CLUSTER_SIZE) -> Path:
    """Write ``index`` of ``reference`` to ``path`` (default beside the reference file), atomically."""
    if path is None:
        if reference.path is None:
            raise ValueError("the reference has no file; give the index a path")
        path = index_path(reference.path)
    path = Path(path)
    arrays = {name: np.ascontiguousarray(value, dtype=_DTYPES[name]) for name, value in index.arrays().items()}
    header = {
        "format": "lammps-quests fast dH index",
        "format_version": FORMAT_VERSION,
        "reference_sha256": reference.sha256,
        "n_environments": reference.n_environments,
        "width": reference.width,
        "n_clusters": index.n_clusters,
        "cluster_size": int(cluster_size),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "sha256": _digest(arrays),
    }
    layout, offset = {}, 0
    for name, array in arrays.items():
        layout[name] = {"offset": offset, "dtype": _DTYPES[name], "shape": list(array.shape)}
        offset = _aligned(offset + array.nbytes)
    text = _encode_header({**header, "arrays": layout})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(text)))
            stream.write(text)
            start = stream.tell()
            for name, array in arrays.items():
                stream.seek(start + layout[name]["offset"])
                stream.write(memoryview(array).cast("B"))
            stream.truncate(start + offset)
        os.chmod(tmp, _reference_mode(reference))  # readable by whoever reads the reference
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _reference_mode(reference) -> int:
    """Permission bits of the reference file (0644 minus the umask without a file)."""
    if reference.path is not None and os.path.exists(reference.path):
        return os.stat(reference.path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o644 & ~umask


def load_fast_index(reference, path=None, verify: bool | None = None) -> ClusterIndex:
    """The fast index of ``reference``, memory-mapped from ``path`` (default beside it).

    Raises FastIndexError if the file is missing, not an index, damaged, or built for other
    descriptors (stale: the reference changed since), each with the command that fixes it.
    """
    if path is None:
        if reference.path is None:
            raise FastIndexError("an in-memory reference has no fast index file; build one with "
                                 "lammps_quests.formats.fast_index.build_fast_index(reference)")
        path = index_path(reference.path)
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
    arrays = _map_arrays(path, header, start)
    n, width = reference.n_environments, reference.width
    if arrays["columns"].shape != (width, n) or arrays["offsets"][-1] != n:
        raise FastIndexError(f"fast dH index {path} is corrupt: its arrays do not match the reference "
                             f"({n} x {width}); {_build_hint(reference)}")
    if verify is None:
        verify = sum(a.nbytes for a in arrays.values()) <= AUTO_VERIFY_BYTES
    if verify and _digest(arrays) != header.get("sha256"):
        raise FastIndexError(f"fast dH index {path} is corrupt: the sha256 of its arrays does not "
                             f"match its header; {_build_hint(reference)}")
    return ClusterIndex(**arrays)


def _read_header(path: Path, reference) -> tuple[dict, int]:
    size = path.stat().st_size
    with open(path, "rb") as stream:
        prefix = stream.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size or prefix[:8] != MAGIC:
            raise FastIndexError(f"{path} is not a lammps-quests fast dH index; delete it and "
                                 f"{_build_hint(reference)}")
        _, version, length = _PREFIX.unpack(prefix)
        if version != FORMAT_VERSION:
            raise FastIndexError(f"fast dH index {path} has format version {version}, this lammps-quests "
                                 f"reads {FORMAT_VERSION}; {_build_hint(reference)}")
        if length > size - _PREFIX.size:
            raise FastIndexError(f"fast dH index {path} is truncated; {_build_hint(reference)}")
        raw = stream.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FastIndexError(f"fast dH index {path} has a corrupt header; {_build_hint(reference)}") from None
    return header, _PREFIX.size + length


def _map_arrays(path: Path, header: dict, start: int) -> dict[str, np.ndarray]:
    layout = header.get("arrays")
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


def _digest(arrays: dict) -> str:
    digest = hashlib.sha256()
    for name in ARRAY_NAMES:
        array = arrays[name]
        flat = array.reshape(-1)
        for s in range(0, flat.size, 1 << 22):
            digest.update(memoryview(np.ascontiguousarray(flat[s:s + (1 << 22)])).cast("B"))
    return digest.hexdigest()


def _encode_header(header: dict) -> bytes:
    text = json.dumps(header, indent=1).encode("utf-8")
    padded = _aligned(_PREFIX.size + len(text) + 1) - _PREFIX.size
    return text + b" " * (padded - len(text) - 1) + b"\n"


def _aligned(nbytes: int) -> int:
    return -(-nbytes // ALIGNMENT) * ALIGNMENT
