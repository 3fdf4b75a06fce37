"""One writer per save file: an exclusive lock held from setup until the run lets go of it.

Every saving route (``fix quests ... save``, ``QuestsMonitor(save=...)``) takes the lock of its
save file at setup, before reading or repairing the file, and keeps it while it may append; a
second fix in the same deck, a second monitor or a second run (another process, or an orphaned
LAMMPS still writing) is refused then, with the holder's pid and host when they are known.

The lock is ``flock(LOCK_EX)`` on ``<save file>.lock`` beside the save file. flock locks belong
to an open file description: they conflict between two ``open`` calls even in one process
(POSIX ``fcntl`` locks would not), and the kernel drops them when the holder dies, so a killed
run leaves no stale lock, only the small file, which the next run takes over. The lock file
holds ``pid host`` of the holder, for the message. It is removed when the lock is released
(at the latest when Python exits).
If the directory cannot receive the lock file but the save file exists and can be written, the
save file itself is locked (then no pid is recorded). Under MPI only the rank that writes (rank
0) holds the lock. On a file system without flock (e.g. Lustre mounted ``noflock``) nothing can
be enforced: the save goes ahead and the setup log says so.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import os
import socket
import weakref
from dataclasses import dataclass
from pathlib import Path

from lammps_quests.errors import LockingUnsupported, SaveFileBusy

LOCK_SUFFIX = ".lock"


def lock_path(path) -> Path:
    """The lock file of save file ``path``: ``<path>.lock``."""
    path = Path(path)
    return path.with_name(path.name + LOCK_SUFFIX)


@dataclass(eq=False)
class SaveLock:
    """A held lock of a save file; :meth:`release` lets go of it (idempotent)."""

    path: Path  # the save file
    locked: Path  # the file the flock is on (the lock file, or the save file itself)
    fd: int
    #: False where the file system has no flock (some parallel file systems): nothing enforced
    enforced: bool = True

    def release(self) -> None:
        if self.fd < 0:
            return
        if self.locked != self.path:
            try:  # removed while still held: no one can take a lock on the unlinked file
                os.unlink(self.locked)
            except OSError:
                pass
        os.close(self.fd)
        self.fd = -1

    @property
    def held(self) -> bool:
        return self.fd >= 0

    def __del__(self):  # a forgotten lock goes with its object, as the kernel drops it at exit
        self.release()


def _remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _holder(path: Path) -> str:
    """'pid P on host H' recorded in a lock file, or '' if unknown."""
    try:
        words = path.read_text(errors="replace").split()
    except OSError:
        return ""
    if len(words) >= 2 and words[0].isdigit():
        return f" (held by pid {words[0]} on host {words[1]})"
    return ""


def _busy(path: Path, locked: Path, what: str) -> SaveFileBusy:
    holder = _holder(locked) if locked != path else ""
    return SaveFileBusy(
        f"{what} {path} is already being saved to by another fix, monitor or run{holder}: one "
        "writer per save file. Save into another file, or let that run end first (a LAMMPS left "
        "running by a killed launcher still holds it: end that process)")


#: errno values of a file system without flock (Lustre mounted noflock, some NFS setups)
_NO_FLOCK = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL}


def _flock(fd: int) -> bool:
    """Take the exclusive lock without waiting: True, or False if another holder has it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as error:
        if error.errno in _NO_FLOCK:
            raise LockingUnsupported(error.errno, f"flock: {error.strerror}") from None
        raise
    return True


def _take(fd: int) -> int:
    """flock the open ``fd`` without waiting: ``fd`` if taken, else -1; ``fd`` is closed unless
    taken (errors included)."""
    try:
        taken = _flock(fd)
    except BaseException:
        os.close(fd)
        raise
    if not taken:
        os.close(fd)
        return -1
    return fd


def _open_lock_file(locked: Path) -> int:
    """Open (create) the lock file and flock it; the fd, or -1 if another holder has it."""
    while True:
        fd = _take(os.open(locked, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644))
        if fd < 0:
            return -1
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(locked))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder released and removed it between our open and flock: retry


def acquire_save_lock(path, what: str = "save file") -> SaveLock:
    """Take the lock of save file ``path`` (see the module docstring).

    Raises:
        SaveFileBusy: another fix, monitor or process holds it (the message names the file
            and, when recorded, the holder's pid and host).
        OSError: neither the lock file nor the save file can be opened for writing.
    """
    path = Path(path)
    locked = lock_path(path)
    try:
        try:
            fd = _open_lock_file(locked)
        except LockingUnsupported:
            _remove_quietly(locked)
            raise
        except OSError:
            if not path.is_file():
                raise
            locked = path  # a directory we cannot write, a save file we can: lock the file itself
            fd = _take(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC))
    except LockingUnsupported:  # run as before locks existed, and say so in the setup log
        return SaveLock(path, locked, -1, enforced=False)
    if fd < 0:
        raise _busy(path, locked, what)
    if locked != path:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
    lock = SaveLock(path, locked, fd)
    _held.add(lock)
    return lock


#: the locks this process holds, released (lock files removed) when Python exits
_held: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _release_held() -> None:
    for lock in list(_held):
        lock.release()
