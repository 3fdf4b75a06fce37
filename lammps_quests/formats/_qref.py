"""The ``.qref`` file format: framing, JSON header, descriptor array (this module reads and writes
files; :mod:`._reference` holds the in-memory record, :mod:`._building` makes one from structures).

A reference is what ``fix quests`` compares each atom against: an (n, 2k-1) float64 array of
QUESTS descriptors (units Å^-1) together with the settings that produced it (k, cutoff in Å)
and the default kernel bandwidth (Å^-1).

File format (``.qref``), version 1
----------------------------------
::

    bytes 0-7     magic  b"QUESTREF"
    bytes 8-11    format version, uint32 little-endian (1)
    bytes 12-15   header length L in bytes, uint32 little-endian
    bytes 16..    JSON header, UTF-8, L bytes, padded with spaces so that it ends on a 64-byte
                  boundary
    data_offset   n x (2k-1) float64 little-endian, C order (row = one atomic environment)

Why this layout rather than ``.npy`` / ``.npz`` / HDF5:

* One file, memory-mappable as it is: ``np.memmap(path, mode="r", offset=data_offset)`` maps
  the array read-only with ``MAP_SHARED``, so every MPI rank on a node that loads the same
  reference shares one copy of its pages in the page cache instead of holding its own.
  A ``.npz`` is a zip archive that NumPy cannot map, a bare ``.npy`` has nowhere to keep
  k, cutoff, bandwidth and provenance, and HDF5 would add a dependency for one array.
* Self-describing and inspectable: the header is plain JSON (``head -c 4096 ref.qref``
  shows it) holding k, cutoff, bandwidth, descriptor version, length unit, shape, data offset,
  the sha256 of the descriptor bytes and the source files with their frame selections.
* The 64-byte aligned data offset keeps rows aligned for vectorised loops, and the exact
  file size is known from the header, so truncation is detected before any data is read.

Species-aware references add ``"descriptor_mode": "species"``, the ordered element list
``"species"`` and ``"species_counts"`` (rows centred on each species) to the header; the rows
are stored grouped by centre species in that order, so each species' environments are one
contiguous slice of the mapped array, and the width is (S + 1)(2k - 1) for S >= 2. Headers
without ``descriptor_mode`` are species-agnostic (``"agnostic"``).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from lammps_quests.core._neighbors import DESCRIPTOR_VERSION
from lammps_quests.core._species import descriptor_width
from lammps_quests.core._validation import check_bandwidths, check_cutoff, check_k
from lammps_quests.errors import ReferenceFileError

MAGIC = b"QUESTREF"
FORMAT_VERSION = 1
LENGTH_UNIT = "angstrom"
ALIGNMENT = 64
_PREFIX = struct.Struct("<8sII")  # magic, format version, header length
_MAX_HEADER_BYTES = 64 * 1024 * 1024
# Hashing runs at ~1.6 GB/s here; below this size it costs < 0.2 s, so load() does it by default.
AUTO_VERIFY_BYTES = 256 * 1024 * 1024
CHUNK_ROWS = 65536
_NPY_MAGIC = b"\x93NUMPY"

REBUILD_HINT = "rebuild it with `lammps-quests reference build OUT FILES...`"



def write(path: Path, header: dict, descriptors: np.ndarray) -> None:
    """Write a reference file atomically: a temporary file beside ``path``, renamed over it once
    complete, so an interrupted write never leaves a half-written reference behind."""
    payload = encode_header(header)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(payload)))
            out.write(payload)
            out.write(memoryview(np.ascontiguousarray(descriptors, dtype="<f8")).cast("B"))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def encode_header(header: dict) -> bytes:
    """JSON header padded with spaces (and a final newline) so the data start is 64-aligned."""
    offset = 0
    while True:  # the offset's own digits change the header length: iterate to a fixed point
        text = json.dumps({**header, "data_offset": offset}, indent=1).encode("utf-8")
        needed = _aligned(_PREFIX.size + len(text) + 1)
        if needed == offset:
            break
        offset = needed
    padding = offset - _PREFIX.size - len(text)
    return text + b" " * (padding - 1) + b"\n"


def _aligned(nbytes: int) -> int:
    """``nbytes`` rounded up to a multiple of ``ALIGNMENT``."""
    return -(-nbytes // ALIGNMENT) * ALIGNMENT


def read_header(path) -> tuple[dict, int]:
    """Return (header dict, data offset in bytes) of a reference file, checking the framing."""
    path = Path(path)
    if not path.exists():
        raise ReferenceFileError(
            f"reference file {path} does not exist (no such file); check the path or {REBUILD_HINT}"
        )
    if not path.is_file():
        raise ReferenceFileError(f"reference file {path} is not a regular file; give the .qref file")
    size = path.stat().st_size
    with open(path, "rb") as stream:
        prefix = stream.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            raise ReferenceFileError(
                f"reference file {path} is truncated: {size} bytes, shorter than the "
                f"{_PREFIX.size}-byte preamble; {REBUILD_HINT}"
            )
        magic, version, header_len = _PREFIX.unpack(prefix)
        if magic != MAGIC:
            raise ReferenceFileError(f"{path} is not a lammps-quests reference file: {_what_is(prefix)}")
        if version != FORMAT_VERSION:
            raise ReferenceFileError(
                f"reference file {path} has format version {version}, this lammps-quests reads "
                f"version {FORMAT_VERSION}; upgrade lammps-quests or {REBUILD_HINT}"
            )
        if header_len > min(_MAX_HEADER_BYTES, size - _PREFIX.size):
            raise ReferenceFileError(
                f"reference file {path} is truncated or corrupt: its header length ({header_len} "
                f"bytes) exceeds the file ({size} bytes); {REBUILD_HINT}"
            )
        raw = stream.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReferenceFileError(
            f"reference file {path} has a corrupt header (not valid JSON: {error}); {REBUILD_HINT}"
        ) from None
    if not isinstance(header, dict):
        raise ReferenceFileError(f"reference file {path} has a corrupt header (not a JSON object); {REBUILD_HINT}")
    data_offset = header.get("data_offset")
    if data_offset != _PREFIX.size + header_len or data_offset % ALIGNMENT:
        raise ReferenceFileError(
            f"reference file {path} has a corrupt header: data_offset {data_offset!r} does not "
            f"match the header length {header_len} (expected {_PREFIX.size + header_len}, "
            f"a multiple of {ALIGNMENT}); {REBUILD_HINT}"
        )
    return header, data_offset


def _what_is(prefix: bytes) -> str:
    if prefix.startswith(_NPY_MAGIC):
        return ("it is a NumPy .npy array; wrap descriptors with Reference.from_descriptors(...).save(path) or "
                + REBUILD_HINT)
    if prefix.startswith(b"PK"):
        return "it is a zip/.npz archive; " + REBUILD_HINT
    return (f"it starts with {prefix[:8]!r} instead of {MAGIC!r}; give a file written by Reference.save or "
            f"{REBUILD_HINT}")


def settings_from_header(path: Path, header: dict) -> tuple:
    """Check the header fields; return (k, cutoff Å, bandwidth Å^-1, n rows, width, species,
    rows per species)."""

    def fail(problem: str) -> ReferenceFileError:
        return ReferenceFileError(f"reference file {path} has a bad header: {problem}; {REBUILD_HINT}")

    required = ("descriptor_version", "length_unit", "k", "cutoff", "bandwidth", "shape", "dtype", "order",
                "n_environments")
    missing = [key for key in required if key not in header]
    if missing:
        raise fail(f"missing field(s) {', '.join(missing)}")
    if header["descriptor_version"] != DESCRIPTOR_VERSION:
        raise ReferenceFileError(
            f"reference file {path} holds descriptors of version {header['descriptor_version']!r}, "
            f"this lammps-quests computes version {DESCRIPTOR_VERSION}; dH against it would be "
            f"meaningless, {REBUILD_HINT}"
        )
    if header["length_unit"] != LENGTH_UNIT:
        raise fail(f"length unit {header['length_unit']!r}, only {LENGTH_UNIT!r} is supported")
    if header["dtype"] != "<f8" or header["order"] != "C":
        raise fail(f"data type {header['dtype']!r} order {header['order']!r}, expected '<f8' and 'C'")
    try:
        k = check_k(header["k"])
        cutoff = check_cutoff(header["cutoff"])
        bandwidth = float(check_bandwidths(header["bandwidth"])[0][0])
    except (TypeError, ValueError) as error:
        raise fail(str(error)) from None
    shape = header["shape"]
    integers = all(isinstance(s, int) and not isinstance(s, bool) for s in shape) if isinstance(shape, list) else False
    if not (isinstance(shape, list) and len(shape) == 2 and integers):
        raise fail(f"shape {shape!r} is not two integers")
    n, width = shape
    species, counts = _species_from_header(header, n, fail)
    expected = row_width(k, len(species))
    if width != expected:
        rule = (f"(S + 1)(2k-1) = {expected} for {len(species)} species" if len(species) > 1
                else f"2k-1 = {expected}")
        raise ReferenceFileError(
            f"reference file {path}: descriptor width {width} does not match k = {k} (width must "
            f"be {rule}); the header or data is inconsistent, {REBUILD_HINT}"
        )
    if n < 1 or header["n_environments"] != n:
        raise fail(f"n_environments {header['n_environments']!r} and shape {shape} disagree or are < 1")
    return k, cutoff, bandwidth, n, width, species, counts


def _species_from_header(header: dict, n: int, fail) -> tuple[tuple, tuple]:
    """(species, rows per species) of a header; ((), ()) for species-agnostic references."""
    mode = header.get("descriptor_mode", "agnostic")
    if mode == "agnostic":
        return (), ()
    if mode != "species":
        raise fail(f"descriptor_mode {mode!r}, expected 'agnostic' or 'species'")
    try:
        species = check_elements(header.get("species"))
    except ValueError as error:
        raise fail(str(error)) from None
    counts = header.get("species_counts")
    if not species or not (isinstance(counts, list) and len(counts) == len(species)
                            and all(isinstance(c, int) and c >= 0 for c in counts) and sum(counts) == n):
        raise fail(f"species {header.get('species')!r} with rows per species {counts!r} do not "
                   f"account for the {n} environments")
    return species, tuple(counts)


def read_array(path: Path, offset: int, n: int, width: int, mmap: bool) -> np.ndarray:
    """The (n, width) float64 rows at ``offset``: a read-only memory map, or a private read-only copy."""
    if mmap:
        return np.memmap(path, dtype="<f8", mode="r", offset=offset, shape=(n, width), order="C")
    with open(path, "rb") as stream:
        stream.seek(offset)
        X = np.fromfile(stream, dtype="<f8", count=n * width).reshape(n, width)
    X.setflags(write=False)
    return X


def row_width(k: int, n_species: int) -> int:
    """Descriptor width for k neighbours and S species (0: species-agnostic)."""
    return 2 * k - 1 if n_species == 0 else descriptor_width(k, n_species)


def check_elements(elements) -> tuple:
    """Ordered, distinct, non-empty element symbols (strings) as a tuple."""
    if elements is None:
        return ()
    elements = tuple(elements)
    if not all(isinstance(s, str) and s.strip() == s and s for s in elements):
        raise ValueError(f"elements must be element symbols (non-empty strings), got {list(elements)!r}")
    if len(set(elements)) != len(elements):
        raise ValueError(f"elements {list(elements)} name an element twice; list each element once")
    return elements


def array_problem(X: np.ndarray, k: int, n_species: int = 0) -> str:
    """Describe what makes X unusable as QUESTS descriptors of k neighbours, S species, or ''."""
    if X.ndim != 2:
        return f"expected a 2-d array, got {X.ndim}-d"
    if X.shape[1] != row_width(k, n_species):
        what = f"k = {k}" + (f" and {n_species} species" if n_species else "")
        return f"width {X.shape[1]} does not match {what} (expected {row_width(k, n_species)})"
    if X.shape[0] == 0:
        return "no environments (0 rows)"
    for start in range(0, X.shape[0], CHUNK_ROWS):  # chunks: no full-size temporaries
        block = np.asarray(X[start : start + CHUNK_ROWS])
        finite = np.isfinite(block)
        if not finite.all():
            row = start + int(np.nonzero(~finite.all(axis=1))[0][0])
            return f"descriptors contain NaN or inf (first at row {row})"
        if (block < 0).any():  # w(r) >= 0 and distances > 0, so every entry is >= 0
            row = start + int(np.nonzero((block < 0).any(axis=1))[0][0])
            return f"descriptors contain negative values (first at row {row}), impossible for QUESTS descriptors"
    return ""


def sha256_of(X: np.ndarray) -> str:
    """Hex sha256 of the descriptor bytes (little-endian float64, C order), hashed in blocks."""
    digest = hashlib.sha256()
    for start in range(0, X.shape[0], CHUNK_ROWS):
        block = np.ascontiguousarray(X[start : start + CHUNK_ROWS], dtype="<f8")
        digest.update(memoryview(block).cast("B"))
    return digest.hexdigest()

