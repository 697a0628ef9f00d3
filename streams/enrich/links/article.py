"""Joins inside one article: names the tables do not know that an article shows to be one.

Called by the enricher after each entity got its id from the tables. Only entities no source
knew (``Link.known`` false) are ever rejoined, and only to one referent: a short form that
two longer names of the article could stand for keeps its own id.

* An acronym defined in the text, "Onderzoeksraad voor Veiligheid (OVV)", joins every "OVV"
  of the article to the long name.
* A short form of a longer name of the same label, its words in the same order: "Kamer" of
  "Tweede Kamer", "Fidesz" of "Fidesz-partij", "Khalifa Haftar" of "Khalifa Belqasim Haftar".
* For persons, the same with transliteration keys: "Kadhafi" of "Moammar Gaddafi".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from schemas import Entity, EntityLabel
from streams.enrich.links.keys import consonants, fine_key, name_key, translit_key

_ACRONYM_AFTER: Final = re.compile(r"\s*\((?P<acronym>[A-Z][A-Za-z0-9&]{1,9})\)")
# Words that never make a short form on their own ("de Kamer" is "Kamer").
_FUNCTION_WORDS: Final = frozenset(
    [
        "de",
        "het",
        "een",
        "van",
        "der",
        "den",
        "voor",
        "en",
        "of",
        "op",
        "in",
        "aan",
        "the",
        "a",
        "an",
        "of",
        "for",
        "and",
        "on",
        "at",
        "to",
        "le",
        "la",
        "les",
        "du",
        "des",
        "die",
        "das",
        "dem",
        "am",
        "partij",
        "party",
    ]
)
MIN_TRANSLIT_CONSONANTS: Final = 3


@dataclass(frozen=True, slots=True)
class Link:
    """An entity's identity: id, label, the place an adjective belongs to, and whether a
    source knew it (known ids are never rejoined)."""

    id: str
    label: EntityLabel
    related: str | None = None
    known: bool = False


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


def join_in_article(body: str, entities: Sequence[Entity], links: Sequence[Link]) -> list[Link]:
    """``links`` (one per entity, in order) with the article's own joins applied."""
    joined = list(links)
    _join_acronyms(body, entities, joined)
    _join_short_forms(entities, joined)
    return joined


def _join_acronyms(body: str, entities: Sequence[Entity], links: list[Link]) -> None:
    defined: dict[str, Link] = {}
    for entity, link in zip(entities, links, strict=True):
        found = _ACRONYM_AFTER.match(body, entity.end)
        if found and is_acronym_of(found["acronym"], entity.canonical):
            defined.setdefault(name_key(found["acronym"]), link)
    if not defined:
        return
    for i, entity in enumerate(entities):
        if links[i].known:
            continue
        found_link = defined.get(name_key(entity.canonical)) or defined.get(name_key(entity.text))
        if found_link is not None:
            links[i] = replace(found_link, known=False)


def _is_subsequence(short: Sequence[str], long: Sequence[str]) -> bool:
    rest = iter(long)
    return all(word in rest for word in short)


def _join_short_forms(entities: Sequence[Entity], links: list[Link]) -> None:
    words = [name_key(e.canonical).split() for e in entities]
    # Persons' words compared by the coarse key when two or more words must match, by the
    # finer one for a single word (a lone "Boden" is not "Joe Biden"'s "Biden").
    sounds = [(translit_key if len(w) > 1 else fine_key)(" ".join(w)).split() for w in words]
    fine = [fine_key(" ".join(w)).split() for w in words]
    # Longest names first, so a name joined to a longer one passes that on to shorter ones.
    for i in sorted(range(len(entities)), key=lambda n: -len(words[n])):
        if links[i].known or not [w for w in words[i] if w not in _FUNCTION_WORDS]:
            continue
        person = links[i].label is EntityLabel.PER
        can_sound = person and (
            len(sounds[i]) > 1 or consonants(" ".join(sounds[i])) >= MIN_TRANSLIT_CONSONANTS
        )
        targets = set()
        for j in range(len(entities)):
            if j == i or links[j].label is not links[i].label or links[j].id == links[i].id:
                continue
            longer = len(words[j]) > len(words[i])
            if (longer and _is_subsequence(words[i], words[j])) or (
                can_sound
                and (longer or (len(words[j]) == len(words[i]) and j < i))
                and _is_subsequence(sounds[i], sounds[j] if len(words[i]) > 1 else fine[j])
            ):
                targets.add(j)
        ids = {links[j].id for j in targets}
        if len(ids) == 1:
            links[i] = replace(links[next(iter(targets))], known=False)
