"""Joins inside one article: names the tables do not know that an article shows to be one.

Called by the enricher after each entity got its id from the tables. Only entities no source
knew (``Link.known`` false) are ever rejoined, and only to one referent: a short form that
two longer names of the article could stand for keeps its own id.

* An acronym defined in the text, "Onderzoeksraad voor Veiligheid (OVV)", joins every "OVV"
  of the article to the long name.
* A short form of a longer name of the same label, its words in the same order: "Kamer" of
  "Tweede Kamer", "Fidesz" of "Fidesz-partij", "Khalifa Haftar" of "Khalifa Belqasim Haftar";
  but no first and last name that leaves out an initial ("George Bush" of "George W. Bush",
  see ``drops_initials``).
* For persons, the same with transliteration keys: "Kadhafi" of "Moammar Gaddafi".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from schemas import Entity, EntityLabel
from streams.enrich.acronyms import acronym_after, is_acronym_of
from streams.enrich.links.keys import (
    MIN_NAME_CONSONANTS,
    consonants,
    fine_key,
    name_key,
    translit_key,
)

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


@dataclass(frozen=True, slots=True)
class Link:
    """An entity's identity: id, label, the place an adjective belongs to, and whether a
    source knew it (known ids are never rejoined)."""

    id: str
    label: EntityLabel
    related: str | None = None
    known: bool = False


def join_in_article(body: str, entities: Sequence[Entity], links: Sequence[Link]) -> list[Link]:
    """``links`` (one per entity, in order) with the article's own joins applied."""
    joined = list(links)
    _join_acronyms(body, entities, joined)
    _join_short_forms(entities, joined)
    return joined


def _join_acronyms(body: str, entities: Sequence[Entity], links: list[Link]) -> None:
    defined: dict[str, Link] = {}
    for entity, link in zip(entities, links, strict=True):
        found = acronym_after(body, entity.end)
        if found and is_acronym_of(found["acronym"], entity.canonical):
            defined.setdefault(name_key(found["acronym"]), link)
    if not defined:
        return
    for i, entity in enumerate(entities):
        if links[i].known:
            continue
        found_link = defined.get(name_key(entity.canonical)) or defined.get(name_key(entity.text))
        # Labels stay the recogniser's (entity_links): a join never carries one across kinds.
        if found_link is not None and found_link.label is links[i].label:
            links[i] = replace(found_link, known=False)


def drops_initials(short: Sequence[str], long: Sequence[str]) -> bool:
    """Whether a person's name of first and last name leaves out an initial of a longer one
    ("George Bush" of "George W. Bush"; name keys' words, so "W." is "w").

    Such a short form is not that person's: a writer who gives the initial once and not the
    other time is, in news, mostly telling two people apart (father and son, George H. W. and
    George W. Bush), while leaving out a full middle name is how a formal name is shortened
    (Khalifa Haftar of Khalifa Belqasim Haftar). A lone surname ("Bush") leaves out the first
    name too and is no such contrast."""
    return len(short) > 1 and any(len(word) == 1 and word not in short for word in long)


def _is_subsequence(short: Sequence[str], long: Sequence[str]) -> bool:
    rest = iter(long)
    return all(word in rest for word in short)


@dataclass(slots=True)
class _Name:
    """One distinct (name, label) of the article and the entities that carry it."""

    words: tuple[str, ...]
    sounds: tuple[str, ...]
    """Persons: the coarse key's words for a name of two or more words, the fine key's for
    one word (a lone "Boden" is not "Joe Biden"'s "Biden")."""
    fine: tuple[str, ...]
    members: list[int]


def _join_short_forms(entities: Sequence[Entity], links: list[Link]) -> None:
    # Distinct names only, found through an index of their words: an article names the same
    # referent many times, and comparing every mention with every other was most of the
    # linker's time on long articles.
    names: dict[tuple[str, EntityLabel], _Name] = {}
    for i, entity in enumerate(entities):
        key = name_key(entity.canonical)
        found = names.get((key, links[i].label))
        if found is None:
            words = tuple(key.split())
            fine = tuple(fine_key(key).split())
            sounds = tuple(translit_key(key).split()) if len(words) > 1 else fine
            found = names[(key, links[i].label)] = _Name(words, sounds, fine, [])
        found.members.append(i)
    by_word: dict[tuple[EntityLabel, str], list[_Name]] = {}
    by_sound: dict[tuple[EntityLabel, str], list[_Name]] = {}
    for (_, label), name in names.items():
        for word in name.words:
            by_word.setdefault((label, word), []).append(name)
        if label is EntityLabel.PER:
            for sound in {*name.sounds, *name.fine}:
                by_sound.setdefault((label, sound), []).append(name)
    # Longest names first, so a name joined to a longer one passes that on to shorter ones.
    for (_, label), name in sorted(names.items(), key=lambda item: -len(item[1].words)):
        link = links[name.members[0]]
        if link.known or not [w for w in name.words if w not in _FUNCTION_WORDS]:
            continue
        targets = [
            other
            for other in by_word.get((label, name.words[0]), ())
            if len(other.words) > len(name.words) and _is_subsequence(name.words, other.words)
        ]
        if label is EntityLabel.PER and (
            len(name.sounds) > 1 or consonants(" ".join(name.sounds)) >= MIN_NAME_CONSONANTS
        ):
            targets += [
                other
                for other in by_sound.get((label, name.sounds[0]), ())
                if other is not name
                and (
                    len(other.words) > len(name.words)
                    or (len(other.words) == len(name.words) and other.members[0] < name.members[0])
                )
                and _is_subsequence(
                    name.sounds, other.sounds if len(name.words) > 1 else other.fine
                )
            ]
        if label is EntityLabel.PER:
            targets = [o for o in targets if not drops_initials(name.words, o.words)]
        ids = {links[other.members[0]].id for other in targets} - {link.id}
        if len(ids) == 1:
            target = next(o for o in targets if links[o.members[0]].id in ids)
            joined = replace(links[target.members[0]], known=False)
            for i in name.members:
                if not links[i].known:
                    links[i] = joined
