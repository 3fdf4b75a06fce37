"""Helpers for the tests of the error contract (a planted bug must be reported as a bug)."""

from __future__ import annotations

from pathlib import Path


def planted_line(directory: Path) -> str:
    """``sitecustomize.py:N``, the line of ``directory/sitecustomize.py`` (tests/bug_injection)
    whose numpy call raises the planted ValueError."""
    path = Path(directory) / "sitecustomize.py"
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines, 1) if line.strip().startswith("return np.asarray(Y)[:, :0]"))
    return f"{path.name}:{number}"
