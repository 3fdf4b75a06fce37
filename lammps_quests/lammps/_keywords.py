"""The optional keywords of ``fix quests`` and their parsing.

``fix ID group-ID quests N reference-file keyword value ...``: the C++ fix hands every word
after ``reference-file`` to :func:`parse_keywords`, so a keyword is added here (a parser in
:data:`PARSERS` and a line in :data:`USAGE`) and nowhere else. The python/invoke route parses
the same words, so both routes accept the same options.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from lammps_quests.errors import KeywordError

USAGE = (
    "fix ID group-ID quests N reference-file [bandwidth h] [threshold t] "
    "[halt t soft|hard] [save t file [every] [cut R] [seed yes|no]] [k K] [cutoff rc] "
    "[elements El1 El2 ...] [fast tol [decide]]"
)


@dataclass
class FixOptions:
    """Settings of one ``fix quests`` (units: Å, Å^-1, nats)."""

    bandwidth: float | None = None  # Å^-1; None: the reference's
    threshold: float = 0.0  # nats: dH above it counts as extrapolating
    halt_mode: str | None = None  # None, "soft" or "hard"
    halt_threshold: float = 0.0  # nats
    save_threshold: float | None = None  # nats; None: no saving
    save_path: str | None = None
    deduplicate: bool = True  # False (keyword save ... every): save every evaluation with dH > t
    save_cut: float | None = None  # Å: write one cut-out per hot spot instead of the frame
    save_seed: bool = True  # structures already in the save file seed the de-duplication
    k: int | None = None  # assertion on the reference's k
    cutoff: float | None = None  # Å, assertion on the reference's cutoff
    elements: tuple[str, ...] | None = None  # element of each atom type; None: from the masses
    fast_tol: float | None = None  # nats: dH from the reference's fast index, within tol of exact
    fast_decide: bool = False  # fast: certify only the threshold/halt/save decisions
    extra: dict = field(default_factory=dict)  # keywords added by other parts of the package


def number(word: str, keyword: str, syntax: str) -> float:
    """A finite float from a deck word, else KeywordError naming the keyword."""
    try:
        value = float(word)
    except ValueError:
        raise KeywordError(f"keyword {keyword} expects {syntax}, got '{word}'") from None
    if not math.isfinite(value):
        raise KeywordError(f"keyword {keyword} expects a finite number ({syntax}), got '{word}'")
    return value


def integer(word: str, keyword: str, syntax: str) -> int:
    """An integer from a deck word, else KeywordError naming the keyword."""
    try:
        return int(word)
    except ValueError:
        raise KeywordError(f"keyword {keyword} expects {syntax}, got '{word}'") from None


def take(words: list[str], count: int, keyword: str, syntax: str) -> list[str]:
    """The first ``count`` words after a keyword, else KeywordError with its syntax."""
    if len(words) < count:
        raise KeywordError(f"keyword {keyword} expects {syntax}")
    return words[:count]


def _bandwidth(options: FixOptions, words: list[str]) -> int:
    syntax = "a bandwidth in 1/Angstrom: bandwidth h"
    (word,) = take(words, 1, "bandwidth", syntax)
    value = number(word, "bandwidth", syntax)
    if not value > 0:
        raise KeywordError(f"bandwidth must be > 0 (1/Angstrom), got {word}")
    options.bandwidth = value
    return 1


def _threshold(options: FixOptions, words: list[str]) -> int:
    syntax = "a value in nats: threshold t"
    options.threshold = number(take(words, 1, "threshold", syntax)[0], "threshold", syntax)
    return 1


def _halt(options: FixOptions, words: list[str]) -> int:
    syntax = "a threshold in nats and a mode: halt t soft|hard"
    value, mode = take(words, 2, "halt", syntax)
    options.halt_threshold = number(value, "halt", syntax)
    if mode not in ("soft", "hard"):
        raise KeywordError(f"halt mode must be 'soft' or 'hard', got '{mode}'")
    options.halt_mode = mode
    return 2


def _save(options: FixOptions, words: list[str]) -> int:
    """``save t file [every] [cut R] [seed yes|no]``; ``seed no``: structures already in the
    file (from an earlier run with this reference) do not seed the de-duplication."""
    syntax = ("a threshold in nats and a file name, then optionally every, cut R and seed yes|no: "
              "save t file [every] [cut R] [seed yes|no]")
    value, path = take(words, 2, "save", syntax)
    options.save_threshold = number(value, "save", syntax)
    options.save_path = path
    used = 2
    while used < len(words) and words[used] in ("every", "cut", "seed"):
        if words[used] == "every":
            options.deduplicate = False
            used += 1
            continue
        if words[used] == "seed":
            (flag,) = take(words[used + 1 :], 1, "save ... seed", "yes or no: save t file seed yes|no")
            if flag not in ("yes", "no"):
                raise KeywordError(f"save ... seed expects yes or no, got '{flag}'")
            options.save_seed = flag == "yes"
            used += 2
            continue
        (radius,) = take(words[used + 1 :], 1, "save ... cut", "a radius in Angstrom: save t file cut R")
        options.save_cut = number(radius, "save ... cut", "a radius in Angstrom: save t file cut R")
        if not options.save_cut > 0:
            raise KeywordError(f"save ... cut R needs a radius > 0 Angstrom, got {radius}")
        used += 2
    return used


def _k(options: FixOptions, words: list[str]) -> int:
    syntax = "the number of neighbours the reference must use: k K"
    (word,) = take(words, 1, "k", syntax)
    value = integer(word, "k", syntax)
    if value < 2:
        raise KeywordError(f"k must be >= 2, got {word}")
    options.k = value
    return 1


def _cutoff(options: FixOptions, words: list[str]) -> int:
    syntax = "the descriptor cutoff in Angstrom the reference must use: cutoff rc"
    (word,) = take(words, 1, "cutoff", syntax)
    value = number(word, "cutoff", syntax)
    if not value > 0:
        raise KeywordError(f"cutoff must be > 0 Angstrom, got {word}")
    options.cutoff = value
    return 1


def _elements(options: FixOptions, words: list[str]) -> int:
    """``elements El1 El2 ...``: one element per atom type, in type order (as pair_coeff * *)."""
    from ase.data import chemical_symbols

    symbols = []
    for word in words:
        if is_keyword(word):
            break
        symbols.append(word)
    if not symbols:
        raise KeywordError("keyword elements expects one element symbol per atom type: elements El1 El2 ...")
    unknown = [word for word in symbols if word not in chemical_symbols[1:]]
    if unknown:
        raise KeywordError(
            f"keyword elements: {', '.join(unknown)} is not an element symbol; give one symbol per "
            "atom type in type order, e.g. elements In P"
        )
    options.elements = tuple(symbols)
    return len(symbols)


def _fast(options: FixOptions, words: list[str]) -> int:
    """``fast tol [decide]``: dH from the reference's fast index (REF.qidx), at most tol nats
    above the exact dH; with ``decide`` the threshold, halt and save decisions are certified,
    values above the smallest of those thresholds stay within tol of exact and values at or
    below it are upper bounds of dH."""
    syntax = "a tolerance in nats, optionally followed by decide: fast tol [decide]"
    (word,) = take(words, 1, "fast", syntax)
    value = number(word, "fast", syntax)
    if not 0.0 < value < 1.0:
        raise KeywordError(f"fast tolerance must be in (0, 1) nats, e.g. 1e-6; got {word}")
    options.fast_tol = value
    options.fast_decide = len(words) > 1 and words[1] == "decide"
    return 2 if options.fast_decide else 1


#: keyword -> parser(options, words after the keyword) returning how many words it used;
#: a parser may take a variable number of words (stop at the next keyword: :func:`is_keyword`)
PARSERS: dict[str, Callable[[FixOptions, list[str]], int]] = {
    "bandwidth": _bandwidth,
    "threshold": _threshold,
    "halt": _halt,
    "save": _save,
    "k": _k,
    "cutoff": _cutoff,
    "elements": _elements,
    "fast": _fast,
}


def is_keyword(word: str) -> bool:
    """Whether ``word`` starts another keyword (ends a variable-length list of values)."""
    return word in PARSERS


def parse_keywords(words) -> FixOptions:
    """Parse the keyword/value words of a ``fix quests`` line into :class:`FixOptions`."""
    words = [str(word) for word in words]
    options = FixOptions()
    seen = set()
    i = 0
    while i < len(words):
        key = words[i]
        if key not in PARSERS:
            raise KeywordError(
                f"unknown keyword '{key}'; valid keywords are {', '.join(PARSERS)}; usage: {USAGE}"
            )
        if key in seen:  # LAMMPS would let the last one win silently: say so instead
            raise KeywordError(f"keyword {key} is given twice; give it once")
        seen.add(key)
        i += 1 + PARSERS[key](options, words[i + 1 :])
    return options
