"""Acronyms a text defines in parentheses right after a name: "Onderzoeksraad voor Veiligheid
(OVV)", "Openbaar Ministerie (OM)".

Shared by quote attribution (``quotes.speakers``: an acronym speaks under the long name) and
in-article linking (``links.article``: every "OVV" joins the long name's referent), so both
read a definition the same way. Pure functions of text.
"""

from __future__ import annotations

import re
from typing import Final

from streams.enrich.links.keys import name_key

_IN_PARENTHESES: Final = re.compile(r"(?P<gap>\s*)\((?P<acronym>[A-Z][A-Za-z0-9&]{1,9})\)")
_WORD: Final = re.compile(r"[^\W\d_][\w'’-]*")
"""A word as quote attribution reads one: a hyphenated compound is one word."""


def acronym_after(body: str, end: int) -> re.Match[str] | None:
    """The "(ACR)" right after offset ``end`` (a name's end), blanks allowed before it, as a
    match with groups ``gap`` (the blanks) and ``acronym``; None when there is none."""
    return _IN_PARENTHESES.match(body, end)


def is_acronym_of(acronym: str, name: str) -> bool:
    """Whether ``acronym``'s letters are, in order, initials of ``name``'s words starting
    with the first ("OVV" of "Onderzoeksraad voor Veiligheid", "PvdA" of "Partij van de
    Arbeid", "OECD" of "Organisation for Economic Co-operation and Development")."""
    initials = "".join(word[0] for word in name_key(name).split())
    letters = acronym.casefold()
    if not initials or letters[0] != initials[0] or len(letters) < 2:
        return False
    rest = iter(initials[1:])
    return all(letter in rest for letter in letters[1:])


def capitals_spell(acronym: str, name: str) -> bool:
    """Whether the capitals that open ``name``'s words spell ``acronym`` exactly, case aside
    ("OM" of "Openbaar Ministerie"; not "PvdA" of "Partij van de Arbeid", whose "van de" has
    no capitals): the stricter reading, for a speaker's name."""
    capitals = "".join(w[0] for w in _WORD.findall(name) if w[:1].isupper())
    return capitals.upper() == acronym.upper()
