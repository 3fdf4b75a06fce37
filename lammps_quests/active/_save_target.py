"""Where ``save`` writes: the file is checked at setup, and earlier saves seed a restart.

:func:`check_save_target` runs when a ``fix quests ... save``, a ``QuestsMonitor(save=...)``
or any other saving route is set up, before the first step, so a bad path never surfaces in
the middle of a production run. It refuses a save file that

* is not named as extended XYZ (``*.xyz``, ``*.extxyz``), or exists and holds something else;
* is a directory, lies in a missing directory, or cannot be written;
* is the reference file itself or one of the run's other inputs;
* holds structures judged against another reference (the ``reference_sha256`` in each saved
  structure's info line differs from this reference's, or is missing): appending would mix
  two references in one file; save into another file instead.

Restarts: structures already in the file that were judged against the same reference have
their ``new`` atoms' environments recomputed (bit-identical to what the saving run added) and
returned by :meth:`SaveTarget.earlier_environments`, so a restarted run (the same deck again,
or after ``read_restart``) seeds its in-memory extension with them and does not save the same
environments again. An incomplete last structure, left by a run killed while it wrote, is cut
off before appending (see :mod:`lammps_quests.formats._append`).

One writer per save file: the writer takes the file's lock here, before reading or repairing
it, and holds it until it releases the target; a second fix, monitor or run saving to the same
file is refused at setup (:mod:`lammps_quests.formats._save_lock`).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from lammps_quests.formats._append import complete_length, drop_incomplete_tail
from lammps_quests.formats._save_lock import SaveLock, acquire_save_lock
from lammps_quests.formats._writable import why_unwritable

from ._saving import REFERENCE_KEY, saved_rows

EXTXYZ_SUFFIXES = (".xyz", ".extxyz")


@dataclass
class SaveTarget:
    """A checked save file and the structures already in it (judged by this reference)."""

    path: Path
    reference_sha256: str
    earlier: list = field(default_factory=list)  # ase.Atoms judged by the same reference
    dropped_bytes: int = 0  # incomplete tail removed at setup
    lock: SaveLock | None = None  # held by the writer (one MPI rank) until :meth:`release`

    def release(self) -> None:
        """Let go of the save file's lock (the run will not append any more)."""
        if self.lock is not None:
            self.lock.release()

    def seed(self, saver) -> int:
        """Add the earlier saves' new environments (recomputed from the file, with their centre
        species for a species-aware reference) to ``saver``'s extension; returns how many."""
        if not self.earlier or saver is None or saver.extension is None:
            return 0
        rows, labels = saved_rows(self.earlier, saver.dh)
        if len(rows):
            saver.extension.add(rows, labels)
        return len(rows)

    def log(self, prefix: str, seeded: int | None) -> str:
        """Setup log lines: seeded environments (None: seeding off) and a removed tail."""
        lines = []
        if self.lock is not None and not self.lock.enforced:
            lines.append(f"{prefix}: the file system of {self.path} gives no file locks: nothing stops "
                         "another run from saving into it too (one writer per save file is up to you)")
        if self.dropped_bytes:
            lines.append(f"{prefix}: removed an incomplete structure ({self.dropped_bytes} bytes) "
                         f"at the end of {self.path}, left by a run killed while it wrote")
        if seeded is not None and self.earlier:
            lines.append(f"{prefix}: {seeded} environments from earlier saves in {self.path}")
        elif self.earlier:
            lines.append(f"{prefix}: {len(self.earlier)} earlier structure(s) in {self.path} not "
                         "used for de-duplication (seed no)")
        return "".join(line + "\n" for line in lines)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_save_path(path, protected=(), what: str = "save file") -> Path:
    """Refuse a save path that cannot receive extended XYZ appends (see the module docstring).

    Args:
        path: the save file.
        protected: files it must not be (the reference, the run's inputs).
        what: how messages name the path.

    Returns:
        The path as a Path.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a directory; give a file name such as {path / 'saved.xyz'}")
    if path.suffix.lower() not in EXTXYZ_SUFFIXES:
        raise ValueError(f"{what} {path} must be an extended-XYZ file named *.xyz or *.extxyz "
                         "(saved structures are appended as extended XYZ)")
    for other in protected:
        if other is not None and _same_file(path, Path(other)):
            raise ValueError(f"{what} {path} is {other}, an input of this run; save into another file")
    directory = path.resolve().parent
    if not directory.is_dir():
        raise ValueError(f"{what} {path}: directory does not exist ({directory}); create it first")
    reason = why_unwritable(path)
    if reason is not None:
        raise ValueError(f"{what} {path} cannot be written ({reason})")
    return path


def read_earlier(path: Path, what: str = "save file") -> list:
    """The complete structures of an existing save file (ase.Atoms); ValueError if it holds
    something other than extended XYZ."""
    import ase.io

    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        keep = complete_length(path)
    except ValueError as error:
        raise ValueError(f"{what} {error}; it is never appended to: save into another file") from None
    text = path.read_bytes()[:keep].decode("utf-8", errors="replace")
    if not text.strip():
        return []
    try:
        # parallel=False: under MPI every rank reads alone (ASE would broadcast from rank 0,
        # a collective that hangs when rank 0 has stopped, e.g. refused the file's lock)
        return list(ase.io.read(io.StringIO(text), ":", format="extxyz", parallel=False))
    except Exception as error:  # ASE raises many kinds for foreign text
        raise ValueError(f"{what} {path} is not an extended-XYZ file ({error}); it is never "
                         "appended to: save into another file") from None


def check_judged_by(structures, sha256: str, path, what: str = "save file") -> None:
    """Refuse structures that do not record ``sha256`` as the reference that judged them."""
    other = sorted({str(atoms.info.get(REFERENCE_KEY, "none")) for atoms in structures} - {sha256})
    if not other:
        return
    if other == ["none"] and structures:  # nothing in it came from a save: not a file of the fix
        raise ValueError(
            f"{what} {path} was not written by fix quests ... save or a QuestsMonitor: its structures "
            f"record no reference ({REFERENCE_KEY}); give the file a run saved into, or save into another "
            "file (for any structures, `lammps-quests dh` and `select` measure what they add)")
    found = ", ".join("none recorded" if s == "none" else s[:12] + "..." for s in other)
    raise ValueError(
        f"{what} {path} holds structures judged against another reference (sha256 {found}; this "
        f"reference: {sha256[:12]}...): use the reference that run used, or save into another file"
    )


def check_save_target(path, reference, protected=(), repair: bool = True,
                      what: str = "save file") -> SaveTarget:
    """Check a save file at setup, lock it, and read what it already holds (see the module
    docstring).

    Args:
        path: the save file.
        reference: the Reference that judges the run (its ``sha256`` and ``path``).
        protected: other inputs the file must not be.
        repair: this caller writes the file (one MPI rank only: rank 0): it takes the file's
            lock (:mod:`lammps_quests.formats._save_lock`), held until
            :meth:`SaveTarget.release`, and cuts an incomplete last structure off the file.
        what: how messages name the path.

    Returns:
        A :class:`SaveTarget` with the earlier structures judged by this reference.

    Raises:
        ValueError: a path that cannot be a save file; SaveFileBusy (a ValueError): another
            fix, monitor or run holds the file's lock.
    """
    inputs = [getattr(reference, "path", None), *protected]
    path = check_save_path(path, inputs, what)
    lock = acquire_save_lock(path, what) if repair else None
    try:
        earlier = read_earlier(path, what)
        check_judged_by(earlier, reference.sha256, path, what)
        dropped = drop_incomplete_tail(path) if repair and path.exists() else 0
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return SaveTarget(path, reference.sha256, earlier, dropped, lock)
