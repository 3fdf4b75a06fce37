"""Can a file be written here? Asked before any work, so a command or a run fails at once.

:func:`why_unwritable` names the cause in words: a read-only file system (EROFS: the mount
itself refuses writes, whoever asks, root included) is told apart from a permission problem,
since their fixes differ (write elsewhere vs. change permissions).
"""

from __future__ import annotations

import os
from pathlib import Path

READ_ONLY_FS = "read-only file system"
NO_PERMISSION = "permission denied"


def _read_only_mount(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def why_unwritable(path) -> str | None:
    """Why ``path`` cannot be created or replaced: 'read-only file system', 'permission denied'
    (of the file, or of its directory for a new file), or None when it can be written.
    A missing directory is not checked here (callers say 'does not exist' first)."""
    path = Path(path)
    target = path if path.exists() else path.resolve().parent
    if _read_only_mount(target):
        return READ_ONLY_FS
    if not os.access(target, os.W_OK):
        return NO_PERMISSION
    return None


def why_directory_unwritable(directory) -> str | None:
    """As :func:`why_unwritable`, for new files inside ``directory`` (which exists)."""
    directory = Path(directory)
    if _read_only_mount(directory):
        return READ_ONLY_FS
    if not os.access(directory, os.W_OK | os.X_OK):
        return NO_PERMISSION
    return None
