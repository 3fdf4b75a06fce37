"""Reference sets: the descriptors of a potential's training environments, saved to one file.

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

Species-aware references (:mod:`lammps_quests.core.species`) add ``"descriptor_mode":
"species"``, the ordered element list ``"species"`` and ``"species_counts"`` (rows centred on
each species) to the header; the rows are stored grouped by centre species in that order, so
each species' environments are one contiguous slice of the mapped array, and the width is
(S + 1)(2k - 1) for S >= 2. Headers without ``descriptor_mode`` are species-agnostic
(``"agnostic"``), so files written before species-aware references existed stay valid.

:meth:`Reference.load` checks all of it and raises :class:`ReferenceFileError` (a
``ValueError``) whose message names the file, the problem and how to fix it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

# DESCRIPTOR_VERSION: version of the descriptor definition of the one kernel; a reference
# built with another version is refused instead of being compared with different numbers.
from lammps_quests.core.defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K
from lammps_quests.core.neighbors import DESCRIPTOR_VERSION
from lammps_quests.core.species import species_descriptor_width
from lammps_quests.core.validation import check_bandwidths, check_cutoff, check_k
from lammps_quests.errors import ReferenceFileError, ReferenceMismatchError

MAGIC = b"QUESTREF"
FORMAT_VERSION = 1
LENGTH_UNIT = "angstrom"
ALIGNMENT = 64
_PREFIX = struct.Struct("<8sII")  # magic, format version, header length
_MAX_HEADER_BYTES = 64 * 1024 * 1024
# Hashing runs at ~1.6 GB/s here; below this size it costs < 0.2 s, so load() does it by default.
AUTO_VERIFY_BYTES = 256 * 1024 * 1024
_CHUNK_ROWS = 65536
_NPY_MAGIC = b"\x93NUMPY"

_REBUILD_HINT = "rebuild it with `lammps-quests reference build OUT FILES...`"


# Cutoffs (Å) that agree to this relative tolerance are the same cutoff: a value typed in a
# deck or on a command line (5.0000000001) matches a 5.0 Å reference, 5.001 does not.
CUTOFF_REL_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class Reference:
    """QUESTS descriptors of reference environments plus the settings that made them.

    Attributes:
        descriptors: (n_environments, 2k-1) float64 array in Å^-1, read-only (a read-only
            ``np.memmap`` when loaded with ``mmap=True``).
        k: number of neighbours in the descriptor.
        cutoff: descriptor cutoff radius in Å.
        bandwidth: default Gaussian kernel bandwidth in Å^-1 for dH against this reference.
        sources: provenance, one dict per input (path, frame selection, frames, atoms, rows).
        sha256: hex sha256 of the descriptor bytes (little-endian float64, C order).
        descriptor_version: version of the descriptor definition (``DESCRIPTOR_VERSION``).
        length_unit: always ``"angstrom"``.
        path: file it was loaded from or last saved to, else None.
        created: ISO-8601 UTC time of the build, "" if unknown.
        created_by: program and version that built it ("" = this one).
        species: ordered element symbols of a species-aware reference
            (:mod:`lammps_quests.core.species`, width (S + 1)(2k - 1) for S >= 2); empty for a
            species-agnostic one. Rows are grouped by centre species in this order.
        species_counts: number of rows centred on each species (same order).
    """

    descriptors: np.ndarray
    k: int
    cutoff: float
    bandwidth: float
    sources: tuple = ()
    sha256: str = ""
    descriptor_version: int = DESCRIPTOR_VERSION
    length_unit: str = LENGTH_UNIT
    path: Path | None = None
    created: str = ""
    created_by: str = ""
    extra: dict = field(default_factory=dict)
    species: tuple = ()
    species_counts: tuple = ()

    # ----------------------------------------------------------------- construction
    @classmethod
    def build(
        cls,
        frames,
        k: int = DEFAULT_K,
        cutoff: float = DEFAULT_CUTOFF,
        bandwidth: float = DEFAULT_BANDWIDTH,
        sources: Sequence[dict] | None = None,
        species=None,
        progress=None,
        guidance_progress=None,
    ) -> "Reference":
        """Compute the descriptors of every atom of ``frames`` and wrap them as a reference.

        Args:
            frames: one ``ase.Atoms`` or a sequence of them (positions in Å).
            k: neighbours per descriptor (width 2k-1).
            cutoff: descriptor cutoff in Å.
            bandwidth: default kernel bandwidth in Å^-1 stored with the reference.
            sources: provenance dicts, one per input file, each with at least ``n_atoms``
                (total atoms it contributed, in the order of ``frames``); see
                :func:`lammps_quests.formats.structures.read_frames`. None records "in-memory frames".
            species: None for species-agnostic descriptors; ``"auto"`` (the chemical symbols of
                the frames, sorted) or a list of element symbols for species-aware ones.
            progress: called with the number of atoms done after each block of frames (e.g.
                a progress bar's ``update``); None for none.
            guidance_progress: likewise for the threshold guidance below, with rows done
                (``core.self_information.rows_used`` of each element's rows, or of all, in all).

        The reference also gets the leave-one-out dH summary and its entropy in
        ``extra["self_information"]`` (species-aware: one summary per centre element in
        ``extra["self_information_per_species"]``), written to the file header by :meth:`save`.
        """
        from lammps_quests.core.descriptors import descriptors as compute_descriptors
        from lammps_quests.core.descriptors import species_labels

        frame_list = _as_frame_list(frames)
        k, cutoff, bandwidth = _check_settings(k, cutoff, bandwidth)
        labels = None
        if species is not None:
            species = resolve_species(species, frame_list)
        blocks, label_blocks = [], []
        for chunk in _frame_chunks(frame_list):  # blocks of frames, for progress reports
            if species is None:
                blocks.append(compute_descriptors(chunk, k=k, cutoff=cutoff))
            else:
                blocks.append(compute_descriptors(chunk, k=k, cutoff=cutoff, species=species))
                label_blocks.append(species_labels(chunk, species))
            if progress is not None:
                progress(sum(len(frame) for frame in chunk))
        X = np.concatenate(blocks)
        if species is not None:
            labels = np.concatenate(label_blocks)
        if sources is None:
            sources = [
                {
                    "path": None,
                    "index": None,
                    "n_frames": len(frame_list),
                    "n_atoms": int(sum(len(frame) for frame in frame_list)),
                }
            ]
        reference = cls.from_descriptors(X, k=k, cutoff=cutoff, bandwidth=bandwidth, sources=sources,
                                         species=species or (), species_labels=labels)
        # the threshold guidance every reader prints, cached once: species-aware references get
        # one leave-one-out summary per centre element, against that element's environments
        from lammps_quests.core.self_information import HEADER_KEY, SPECIES_HEADER_KEY, self_information

        if reference.species_aware:
            reference.extra[SPECIES_HEADER_KEY] = {name: self_information(rows, bandwidth,
                                                                          progress=guidance_progress)
                                                   for name, rows in reference.element_rows()}
        else:
            reference.extra[HEADER_KEY] = self_information(reference.descriptors, bandwidth,
                                                           progress=guidance_progress)
        return reference

    @classmethod
    def from_descriptors(
        cls,
        descriptors,
        k: int,
        cutoff: float,
        bandwidth: float = DEFAULT_BANDWIDTH,
        sources: Sequence[dict] | None = None,
        species: Sequence[str] = (),
        species_labels=None,
    ) -> "Reference":
        """Wrap an existing descriptor array (Å^-1) computed with ``k``, ``cutoff`` Å.

        Species-agnostic: (n, 2k-1). Species-aware: ``species`` (S element symbols) and
        ``species_labels`` (n,) centre species numbers; (n, (S + 1)(2k - 1)) descriptors, whose
        rows are stored grouped by species (stable order within a species).
        """
        k, cutoff, bandwidth = _check_settings(k, cutoff, bandwidth)
        species = _check_species(species)
        X = np.array(descriptors, dtype="<f8", order="C", copy=True)
        problem = _array_problem(X, k, len(species))
        if problem:
            raise ValueError(f"descriptors cannot form a reference: {problem}")
        counts: tuple = ()
        order = None
        if species:
            labels = _check_labels(species_labels, X.shape[0], len(species))
            order = np.argsort(labels, kind="stable")
            X = np.ascontiguousarray(X[order])
            counts = tuple(int(c) for c in np.bincount(labels, minlength=len(species)))
        X.setflags(write=False)
        source_list = _rows_for_sources(sources, X.shape[0])
        if species:
            _rows_by_species(source_list, labels, order, species)
        return cls(
            descriptors=X,
            k=k,
            cutoff=cutoff,
            bandwidth=bandwidth,
            sources=tuple(source_list),
            sha256=_sha256(X),
            created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            species=species,
            species_counts=counts,
        )

    # ----------------------------------------------------------------- properties
    @property
    def n_environments(self) -> int:
        """Number of reference environments (rows)."""
        return int(self.descriptors.shape[0])

    @property
    def width(self) -> int:
        """Descriptor length: 2k - 1, or (S + 1)(2k - 1) for a species-aware reference of S >= 2."""
        return _width(self.k, len(self.species))

    @property
    def species_aware(self) -> bool:
        """True when the reference records its species (descriptor mode "species")."""
        return bool(self.species)

    @property
    def species_labels(self) -> np.ndarray:
        """Centre species number of every row (rows are grouped by species)."""
        return np.repeat(np.arange(len(self.species), dtype=np.int64), self.species_counts)

    def element_rows(self):
        """(element, its rows of the descriptors, a view) of a species-aware reference, for the
        elements with rows, in the reference's order."""
        start = 0
        for name, count in zip(self.species, self.species_counts):
            if count:
                yield name, self.descriptors[start:start + count]
            start += count

    def header(self) -> dict[str, Any]:
        """The JSON header written to the file (without the data offset)."""
        return {
            "format": "lammps-quests reference",
            "format_version": FORMAT_VERSION,
            "descriptor": "quests",
            "descriptor_version": self.descriptor_version,
            "descriptor_mode": "species" if self.species else "agnostic",
            **({"species": list(self.species), "species_counts": list(self.species_counts)}
               if self.species else {}),
            "length_unit": self.length_unit,
            "descriptor_unit": "1/angstrom",
            "bandwidth_unit": "1/angstrom",
            "k": self.k,
            "cutoff": self.cutoff,
            "bandwidth": self.bandwidth,
            "n_environments": self.n_environments,
            "shape": [self.n_environments, self.width],
            "dtype": "<f8",
            "order": "C",
            "sha256": self.sha256,
            "sources": list(self.sources),
            "created": self.created,
            "created_by": self.created_by or _creator(),
            **self.extra,
        }

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return (
            f"Reference(n_environments={self.n_environments}, k={self.k}, cutoff={self.cutoff} Å, "
            f"bandwidth={self.bandwidth} Å^-1{where})"
        )

    # ----------------------------------------------------------------- save / load
    def save(self, path) -> Path:
        """Write the reference to ``path`` (atomically: a temporary file renamed over it).

        Returns the path. An existing file at ``path`` is replaced only once the new file is
        complete, so an interrupted save never leaves a half-written reference behind.
        """
        path = Path(path)
        header = self.header()
        payload = _encode_header(header)
        directory = path.parent if str(path.parent) else Path(".")
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(payload)))
                out.write(payload)
                out.write(memoryview(np.ascontiguousarray(self.descriptors, dtype="<f8")).cast("B"))
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, path)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise
        object.__setattr__(self, "path", path)
        return path

    @classmethod
    def load(cls, path, mmap: bool = True, verify_hash: bool | None = None) -> "Reference":
        """Read and check a reference file.

        Args:
            path: the ``.qref`` file.
            mmap: map the descriptors read-only (shared between processes) instead of reading
                them into private memory.
            verify_hash: compare the sha256 of the data with the header's. None (default)
                checks files whose data is at most 256 MiB (< 0.2 s); True/False force it.

        Raises:
            ReferenceFileError: missing, truncated or corrupt file, unknown
                format or descriptor version, width not 2k-1, NaN/inf or negative descriptors,
                hash mismatch. The message names the file, the problem and the fix.
        """
        path = Path(path)
        header, data_offset = read_header(path)
        k, cutoff, bandwidth, n, width, species, counts = _settings_from_header(path, header)
        expected_size = data_offset + n * width * 8
        actual_size = path.stat().st_size
        if actual_size != expected_size:
            kind = "truncated" if actual_size < expected_size else "longer than its header says"
            raise ReferenceFileError(
                f"reference file {path} is {kind}: {actual_size} bytes, but its header "
                f"({n} environments x {width} float64 after offset {data_offset}) needs "
                f"{expected_size}; the copy is incomplete or damaged, copy it again or {_REBUILD_HINT}"
            )
        X = _read_array(path, data_offset, n, width, mmap)
        problem = _array_problem(X, k, len(species))
        if problem:
            raise ReferenceFileError(f"reference file {path} is corrupt: {problem}; {_REBUILD_HINT}")
        stored_hash = header.get("sha256")
        if not isinstance(stored_hash, str) or len(stored_hash) != 64:
            raise ReferenceFileError(
                f"reference file {path} has no valid 'sha256' in its header; {_REBUILD_HINT}"
            )
        if verify_hash is None:
            verify_hash = n * width * 8 <= AUTO_VERIFY_BYTES
        if verify_hash and _sha256(X) != stored_hash:
            raise ReferenceFileError(
                f"reference file {path} is corrupt: the sha256 of its descriptors does not match "
                f"the header ({stored_hash[:12]}...); the data were altered after saving, {_REBUILD_HINT}"
            )
        known = {
            "format", "format_version", "descriptor", "descriptor_version", "length_unit",
            "descriptor_unit", "bandwidth_unit", "k", "cutoff", "bandwidth", "n_environments",
            "shape", "dtype", "order", "sha256", "sources", "created", "created_by", "data_offset",
            "descriptor_mode", "species", "species_counts",
        }
        extra = {key: value for key, value in header.items() if key not in known}
        return cls(
            descriptors=X,
            k=k,
            cutoff=cutoff,
            bandwidth=bandwidth,
            sources=tuple(header.get("sources") or ()),
            sha256=stored_hash,
            descriptor_version=int(header["descriptor_version"]),
            length_unit=header["length_unit"],
            path=path,
            created=str(header.get("created", "")),
            created_by=str(header.get("created_by", "")),
            extra=extra,
            species=species,
            species_counts=counts,
        )

    def check(self, k: int | None = None, cutoff: float | None = None, *, species=None,
              by: str = "the request", remedy: str = "map the atom types to elements the reference knows") -> None:
        """Refuse settings that would make descriptors incomparable with this reference.

        Args:
            k: neighbours per descriptor asked for; None skips the check.
            cutoff: descriptor cutoff in Å asked for; None skips the check. Equal to the
                reference's within a relative tolerance of ``CUTOFF_REL_TOL`` (1e-9).
            species: element symbols that will be compared with this reference (e.g. the fix's
                atom types); None skips the check. A species-aware reference must hold
                environments centred on each of them; a species-agnostic one accepts any.
            by: who asks, for the message (e.g. "the fix", "--cutoff").
            remedy: the other fix for an element the reference lacks, in the asker's terms (LAMMPS
                maps atom types to elements; ASE atoms carry their chemical symbols).

        Raises:
            ReferenceMismatchError: a setting differs; the message names the reference, both
                values and the fix (rebuild the reference with the asked value, or drop the option).
        """
        where = f"reference {self.path}" if self.path is not None else "the reference"
        if k is not None and check_k(k) != self.k:
            raise ReferenceMismatchError(
                f"{where} was built with k = {self.k}, but {by} asks for k = {k}; descriptors of "
                f"different k cannot be compared: rebuild the reference with --k {k} "
                "(`lammps-quests reference build --k ...`) or drop the k option"
            )
        if cutoff is not None and not math.isclose(check_cutoff(cutoff), self.cutoff, rel_tol=CUTOFF_REL_TOL):
            raise ReferenceMismatchError(
                f"{where} was built with cutoff = {self.cutoff} Å, but {by} asks for cutoff = "
                f"{cutoff} Å; rebuild the reference with --cutoff {cutoff} "
                "(`lammps-quests reference build --cutoff ...`) or drop the cutoff option"
            )
        if species is not None and self.species:
            held = {s for s, n in zip(self.species, self.species_counts) if n > 0}
            missing = [s for s in dict.fromkeys(species) if s not in held]
            if missing:
                raise ReferenceMismatchError(
                    f"{where} holds environments centred on {', '.join(sorted(held))} only, but "
                    f"{by} has {', '.join(missing)}: rebuild the reference with structures "
                    f"containing {', '.join(missing)} (`lammps-quests reference build --species ...`) "
                    f"or {remedy}"
                )

    def verify(self) -> None:
        """Recompute the sha256 of the descriptors; raise ReferenceFileError on mismatch."""
        if _sha256(self.descriptors) != self.sha256:
            where = self.path if self.path is not None else "in-memory reference"
            raise ReferenceFileError(
                f"reference {where}: sha256 of the descriptors does not match the recorded one; "
                f"{_REBUILD_HINT}"
            )

    def summary(self) -> str:
        """Human-readable description (what ``lammps-quests reference info`` prints)."""
        nbytes = self.n_environments * self.width * 8
        lines = [
            f"file:              {self.path if self.path else '(not saved)'}",
            f"environments:      {self.n_environments}",
            f"descriptor:        QUESTS version {self.descriptor_version}, k = {self.k}, "
            f"width {self.width}, cutoff {self.cutoff:g} Å",
            f"species:           {self._species_text()}",
            f"bandwidth:         {self.bandwidth:g} Å^-1 (default for fix quests)",
            f"length unit:       {self.length_unit}",
            f"data:              {nbytes / 2**20:.2f} MiB float64",
            f"sha256:            {self.sha256}",
            f"created:           {self.created or 'unknown'}",
            "sources:",
        ]
        for source in self.sources:
            lines.append("  " + _describe_source(source))
        return "\n".join(lines)

    def _species_text(self) -> str:
        if not self.species:
            return "agnostic (descriptors see geometry only)"
        rows = ", ".join(f"{s} {n}" for s, n in zip(self.species, self.species_counts))
        return f"{' '.join(self.species)} (species-aware; environments per centre: {rows})"


