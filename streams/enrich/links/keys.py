"""The forms names are compared in: exact keys, transliteration keys and demonym stems.

Pure functions, no data: every table and every join compares names through these, so a
change here changes ids and must bump ``LINKS_VERSION``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final

# The keys are pure and an article repeats its names, so each is cached (bounded: a worker
# sees an open-ended stream of names).
_CACHE: Final = 1 << 16


@lru_cache(maxsize=_CACHE)
def name_key(text: str) -> str:
    """The form names are compared in: no accents, case or punctuation; hyphens are spaces.

    "V.S." and "VS" -> "vs"; "Noord-Korea" -> "noord korea"; "België" -> "belgie".
    """
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = re.sub(r"[.'’`]", "", plain.casefold())
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


def slug(text: str) -> str:
    """The name part of an id: the key with dashes ("Verenigde Staten" -> "verenigde-staten")."""
    return name_key(text).replace(" ", "-") or "unnamed"


# Transliteration key. Dutch, English, German and French write the same Russian, Arabic or
# Persian name differently (Poetin/Putin/Poutine, Kadhafi/Gaddafi, Gorbatsjov/Gorbachev,
# Tichanovskaja/Tikhanovskaya), mostly in three ways: (1) the same sound has a different
# digraph (oe/u/ou, sj/sh/sch, tsj/ch/tsch, j/y), (2) consonants are doubled or aspirated
# (dd/dh), (3) unstressed vowels differ (Gorbatsjov/Gorbachev). The key therefore rewrites
# digraphs to one symbol, merges the consonants such spellings swap (g/k/q, f/v/w/ph, s/z,
# ch/kh/tsj), keeps the others apart (b/p, d/t, m, n, l, r), reduces every vowel run to one
# "a" and collapses repeats. It is deliberately coarse, so it is only ever used for persons
# and with a minimum of consonants (see ``consonants``); tests/unit/enrich/links measure
# what it joins, docs/quality.md the false joins on the dev pairs.
_DIGRAPHS: Final = (
    ("tsch", "C"),
    ("sch", "S"),
    ("tsj", "C"),
    ("tch", "C"),
    ("dzj", "J"),
    ("dj", "J"),
    ("zh", "S"),
    ("zj", "S"),
    ("sj", "S"),
    ("sh", "S"),
    ("sz", "S"),
    ("cz", "C"),
    ("ch", "C"),
    ("kh", "C"),
    ("dh", "d"),
    ("th", "t"),
    ("ph", "f"),
    ("gh", "g"),
    ("ck", "k"),
    ("qu", "k"),
    ("x", "ks"),
)
_CLASSES: Final = str.maketrans(
    {
        "g": "k",
        "q": "k",
        "v": "f",
        "w": "f",
        "z": "s",
        "S": "s",
        "J": "j",
        "h": None,  # silent or part of a digraph in every language we compare
        "e": "a",
        "i": "a",
        "o": "a",
        "u": "a",
        "y": "a",
        "j": "a",  # Dutch j is English y (Jeltsin/Yeltsin, Netanjahoe/Netanyahu)
    }
)


@lru_cache(maxsize=_CACHE)
def translit_key(key: str) -> str:
    """A key that Dutch, English, German and French spellings of one foreign name share.

    ``key`` is a ``name_key``. "poetin" and "putin" -> "patan"; "kadhafi" and "gaddafi" ->
    "kadafa"; "gorbatsjov" and "gorbachev" -> "karbaCaf". Tokens stay separated by spaces.
    """
    tokens = []
    for token in key.split():
        for digraph, symbol in _DIGRAPHS:
            token = token.replace(digraph, symbol)
        token = re.sub(r"c(?=[eiy])", "s", token).replace("c", "k")
        token = token.translate(_CLASSES)
        tokens.append(re.sub(r"(.)\1+", r"\1", token))
    return " ".join(tokens)


# A finer key for a surname alone, where the coarse key joins too much (Boden/Biden,
# Jansen/Johnson): only the Dutch-English spelling swaps are undone (oe/u, sj/sh, tsj/ch,
# j/y, doubled and aspirated consonants, g/k, w/v, z/s) and vowels stay; sh stays apart.
_FINE: Final = (
    ("tsj", "ch"),
    ("dzj", "j"),
    ("zj", "zh"),
    ("sj", "sh"),
    ("oe", "u"),
    ("ou", "u"),
    ("ij", "i"),
    ("kh", "k"),
    ("gh", "g"),
    ("dh", "d"),
    ("th", "t"),
    ("ph", "f"),
    ("ck", "k"),
    ("ch", "k"),
    ("x", "ks"),
)
_FINE_CLASSES: Final = str.maketrans(
    {"g": "k", "q": "k", "c": "k", "w": "v", "z": "s", "y": "i", "j": "i", "h": None}
)


@lru_cache(maxsize=_CACHE)
def fine_key(key: str) -> str:
    """A surname's key across Dutch and English spelling that keeps vowels: "poetin" and
    "putin" -> "putin"; "sjojgoe" and "shoigu" -> "Soiku"; "boden" and "biden" differ, and so
    do "sharif" and "zarif"."""
    tokens = []
    for token in key.split():
        for digraph, replacement in _FINE:
            token = token.replace(digraph, replacement)
        token = token.replace("sh", "S").translate(_FINE_CLASSES)
        tokens.append(re.sub(r"(.)\1+", r"\1", token))
    return " ".join(tokens)


def skeleton(tkey: str) -> str:
    """A ``translit_key`` without its vowels: first names compared loosely (Aleksandr and
    Alexander -> "lksndr")."""
    return tkey.replace("a", "")


def consonants(tkey: str) -> int:
    """How many consonant symbols a ``translit_key`` has: short keys join too much."""
    return sum(1 for ch in tkey if ch not in "a ")


MIN_NAME_CONSONANTS: Final = 3
"""Fewest consonants of a one-word key that may join two spellings: fewer ("Kim", "Ma")
join unrelated people."""


# Demonyms and adjectives of places: "Amerikaanse", "Amerikaans", "American", "Libische",
# "Libyan", "Egyptisch". No packaged data has them in Dutch, so they are found by stem: the
# adjective without its ending must equal the place name without its ending. Endings are
# tried longest first; ``place_stems`` and ``demonym_stems`` share ``_normal`` so doubled
# letters written differently ("Iraanse"/"Iran", "Russisch"/"Rusland") meet.
_PLACE_ENDINGS: Final = ("sland", "land", "ije", "ia", "ie", "a", "e", "y", "o")
_DEMONYM_ENDINGS: Final = (
    "iaanse", "iaans", "aanse", "aans", "ische", "isch", "ienne", "ians", "isches", "ischen",
    "ish", "ian", "ese", "ees", "aise", "ais", "oise", "ois", "ien", "an", "se", "er", "i",
    "e", "s",
)  # fmt: skip
# Only these may stand before the adjective ("Noord-Koreaanse"); anything else is a name of
# its own ("Tour de France", "Amerikaanse Senaat" is an organisation, not a demonym).
_DIRECTIONS: Final = frozenset(
    [
        "noord",
        "zuid",
        "oost",
        "west",
        "midden",
        "north",
        "south",
        "east",
        "west",
        "central",
        "centraal",
    ]
)
MIN_STEM: Final = 3


def _normal(stem: str) -> str:
    return re.sub(r"(.)\1+", r"\1", stem)


def place_stems(key: str) -> set[str]:
    """The stems a place name (a ``name_key``) offers to adjectives: itself and without its
    ending ("libie" -> {"libie", "lib"}; "duitsland" -> {"duitsland", "duit", "duits"})."""
    head, _, last = key.rpartition(" ")
    if head and head not in _DIRECTIONS:
        return {key}
    prefix = f"{head} " if head else ""
    stems = {key}
    for ending in _PLACE_ENDINGS:
        if last.endswith(ending) and len(last) - len(ending) >= MIN_STEM:
            stems.add(prefix + _normal(last[: -len(ending)]))
    stems.add(prefix + _normal(last))
    return stems


def demonym_stems(key: str) -> list[str]:
    """The stems an adjective (a ``name_key``) may come from, most specific first; empty for
    a name that cannot be an adjective of a place (more than a direction before it)."""
    head, _, last = key.rpartition(" ")
    if head and head not in _DIRECTIONS:
        return []
    prefix = f"{head} " if head else ""
    stems = [key, prefix + _normal(last)]
    for ending in _DEMONYM_ENDINGS:
        if last.endswith(ending) and len(last) - len(ending) >= MIN_STEM:
            stems.append(prefix + _normal(last[: -len(ending)]))
    return list(dict.fromkeys(stems))
