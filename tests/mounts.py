"""Small tmpfs mounts for tests of full disks and read-only file systems (root only).

A test that needs one skips only where mounting is impossible (not root, or no CAP_SYS_ADMIN
in the container); as root, which ignores file permissions, these are the only way to make
a write fail.
"""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(*arguments) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", *map(str, arguments)], capture_output=True, text=True)


@contextmanager
def tmpfs(directory: Path, size: str = "1m", files: dict | None = None, read_only: bool = False):
    """Mount a tmpfs of ``size`` on ``directory`` (created), write ``files`` ({name: bytes or
    text}) into it, remount it read-only if asked; yields the directory; unmounts after."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        mounted = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", directory)
    except FileNotFoundError:
        pytest.skip("no mount command")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()})")
    try:
        for name, content in (files or {}).items():
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content if isinstance(content, bytes) else content.encode())
        if read_only:
            remounted = _mount("-o", "remount,ro", directory)
            assert remounted.returncode == 0, remounted.stderr
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], capture_output=True)
