"""The optional keywords of ``fix quests`` and their parsing.

``fix ID group-ID quests N reference-file keyword value ...``: the C++ fix hands every word
after ``reference-file`` to :func:`parse_keywords`, so a keyword is added here (a parser in
:data:`PARSERS` and a line in :data:`USAGE`) and nowhere else. The python/invoke route parses
the same words, so both routes accept the same options.

The parsers read the words (:class:`~lammps_quests.errors.KeywordError` for a malformed line);
the values are checked once, by :class:`~lammps_quests.monitor.MonitorOptions`, the
record the ASE monitor and the OVITO modifier build too, so a bad value gets the same
:class:`~lammps_quests.errors.OptionError` on every host.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

from lammps_quests.monitor._options import MonitorOptions
from lammps_quests.errors import KeywordError

USAGE = (
    "fix ID group-ID quests N reference-file [bandwidth h] [threshold t] "
    "[halt t soft|hard] [save t file [every] [cut R] [seed yes|no]] [k K] [cutoff rc] "
    "[elements El1 El2 ...] [fast tol [decide]]"
)


@dataclass(frozen=True)
class FixOptions:
    """Settings of one ``fix quests``: the shared :class:`MonitorOptions` and what only LAMMPS has."""

    monitor: MonitorOptions = MonitorOptions()
    halt_mode: str | None = None  # None, "soft" or "hard"
    save_seed: bool = True  # structures already in the save file seed the de-duplication
    elements: tuple[str, ...] | None = None  # element of each atom type; None: from the masses


#: the words of FixOptions and of MonitorOptions: what a keyword parser may set
_HOST = {f.name for f in fields(FixOptions)} - {"monitor"}
_SHARED = {f.name for f in fields(MonitorOptions)}


def number(word: str, keyword: str, syntax: str) -> float:
    """A float from a deck word, else KeywordError naming the keyword (its range, finiteness
    included, is checked by :class:`MonitorOptions`)."""
    try:
        return float(word)
    except ValueError:
        raise KeywordError(f"keyword {keyword} expects {syntax}, got '{word}'") from None


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


def _bandwidth(options: dict, words: list[str]) -> int:
    syntax = "a bandwidth in 1/Angstrom: bandwidth h"
    (word,) = take(words, 1, "bandwidth", syntax)
    options["bandwidth"] = number(word, "bandwidth", syntax)
    return 1


def _threshold(options: dict, words: list[str]) -> int:
    syntax = "a value in nats: threshold t"
    options["threshold"] = number(take(words, 1, "threshold", syntax)[0], "threshold", syntax)
    return 1


def _halt(options: dict, words: list[str]) -> int:
    syntax = "a threshold in nats and a mode: halt t soft|hard"
    value, mode = take(words, 2, "halt", syntax)
    options["halt_threshold"] = number(value, "halt", syntax)
    if mode not in ("soft", "hard"):
        raise KeywordError(f"halt mode must be 'soft' or 'hard', got '{mode}'")
    options["halt_mode"] = mode
    return 2


def _save(options: dict, words: list[str]) -> int:
    """``save t file [every] [cut R] [seed yes|no]``; ``seed no``: structures already in the
    file (from an earlier run with this reference) do not seed the de-duplication."""
    syntax = ("a threshold in nats and a file name, then optionally every, cut R and seed yes|no: "
              "save t file [every] [cut R] [seed yes|no]")
    value, path = take(words, 2, "save", syntax)
    options["save_threshold"] = number(value, "save", syntax)
    options["save_path"] = path
    used = 2
    while used < len(words) and words[used] in ("every", "cut", "seed"):
        if words[used] == "every":
            options["deduplicate"] = False
            used += 1
            continue
        if words[used] == "seed":
            (flag,) = take(words[used + 1 :], 1, "save ... seed", "yes or no: save t file seed yes|no")
            if flag not in ("yes", "no"):
                raise KeywordError(f"save ... seed expects yes or no, got '{flag}'")
            options["save_seed"] = flag == "yes"
            used += 2
            continue
        (radius,) = take(words[used + 1 :], 1, "save ... cut", "a radius in Angstrom: save t file cut R")
        options["save_cut"] = number(radius, "save ... cut", "a radius in Angstrom: save t file cut R")
        used += 2
    return used


def _k(options: dict, words: list[str]) -> int:
    syntax = "the number of neighbours the reference must use: k K"
    (word,) = take(words, 1, "k", syntax)
    options["k"] = integer(word, "k", syntax)
    return 1


def _cutoff(options: dict, words: list[str]) -> int:
    syntax = "the descriptor cutoff in Angstrom the reference must use: cutoff rc"
    (word,) = take(words, 1, "cutoff", syntax)
    options["cutoff"] = number(word, "cutoff", syntax)
    return 1


def _elements(options: dict, words: list[str]) -> int:
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
    options["elements"] = tuple(symbols)
    return len(symbols)


def _fast(options: dict, words: list[str]) -> int:
    """``fast tol [decide]``: dH from the reference's fast index (REF.qidx), at most tol nats
    above the exact dH; with ``decide`` the threshold, halt and save decisions are certified,
    values above the smallest of those thresholds stay within tol of exact and values at or
    below it are upper bounds of dH."""
    syntax = "a tolerance in nats, optionally followed by decide: fast tol [decide]"
    (word,) = take(words, 1, "fast", syntax)
    options["fast"] = number(word, "fast", syntax)
    options["decide"] = len(words) > 1 and words[1] == "decide"
    return 2 if options["decide"] else 1


#: keyword -> parser(options, words after the keyword) returning how many words it used;
#: a parser may take a variable number of words (stop at the next keyword: :func:`is_keyword`)
PARSERS: dict[str, Callable[[dict, list[str]], int]] = {
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
    """Parse the keyword/value words of a ``fix quests`` line into :class:`FixOptions`.

    Raises KeywordError for a malformed line, OptionError (from :class:`MonitorOptions`) for
    a value out of range."""
    words = [str(word) for word in words]
    options: dict = {}
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
    monitor = MonitorOptions(**{name: value for name, value in options.items() if name in _SHARED})
    return FixOptions(monitor=monitor, **{name: value for name, value in options.items() if name in _HOST})
