"""The code blocks of the documentation pages (docs/*.md) that the tests run or compare.

A page marks a block for the tests with a MyST ``code-block`` directive, a class and a name:

    ```{code-block} python
    :class: runnable
    :name: snippet-api-basics
    import lammps_quests as lq
    ```

``runnable``: users can run it as written (with the files it names); a test runs it.
``shown-output``: the output of a command; a test compares it with a fresh run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

_BLOCK = re.compile(r"^```\{code-block\}[ \t]*([^\n]*)\n((?::[\w-]+:[^\n]*\n)*)(.*?)^```", re.M | re.S)
_OPTION = re.compile(r"^:([\w-]+):[ \t]*(.*)$")


@dataclass(frozen=True)
class Block:
    """One code block of a page: where it is, its language, its options and its text."""

    page: str
    language: str
    options: dict
    text: str

    @property
    def classes(self) -> set[str]:
        return set(self.options.get("class", "").split())

    @property
    def name(self) -> str:
        return self.options.get("name", "")


def page_blocks(path: Path) -> list[Block]:
    """Every ``code-block`` directive of one Markdown page, in page order."""
    found = []
    for match in _BLOCK.finditer(path.read_text()):
        options = dict(_OPTION.match(line).groups() for line in match.group(2).splitlines())
        found.append(Block(path.name, match.group(1), options, match.group(3)))
    return found


def blocks(css_class: str | None = None) -> list[Block]:
    """The code blocks of all pages, or only those of one class."""
    every = [block for page in sorted(DOCS.glob("*.md")) for block in page_blocks(page)]
    return [block for block in every if css_class is None or css_class in block.classes]


def block(name: str) -> Block:
    """The one block named ``name`` on any page."""
    [found] = [block for block in blocks() if block.name == name]
    return found


def thermo_rows(text: str) -> dict[int, list[str]]:
    """The rows of the thermo tables in ``text`` (a page's block or a LAMMPS log), by step:
    lines of numbers under a header starting with ``Step``; the last row of a step wins."""
    rows: dict[int, list[str]] = {}
    width = None
    for line in text.splitlines():
        fields = line.split()
        if fields[:1] == ["Step"]:
            width = len(fields)
        elif width is not None and len(fields) == width and fields[0].isdigit():
            rows[int(fields[0])] = fields
    return rows


#: every runnable block, by name, and the test module that runs it
RUNNABLE = {
    "snippet-api-basics": "repo/test_docs.py",
    "snippet-api-species": "repo/test_docs.py",
    "snippet-reference-python": "repo/test_docs_lammps.py",
    "snippet-ovito-modifier": "repo/test_docs_lammps.py",
}
#: every shown-output block, by name, and the test module that compares it with a fresh run
SHOWN_OUTPUT = {
    "output-demo": "repo/test_docs_lammps.py",
    "output-cu-melt": "repo/test_docs_lammps.py",
    "output-ta-strain": "repo/test_docs_lammps.py",
    "output-inp-antisite": "repo/test_docs_lammps.py",
    "output-ase-melt": "repo/test_docs.py",
}
