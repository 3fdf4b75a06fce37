"""Sphinx configuration of the lammps-quests documentation site.

Build: ``pip install ".[docs]" && sphinx-build -W --keep-going -n docs docs/_build/html``. The
API reference documents the installed package (autodoc imports it), so install the package
before building. ``-n`` (nitpicky) makes every unresolved cross-reference a warning and ``-W``
every warning an error: a broken link, a page outside every toctree or a stale autodoc target
fails the build.
"""

from __future__ import annotations

import sys
from datetime import date
from importlib.metadata import version as installed_version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

project = "lammps-quests"
author = "the lammps-quests developers"
copyright = f"{date.today().year}, {author}"
release = installed_version("lammps-quests")
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",  # the package's docstrings use Google-style sections (Args:, Returns:)
    "sphinx.ext.mathjax",
    "sphinx_click",
    "public_api",  # docs/_ext/public_api.py: one autodoc section per public package
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# Markdown pages: ::: fences for directives, $...$ maths, definition lists for the option tables
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 0  # pages link by explicit targets, (name)=, never by heading text

html_theme = "furo"
html_title = f"lammps-quests {release}"
html_static_path: list[str] = []

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# a Returns: section opens with a shape or a sentence ("(n,) dH in nats: ..."), not a type to link
napoleon_use_rtype = False

nitpicky = True
# Names of other projects: no inventory of theirs is fetched (the build runs offline), so their
# types in signatures stay plain text instead of failing the link check. Names of this package are
# all checked.
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|numpy\.typing|npt|ase|click|ovito|traits|lammps|mpi4py|scipy|pynndescent|"
               r"numba|pathlib|os|io|typing|collections|dataclasses|concurrent|threading|subprocess|"
               r"contextlib|enum|types|abc|json|tqdm)(\..*)?"),
    (r"py:.*", r"(Path|PathLike|Iterable|Iterator|Sequence|Mapping|Callable|Any|Optional|Union|"
               r"Literal|Self|ndarray|NDArray|ArrayLike|DTypeLike|Atoms|Generator|TextIO|BinaryIO|"
               r"IO|Hashable|MutableMapping|Collection)"),
    (r"py:.*", r"(int|float|str|bool|bytes|None|object|list|tuple|dict|set|frozenset|type|"
               r"Exception|ValueError|RuntimeError|OSError|KeyError|TypeError)"),
]