# --------------------------------------------------------------------- header I/O
def _encode_header(header: dict) -> bytes:
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
    return -(-nbytes // ALIGNMENT) * ALIGNMENT


def read_header(path) -> tuple[dict, int]:
    """Return (header dict, data offset in bytes) of a reference file, checking the framing."""
    path = Path(path)
    if not path.exists():
        raise ReferenceFileError(
            f"reference file {path} does not exist (no such file); check the path or {_REBUILD_HINT}"
        )
    if not path.is_file():
        raise ReferenceFileError(f"reference file {path} is not a regular file; give the .qref file")
    size = path.stat().st_size
    with open(path, "rb") as stream:
        prefix = stream.read(_PREFIX.size)
        if len(prefix) < _PREFIX.size:
            raise ReferenceFileError(
                f"reference file {path} is truncated: {size} bytes, shorter than the "
                f"{_PREFIX.size}-byte preamble; {_REBUILD_HINT}"
            )
        magic, version, header_len = _PREFIX.unpack(prefix)
        if magic != MAGIC:
            raise ReferenceFileError(f"{path} is not a lammps-quests reference file: {_what_is(prefix)}")
        if version != FORMAT_VERSION:
            raise ReferenceFileError(
                f"reference file {path} has format version {version}, this lammps-quests reads "
                f"version {FORMAT_VERSION}; upgrade lammps-quests or {_REBUILD_HINT}"
            )
        if header_len > min(_MAX_HEADER_BYTES, size - _PREFIX.size):
            raise ReferenceFileError(
                f"reference file {path} is truncated or corrupt: its header length ({header_len} "
                f"bytes) exceeds the file ({size} bytes); {_REBUILD_HINT}"
            )
        raw = stream.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReferenceFileError(
            f"reference file {path} has a corrupt header (not valid JSON: {error}); {_REBUILD_HINT}"
        ) from None
    if not isinstance(header, dict):
        raise ReferenceFileError(f"reference file {path} has a corrupt header (not a JSON object); {_REBUILD_HINT}")
    data_offset = header.get("data_offset")
    if data_offset != _PREFIX.size + header_len or data_offset % ALIGNMENT:
        raise ReferenceFileError(
            f"reference file {path} has a corrupt header: data_offset {data_offset!r} does not "
            f"match the header length {header_len} (expected {_PREFIX.size + header_len}, "
            f"a multiple of {ALIGNMENT}); {_REBUILD_HINT}"
        )
    return header, data_offset


def _what_is(prefix: bytes) -> str:
    if prefix.startswith(_NPY_MAGIC):
        return ("it is a NumPy .npy array; wrap descriptors with Reference.from_descriptors(...).save(path) or "
                + _REBUILD_HINT)
    if prefix.startswith(b"PK"):
        return "it is a zip/.npz archive; " + _REBUILD_HINT
    return (f"it starts with {prefix[:8]!r} instead of {MAGIC!r}; give a file written by Reference.save or "
            f"{_REBUILD_HINT}")


def _settings_from_header(path: Path, header: dict) -> tuple:
    """Check the header fields; return (k, cutoff Å, bandwidth Å^-1, n rows, width, species,
    rows per species)."""

    def fail(problem: str) -> ReferenceFileError:
        return ReferenceFileError(f"reference file {path} has a bad header: {problem}; {_REBUILD_HINT}")

    required = ("descriptor_version", "length_unit", "k", "cutoff", "bandwidth", "shape", "dtype", "order",
                "n_environments")
    missing = [key for key in required if key not in header]
    if missing:
        raise fail(f"missing field(s) {', '.join(missing)}")
    if header["descriptor_version"] != DESCRIPTOR_VERSION:
        raise ReferenceFileError(
            f"reference file {path} holds descriptors of version {header['descriptor_version']!r}, "
            f"this lammps-quests computes version {DESCRIPTOR_VERSION}; dH against it would be "
            f"meaningless, {_REBUILD_HINT}"
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
    expected = _width(k, len(species))
    if width != expected:
        rule = (f"(S + 1)(2k-1) = {expected} for {len(species)} species" if len(species) > 1
                else f"2k-1 = {expected}")
        raise ReferenceFileError(
            f"reference file {path}: descriptor width {width} does not match k = {k} (width must "
            f"be {rule}); the header or data is inconsistent, {_REBUILD_HINT}"
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
        species = _check_species(header.get("species"))
    except ValueError as error:
        raise fail(str(error)) from None
    counts = header.get("species_counts")
    if not species or not (isinstance(counts, list) and len(counts) == len(species)
                            and all(isinstance(c, int) and c >= 0 for c in counts) and sum(counts) == n):
        raise fail(f"species {header.get('species')!r} with rows per species {counts!r} do not "
                   f"account for the {n} environments")
    return species, tuple(counts)


def _read_array(path: Path, offset: int, n: int, width: int, mmap: bool) -> np.ndarray:
    if mmap:
        return np.memmap(path, dtype="<f8", mode="r", offset=offset, shape=(n, width), order="C")
    with open(path, "rb") as stream:
        stream.seek(offset)
        X = np.fromfile(stream, dtype="<f8", count=n * width).reshape(n, width)
    X.setflags(write=False)
    return X


# --------------------------------------------------------------------- checks and helpers
def _check_settings(k, cutoff, bandwidth) -> tuple[int, float, float]:
    values, scalar = check_bandwidths(bandwidth)
    if not scalar:
        raise ValueError(f"a reference stores one default bandwidth (Å^-1), got {bandwidth!r}")
    return check_k(k), check_cutoff(cutoff), float(values[0])


def _width(k: int, n_species: int) -> int:
    """Descriptor width for k neighbours and S species (0: species-agnostic)."""
    return 2 * k - 1 if n_species == 0 else species_descriptor_width(k, n_species)


def _check_species(species) -> tuple:
    """Ordered, distinct, non-empty element symbols (strings) as a tuple."""
    if species is None:
        return ()
    species = tuple(species)
    if not all(isinstance(s, str) and s.strip() == s and s for s in species):
        raise ValueError(f"species must be element symbols (non-empty strings), got {list(species)!r}")
    if len(set(species)) != len(species):
        raise ValueError(f"species {list(species)} name an element twice; list each element once")
    return species


def _check_labels(labels, n: int, n_species: int) -> np.ndarray:
    from lammps_quests.core.species import check_labels

    if labels is None:
        raise ValueError("a species-aware reference needs species_labels, the centre species of every row")
    return check_labels(labels, n, n_species, "species_labels")


def resolve_species(species, frames) -> tuple:
    """The ordered species list: ``"auto"`` = sorted chemical symbols of ``frames``, or given.

    Also accepts a comma-separated string ("In,P").
    """
    present = sorted({symbol for frame in frames for symbol in frame.get_chemical_symbols()})
    if isinstance(species, str):
        if species.strip().lower() == "auto":
            return tuple(present)
        species = [word.strip() for word in species.split(",") if word.strip()]
    species = _check_species(species)
    if not species:
        raise ValueError("the species list is empty; give element symbols like In,P or 'auto'")
    missing = [symbol for symbol in present if symbol not in species]
    if missing:
        raise ValueError(
            f"the structures contain {', '.join(missing)}, which the species list "
            f"{','.join(species)} lacks; add them to the list or use 'auto'"
        )
    return species


def _rows_by_species(sources: list[dict], labels: np.ndarray, order: np.ndarray, species) -> None:
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


def _array_problem(X: np.ndarray, k: int, n_species: int = 0) -> str:
    """Describe what makes X unusable as QUESTS descriptors of k neighbours, S species, or ''."""
    if X.ndim != 2:
        return f"expected a 2-d array, got {X.ndim}-d"
    if X.shape[1] != _width(k, n_species):
        what = f"k = {k}" + (f" and {n_species} species" if n_species else "")
        return f"width {X.shape[1]} does not match {what} (expected {_width(k, n_species)})"
    if X.shape[0] == 0:
        return "no environments (0 rows)"
    for start in range(0, X.shape[0], _CHUNK_ROWS):  # chunks: no full-size temporaries
        block = np.asarray(X[start : start + _CHUNK_ROWS])
        finite = np.isfinite(block)
        if not finite.all():
            row = start + int(np.nonzero(~finite.all(axis=1))[0][0])
            return f"descriptors contain NaN or inf (first at row {row})"
        if (block < 0).any():  # w(r) >= 0 and distances > 0, so every entry is >= 0
            row = start + int(np.nonzero((block < 0).any(axis=1))[0][0])
            return f"descriptors contain negative values (first at row {row}), impossible for QUESTS descriptors"
    return ""


def _frame_chunks(frames: list, atoms_per_chunk: int = 20_000):
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


def _sha256(X: np.ndarray) -> str:
    digest = hashlib.sha256()
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        block = np.ascontiguousarray(X[start : start + _CHUNK_ROWS], dtype="<f8")
        digest.update(memoryview(block).cast("B"))
    return digest.hexdigest()


def _rows_for_sources(sources: Sequence[dict] | None, n_rows: int) -> list[dict]:
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


def _as_frame_list(frames) -> list:
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


def _describe_source(source: dict) -> str:
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


def _creator() -> str:
    try:
        from importlib.metadata import version

        return f"lammps-quests {version('lammps-quests')}"
    except Exception:  # running from a source tree that is not installed
        return "lammps-quests (source tree)"
