"""Who can speak, and under which name: the recogniser's mentions made fit for attribution.

Called by the attribution step (``frames.Article``) once per document, before any quote is
weighed. Pure functions of the body and its entities; the entities themselves are not changed
(the mentions returned are copies where a name changes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from schemas import Entity, EntityLabel
from streams.enrich.acronyms import acronym_after, capitals_spell
from streams.enrich.quotes.cues import CUES, DEFINITE, SPEAKER_LABELS
from streams.enrich.quotes.marks import WORD

# A Dutch surname particle and the capitalised rest of the name: the recogniser sometimes stops
# at the particle ("Frie" of "Frie van Rijsbergen", "Anco Scholte" of "Anco Scholte ter Horst")
# or tags the rest a place (Rijsbergen is also a village).
_PARTICLE_REST: Final = re.compile(
    r" (?:van der|van den|van de|van 't|van|de|der|den|ter|ten|te|in 't|op de) "
    r"[A-Z][\w'’-]+(?: [A-Z][\w'’-]+)?"
)
# The endings of a demonym noun ("Arnhemmer", "Enschedeër", "Amerikaan", "Sloveen",
# "Spanjaard", "Vlaming", "Fransman"; "Slovenian", "Spaniard", "Dutchman"), singular: the
# recogniser tags these MISC, like events and titles ("de Eredivisie"), which never speak.
_DEMONYM: Final = re.compile(r"(?:er|ër|aan|een|ard|ing|man|ian|ese)$")
_PHRASE_BREAK: Final = re.compile(r"[.,;:!?()\"„“”«»]|''|,,")
_SPEAKER_ACRONYM_MAX: Final = 8
"""Speakers take only the tight form "Name (ACR)", one space and at most eight letters, as
rules 5 to 7 were measured with: the shared reading is looser (line breaks, digits)."""
_REACH: Final = 300
"""A nominal is the person named last only within this many characters of narration (about
two sentences): further on, "de Enschedeër" may be someone the article never names."""
_ADJECTIVES_BEFORE_NOUN: Final = 2
"""At most this many adjectives between the article and a nominal ("de beduusde Spanjaard")."""


def speaker_mentions(
    body: str, entities: Sequence[Entity], quoted: Sequence[tuple[int, int]]
) -> list[Entity]:
    """The mentions that can be a speaker, in text order, under the name to report.

    Guarantees: every mention returned is a person or an organisation outside the ``quoted``
    spans (names inside a quote are what a speaker talks about); a name the recogniser cut at
    a surname particle is completed from the text; a person named only by a noun after "de" /
    "the" ("de Sloveen", "de beduusde Spanjaard", "the Spaniard", tagged PER or MISC) is the
    person named last before it, and is left out when nobody was within about two sentences
    of narration; an acronym the text defines ("Openbaar Ministerie (OM)") speaks under the
    long name, so "OM" and "het Openbaar Ministerie" are one speaker; a one-word "name" right
    before another person's name ("Dj Gerard Ekdom") is a title the recogniser took for a
    name, and is left out.
    """
    long_names = _defined_acronyms(body, entities)
    kept = [
        e.model_copy(update={"canonical": long_names[e.text]}) if e.text in long_names else e
        for e in entities
        if not any(s <= e.start < t for s, t in quoted)
    ]
    # "De 20-jarige Stanley" reads like "de beduusde Spanjaard", but an article that also
    # names him without the article ("Stanley lijkt …") shows a first name, not a noun.
    bare_names = {e.text for e in kept if e.label is EntityLabel.PER and not _is_nominal(body, e)}
    found: list[Entity] = []
    for index, entity in enumerate(kept):
        if entity.label not in SPEAKER_LABELS | {EntityLabel.MISC}:
            continue
        if _is_nominal(body, entity) and entity.text not in bare_names:
            person = next((e for e in reversed(found) if e.label is EntityLabel.PER), None)
            if person is not None and _narration(person.end, entity.start, quoted) <= _REACH:
                found.append(
                    entity.model_copy(
                        update={
                            "canonical": person.canonical,
                            "label": EntityLabel.PER,
                            "entity_id": person.entity_id,
                        }
                    )
                )
            continue
        if entity.label is EntityLabel.MISC:
            continue
        following = kept[index + 1] if index + 1 < len(kept) else None
        if (
            entity.label is EntityLabel.PER
            and " " not in entity.text
            and following is not None
            and following.label is EntityLabel.PER
            and body[entity.end : following.start] == " "
        ):
            continue  # "Dj Gerard Ekdom": the first word is a title
        if entity.label is EntityLabel.PER:
            rest = _PARTICLE_REST.match(body, entity.end)
            if (
                rest is not None
                and rest.group().split()[-1] not in entity.canonical
                and not _names_an_organisation(rest, kept)
            ):
                entity = entity.model_copy(update={"canonical": entity.canonical + rest.group()})
        found.append(entity)
    return found


def _names_an_organisation(rest: re.Match[str], entities: Sequence[Entity]) -> bool:
    """True when the words after a particle are an organisation, not the rest of a surname:
    "Cees Loggen van de VVD", "Ilse Zaal van D66", "Anna Bos van de Gasunie". A word with two
    capitals or a digit is no surname (VVD, PvdA, GroenLinks, D66); after "van de" a span the
    recogniser tagged ORG is the employer. After "van" alone its ORG tag is not trusted
    ("Ingrid van Engelshoven" comes tagged ORG), nor is a place ("Frie van Rijsbergen")."""
    words = rest.group().split()
    if any(sum(ch.isupper() for ch in w) > 1 or any(ch.isdigit() for ch in w) for w in words):
        return True
    if words[:2] != ["van", "de"]:
        return False
    start, end = rest.span()
    return any(e.label is EntityLabel.ORG and e.start < end and start < e.end for e in entities)


def _defined_acronyms(body: str, entities: Sequence[Entity]) -> dict[str, str]:
    """Acronym -> canonical long name, for each "Long Name (ACR)" in ``body`` whose capitals
    spell ACR: the recogniser keeps both forms apart, and a speaker is one organisation."""
    found: dict[str, str] = {}
    for entity in entities:
        if entity.label not in SPEAKER_LABELS:
            continue
        match = acronym_after(body, entity.end)
        if match is None or match["gap"] != " " or len(match["acronym"]) > _SPEAKER_ACRONYM_MAX:
            continue
        if capitals_spell(match["acronym"], entity.text):
            found.setdefault(match["acronym"], entity.canonical)
    return found


def _narration(start: int, end: int, quoted: Sequence[tuple[int, int]]) -> int:
    """Characters of the writer's own text in ``start:end``: quotes are left out, as they are
    the speaker's words and do not move the narration on to someone else."""
    inside = sum(max(0, min(end, t) - max(start, s)) for s, t in quoted)
    return end - start - inside


