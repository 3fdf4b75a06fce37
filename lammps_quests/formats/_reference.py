"""Reference sets: the descriptors of a potential's training environments, with their settings.

A reference is what ``fix quests`` compares each atom against: an (n, 2k-1) float64 array of
QUESTS descriptors (units Å^-1) together with the settings that produced it (k, cutoff in Å)
and the default kernel bandwidth (Å^-1). Species-aware references
(:mod:`lammps_quests.core._species`) store their rows grouped by centre species, of width
(S + 1)(2k - 1) for S >= 2.

:class:`Reference` is the record; :mod:`._qref` reads and writes the ``.qref`` file and
:mod:`._building` makes the descriptors, provenance and threshold guidance from structures.
:meth:`Reference.load` checks the file and raises :class:`ReferenceFileError` (a
``ValueError``) whose message names the file, the problem and how to fix it.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lammps_quests.core._defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K
from lammps_quests.core._neighbors import DESCRIPTOR_VERSION
from lammps_quests.core._validation import check_bandwidths, check_cutoff, check_k
from lammps_quests.errors import ReferenceFileError, ReferenceMismatchError
from lammps_quests.formats._building import (as_frame_list, creator, describe_source, frame_descriptors,
                                             in_memory_sources, labels_of_rows, resolve_elements,
                                             rows_by_species, rows_for_sources, threshold_guidance)
from lammps_quests.formats._qref import (AUTO_VERIFY_BYTES, FORMAT_VERSION, LENGTH_UNIT, REBUILD_HINT,
                                         array_problem, check_elements, read_array, read_header,
                                         row_width, settings_from_header, sha256_of, write)

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
        elements: ordered element symbols of a species-aware reference
            (:mod:`lammps_quests.core._species`, width (S + 1)(2k - 1) for S >= 2); empty for a
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
    elements: tuple = ()
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
        elements=None,
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
                :func:`lammps_quests.formats.read_frames`. None records "in-memory frames".
            elements: None for species-agnostic descriptors; ``"auto"`` (the chemical symbols of
                the frames, sorted) or a list of element symbols for species-aware ones.
            progress: called with the number of atoms done after each block of frames (e.g.
                a progress bar's ``update``); None for none.
            guidance_progress: likewise for the threshold guidance below, with rows done
                (``core.self_information.rows_used`` of each element's rows, or of all, in all).

        The reference also gets the leave-one-out dH summary and its entropy in
        ``extra["self_information"]`` (species-aware: one summary per centre element in
        ``extra["self_information_per_species"]``), written to the file header by :meth:`save`.
        """
        frame_list = as_frame_list(frames)
        k, cutoff, bandwidth = _check_settings(k, cutoff, bandwidth)
        if elements is not None:
            elements = resolve_elements(elements, frame_list)
        X, labels = frame_descriptors(frame_list, k, cutoff, elements, progress)
        if sources is None:
            sources = in_memory_sources(frame_list)
        reference = cls.from_descriptors(X, k=k, cutoff=cutoff, bandwidth=bandwidth, sources=sources,
                                         elements=elements or (), species_labels=labels)
        reference.extra.update(threshold_guidance(reference, bandwidth, guidance_progress))
        return reference

    @classmethod
    def from_descriptors(
        cls,
        descriptors,
        k: int,
        cutoff: float,
        bandwidth: float = DEFAULT_BANDWIDTH,
        sources: Sequence[dict] | None = None,
        elements: Sequence[str] = (),
        species_labels=None,
    ) -> "Reference":
        """Wrap an existing descriptor array (Å^-1) computed with ``k``, ``cutoff`` Å.

        Species-agnostic: (n, 2k-1). Species-aware: ``elements`` (S element symbols) and
        ``species_labels`` (n,) centre species numbers; (n, (S + 1)(2k - 1)) descriptors, whose
        rows are stored grouped by species (stable order within a species).
        """
        k, cutoff, bandwidth = _check_settings(k, cutoff, bandwidth)
        elements = check_elements(elements)
        X = np.array(descriptors, dtype="<f8", order="C", copy=True)
        problem = array_problem(X, k, len(elements))
        if problem:
            raise ValueError(f"descriptors cannot form a reference: {problem}")
        counts: tuple = ()
        order = None
        if elements:
            labels = labels_of_rows(species_labels, X.shape[0], len(elements))
            order = np.argsort(labels, kind="stable")
            X = np.ascontiguousarray(X[order])
            counts = tuple(int(c) for c in np.bincount(labels, minlength=len(elements)))
        X.setflags(write=False)
        source_list = rows_for_sources(sources, X.shape[0])
        if elements:
            rows_by_species(source_list, labels, order, elements)
        return cls(
            descriptors=X,
            k=k,
            cutoff=cutoff,
            bandwidth=bandwidth,
            sources=tuple(source_list),
            sha256=sha256_of(X),
            created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            elements=elements,
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
        return row_width(self.k, len(self.elements))

    @property
    def species_aware(self) -> bool:
        """True when the reference records its species (descriptor mode "species")."""
        return bool(self.elements)

    @property
    def species_labels(self) -> np.ndarray:
        """Centre species number of every row (rows are grouped by species)."""
        return np.repeat(np.arange(len(self.elements), dtype=np.int64), self.species_counts)

    def element_rows(self):
        """(element, its rows of the descriptors, a view) of a species-aware reference, for the
        elements with rows, in the reference's order."""
        start = 0
        for name, count in zip(self.elements, self.species_counts):
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
            "descriptor_mode": "species" if self.elements else "agnostic",
            **({"species": list(self.elements), "species_counts": list(self.species_counts)}
               if self.elements else {}),
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
            "created_by": self.created_by or creator(),
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
        write(path, self.header(), self.descriptors)
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
            ReferenceFileError (a ValueError): missing, truncated or corrupt file, unknown
            format or descriptor version, width not 2k-1, NaN/inf or negative descriptors,
            hash mismatch. The message names the file, the problem and the fix.
        """
        path = Path(path)
        header, data_offset = read_header(path)
        k, cutoff, bandwidth, n, width, elements, counts = settings_from_header(path, header)
        expected_size = data_offset + n * width * 8
        actual_size = path.stat().st_size
        if actual_size != expected_size:
            kind = "truncated" if actual_size < expected_size else "longer than its header says"
            raise ReferenceFileError(
                f"reference file {path} is {kind}: {actual_size} bytes, but its header "
                f"({n} environments x {width} float64 after offset {data_offset}) needs "
                f"{expected_size}; the copy is incomplete or damaged, copy it again or {REBUILD_HINT}"
            )
        X = read_array(path, data_offset, n, width, mmap)
        problem = array_problem(X, k, len(elements))
        if problem:
            raise ReferenceFileError(f"reference file {path} is corrupt: {problem}; {REBUILD_HINT}")
        stored_hash = header.get("sha256")
        if not isinstance(stored_hash, str) or len(stored_hash) != 64:
            raise ReferenceFileError(
                f"reference file {path} has no valid 'sha256' in its header; {REBUILD_HINT}"
            )
        if verify_hash is None:
            verify_hash = n * width * 8 <= AUTO_VERIFY_BYTES
        if verify_hash and sha256_of(X) != stored_hash:
            raise ReferenceFileError(
                f"reference file {path} is corrupt: the sha256 of its descriptors does not match "
                f"the header ({stored_hash[:12]}...); the data were altered after saving, {REBUILD_HINT}"
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
            elements=elements,
            species_counts=counts,
        )

    def check(self, k: int | None = None, cutoff: float | None = None, *, symbols=None,
              by: str = "the request", remedy: str = "map the atom types to elements the reference knows") -> None:
        """Refuse settings that would make descriptors incomparable with this reference.

        Args:
            k: neighbours per descriptor asked for; None skips the check.
            cutoff: descriptor cutoff in Å asked for; None skips the check. Equal to the
                reference's within a relative tolerance of ``CUTOFF_REL_TOL`` (1e-9).
            symbols: chemical symbols that will be compared with this reference (e.g. the fix's
                atom types); None skips the check. A species-aware reference must hold
                environments centred on each of them; a species-agnostic one accepts any.
            by: who asks, for the message (e.g. "the fix", "--cutoff").
            remedy: the other fix for an element the reference lacks, in the asker's terms (LAMMPS
                maps atom types to elements; ASE atoms carry their chemical symbols).

        Raises:
            ReferenceMismatchError (a ValueError) naming the reference, both values and the
            fix: rebuild the reference with the asked value, or drop the option.
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
        if symbols is not None and self.elements:
            held = {s for s, n in zip(self.elements, self.species_counts) if n > 0}
            missing = [s for s in dict.fromkeys(symbols) if s not in held]
            if missing:
                raise ReferenceMismatchError(
                    f"{where} holds environments centred on {', '.join(sorted(held))} only, but "
                    f"{by} has {', '.join(missing)}: rebuild the reference with structures "
                    f"containing {', '.join(missing)} (`lammps-quests reference build --elements ...`) "
                    f"or {remedy}"
                )

    def verify(self) -> None:
        """Recompute the sha256 of the descriptors; raise ReferenceFileError on mismatch."""
        if sha256_of(self.descriptors) != self.sha256:
            where = self.path if self.path is not None else "in-memory reference"
            raise ReferenceFileError(
                f"reference {where}: sha256 of the descriptors does not match the recorded one; "
                f"{REBUILD_HINT}"
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
            lines.append("  " + describe_source(source))
        return "\n".join(lines)

    def _species_text(self) -> str:
        if not self.elements:
            return "agnostic (descriptors see geometry only)"
        rows = ", ".join(f"{s} {n}" for s, n in zip(self.elements, self.species_counts))
        return f"{' '.join(self.elements)} (species-aware; environments per centre: {rows})"


def _check_settings(k, cutoff, bandwidth) -> tuple[int, float, float]:
    values, scalar = check_bandwidths(bandwidth)
    if not scalar:
        raise ValueError(f"a reference stores one default bandwidth (Å^-1), got {bandwidth!r}")
    return check_k(k), check_cutoff(cutoff), float(values[0])