def _is_nominal(body: str, entity: Entity) -> bool:
    """``entity`` is one capitalised noun after a definite article, with at most two
    lower-case adjectives between: "de Sloveen", "de beduusde Spanjaard", "the Spaniard";
    tagged MISC, it must read as a demonym. A Dutch inflected adjective ("de Nederlandse
    regering") ends in -e and is no noun."""
    if entity.label not in {EntityLabel.PER, EntityLabel.MISC} or " " in entity.text:
        return False
    if not entity.text[:1].isupper() or entity.text.endswith("e"):
        return False
    if entity.label is EntityLabel.MISC and not _DEMONYM.search(entity.text):
        return False
    # The article must be in the noun's own phrase: across a sentence end or a comma ("in de
    # sociologie. Blom", "de campagne, adviseerde Clinton") the words before belong elsewhere.
    phrase = _PHRASE_BREAK.split(body[max(0, entity.start - 60) : entity.start])[-1]
    before = WORD.findall(phrase)
    # Only inflected adjectives may stand between ("beduusde", "jonge"): a verb or a noun
    # there means the article belongs to another phrase ("in het parlement heeft Guaidó").
    for back, word in enumerate(reversed(before)):
        if word.lower() in DEFINITE:
            return True
        if back >= _ADJECTIVES_BEFORE_NOUN or not word.islower() or not word.endswith("e"):
            return False
    return False


def place_after_cue(body: str, entities: Sequence[Entity], lo: int, hi: int) -> Entity | None:
    """A place named as the speaker of the frame in ``body[lo:hi]`` (after a quote): right
    after or right before its speech verb, ", zegt Duitsland" / '" Germany said'. A country
    or city speaks for its government there; anywhere else a place is no speaker."""
    words = list(WORD.finditer(body, lo, hi))[:2]
    if len(words) < 2 or not any(w.group().lower() in CUES for w in words):
        return None
    other = words[1] if words[0].group().lower() in CUES else words[0]
    return next(
        (e for e in entities if e.label is EntityLabel.LOC and e.start == other.start()), None
    )
