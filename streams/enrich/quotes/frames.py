"""Reporting frames: who said a quote, from the sentence around it and the ones before.

Used by the enricher (``streams.enrich.quotes.QuoteExtractor``) once per document, after the
marks are found; see the package docstring for the rules in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

from schemas import Entity, EntityLabel, Quote
from streams.enrich.base import Document, Span
from streams.enrich.quotes.cues import (
    ACCORDING,
    BACK_REFERENCE,
    BY,
    CUES,
    DEFINITE,
    DETERMINERS,
    GLOSS_LEAD,
    INDEFINITE,
    OF,
    ORG_NOUNS,
    PERSON_NOUNS,
    PLURAL_OR_FEMININE,
    PREPOSITIONS,
    PRONOUNS,
    PUBLIC_BODIES,
    SCARE_LEAD,
    SPEAKS_AS_ITSELF,
    SPOKESPEOPLE,
    TITLE_REACH,
    TITLES,
    WRITERS_IDIOM_TAIL,
    after_preposition,
    blank_asides,
    clause,
    framed_right_after,
    has_cue,
    is_attribution_tail,
    is_named_thing,
    is_partial,
    is_reported,
    is_role_noun,
    object_pronoun,
    repeated_terms,
    sentence_of,
    spokesperson_for,
    unnamed_after_cue,
    unnamed_before_colon,
)
from streams.enrich.quotes.marks import (
    WORD,
    continues,
    find_quotes,
    mark_end,
    mark_start,
    word_count,
)
from streams.enrich.quotes.speakers import place_after_cue, speaker_mentions

_ROLE_ARTICLES: Final = frozenset({"de", "the"})
"""Articles before a person's role noun: Dutch persons are "de" words ("het parlement" is
an institution)."""
_POSSESSIVES: Final = frozenset({"zijn", "haar", "hun", "diens", "his", "her", "their"})
"""Before a title that is no spokesperson these name someone else: "zijn advocaat" is the
lawyer, not the client the text was about ("zijn woordvoerder" does speak for him)."""
_ROLE_VERB_REACH: Final = 2
_REPORTED_MIN_WORDS: Final = 3
"""Shorter quotes in a reported claim may be the writer's terms ("de 'gele hesjes' zouden")."""
_QUALIFIED_REACH: Final = 12
"""Characters between an organisation and the person it qualifies ("Radio 10-dj X")."""
_INDEFINITE_HEAD_REACH: Final = 2
"""Words after "een" where its noun stands: the noun, or an adjective and the noun."""


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: int
    end: int
    speaker: str | None
    """Canonical name; None for a pronoun or title that resolved to nobody."""
    is_person: bool


def _titles(body: str, entities: Sequence[Entity]) -> dict[str, list[tuple[int, str]]]:
    """Title word -> where it introduced which canonical person, in text order, e.g.
    "president" -> [(offset, "Donald Trump")].

    A title is a word right before a person's name ("de Amerikaanse president Donald Trump",
    "PvdA-Kamerlid X": the last part of a compound). A later "de president" refers to the
    latest introduction before it, never to one further on ("woordvoerder" is Anniek Zweers
    until the article introduces "woordvoerder Lotte Nijland").
    """
    titles: dict[str, list[tuple[int, str]]] = {}
    for entity in entities:
        if entity.label is not EntityLabel.PER:
            continue
        words = WORD.findall(body[max(0, entity.start - 40) : entity.start])
        if words:
            title = words[-1].lower().rsplit("-", 1)[-1]
            # A role noun counts only after an article or a preposition ("van kunstenaar
            # Gabriël Sterk"): elsewhere a word before a name may be an adverb ("eerder").
            role = (
                len(words) > 1
                and words[-2].lower() in DETERMINERS | PREPOSITIONS
                and is_role_noun(words[-1])
            )
            if title in TITLES or role:
                titles.setdefault(title, []).append((entity.start, entity.canonical))
    return titles


def _glued_to_sentence_end(body: str, lo: int, open_at: int) -> bool:
    """The quote mark at ``open_at`` follows a word and a full stop with no space between
    ("ontzetting."Ik …"): a sentence ended there, whatever the splitter made of it."""
    return open_at - lo >= 2 and body[open_at - 1] in ".!?" and body[open_at - 2].isalnum()


class Article:
    """One document's attribution state: its entities, titles and the last speaker so far."""

    def __init__(self, doc: Document) -> None:
        self.body = doc.body
        self.doc = doc
        self.sentences = doc.sentences or (Span(0, len(doc.body)),)
        self.titles = _titles(doc.body, doc.entities)
        self.spans = find_quotes(doc.body)
        self.terms = repeated_terms(doc.body, self.spans)
        self.speakers = speaker_mentions(doc.body, doc.entities, self.spans)
        self.places = [e for e in doc.entities if e.label is EntityLabel.LOC]
        self.ids: dict[str, str] = {}
        for e in (*self.speakers, *self.places):
            if e.entity_id is not None:
                self.ids.setdefault(e.canonical, e.entity_id)
        self.people = {e.canonical for e in self.speakers if e.label is EntityLabel.PER}
        self.last_speaker: str | None = None
        self.last_person: str | None = None
        """The last speaker who is a person: whom a pronoun can be (never an organisation)."""

    def quotes(self) -> Document:
        body = self.body
        quotes: list[Quote] = []
        by_sentence: dict[int, str | None] = {}
        for start, end in self.spans:
            first = sentence_of(self.sentences, start)
            last = max(first, sentence_of(self.sentences, end))
            lo = min(self.sentences[first].start, start)
            hi = max(self.sentences[last].end, end)
            open_at = mark_start(body, start)
            close_at = mark_end(body, end)
            if _glued_to_sentence_end(body, lo, open_at):
                # 'in West-Knollendam."We hebben …," vertelt Gray': the corpus lost the space,
                # so the splitter joined two sentences; the one before is no part of the frame.
                lo = open_at
            head, tail = body[lo:open_at], body[close_at:hi]
            alone = not any(ch.isalnum() for ch in head + tail)
            short = word_count(body, start, end) <= 2
            speaker: str | None = None
            framed = False
            if quotes and continues(body, quotes[-1].end, start):
                # The quote before never closed: the same voice goes on in a new paragraph.
                speaker, framed = quotes[-1].speaker, True
            elif not any(ch.isalnum() for ch in head) and is_attribution_tail(body, end, tail):
                framed = True
                # ", zegt een vrijwilliger …" names nobody: no speaker rather than a guess.
                place = place_after_cue(body, self.places, close_at, hi)
                if place is not None:
                    speaker = place.canonical  # ", zegt Duitsland": the state speaks
                elif not unnamed_after_cue(tail):
                    speaker = self._first(close_at, hi, first)
            elif (
                has_cue(clause(head))
                or (not short and has_cue(tail))
                or (short and framed_right_after(body, start, close_at))
            ):
                framed = True
                if not unnamed_before_colon(head):
                    speaker = self._head_frame(lo, open_at, first)
                if speaker is None and (has_cue(tail) or BY.match(tail)):
                    # "'…', said X" or, passive, "called '…' by X".
                    speaker = self._first(close_at, hi, first)
            elif head.rstrip().endswith(":"):
                # A colon alone also introduces lists of terms ("het thema: 'de moeder de
                # vrouw'"): speech when it names a speaker or quotes more than a phrase.
                if not unnamed_before_colon(head):
                    speaker = self._head_frame(lo, open_at, first) or (
                        self._surname_before_colon(head, open_at)
                    )
                framed = speaker is not None or word_count(body, start, end) > 4
            elif alone:
                named = self._named_after(last)
                if named is not None:
                    speaker, framed = named, True
                elif first == 0:
                    continue  # a lone quote that opens the article: a motto or catch-phrase
                else:
                    speaker = self._continued(first, by_sentence)
            elif is_partial(body, start, end):
                # "X is 'een beetje flabbergasted'": no speech verb, but a clause of three or
                # more words the writer's sentence runs into (it starts lower-case), in a
                # sentence whose subject is named, is that subject's words. A title or a name
                # of a thing starts with a capital; a one- or two-word term stays a scare quote.
                speaker = self._head_frame(lo, open_at, first)
                framed = speaker is not None
            if (
                not (alone or framed)
                and word_count(body, start, end) >= _REPORTED_MIN_WORDS
                and is_reported(head + tail)
                and by_sentence.get(first - 1) is not None
            ):
                # "De doelen zouden 'extreem ambitieus, onhaalbaar' zijn", right after a
                # quoted speaker: the reportive "zou" goes on with that speaker's claim.
                speaker, framed = by_sentence[first - 1], True
            if not (alone or framed) or (short and not alone and speaker is None):
                continue  # a scare quote or a title: quoted words, nobody's speech
            if (
                SCARE_LEAD.search(head)
                or GLOSS_LEAD.search(head)
                or WRITERS_IDIOM_TAIL.match(tail)
                or is_named_thing(head, body[start:end])
                or (short and not alone and (start, end) in self.terms)
            ):
                continue  # a term the writer names, glosses or quotes again: no speech
            speaker = self._full_name(speaker)
            if speaker is not None:
                self.last_speaker = speaker
                if speaker in self.people:
                    self.last_person = speaker
            by_sentence[last] = speaker
            quotes.append(
                Quote(
                    text=body[start:end],
                    start=start,
                    end=end,
                    speaker=speaker,
                    speaker_id=self.ids.get(speaker) if speaker is not None else None,
                )
            )
        return self.doc.with_(quotes=tuple(quotes))

    def _candidates(self, lo: int, hi: int, sentence: int) -> list[_Candidate]:
        """Speakers named in ``body[lo:hi]`` outside asides, in text order; pronouns and
        titles resolved against the text before sentence number ``sentence``."""
        masked = blank_asides(self.body[lo:hi])
        found = [
            _Candidate(e.start, e.end, e.canonical, e.label is EntityLabel.PER)
            for e in self.speakers
            if lo <= e.start and e.end <= hi and not masked[e.start - lo].isspace()
        ]
        taken = [(c.start, c.end) for c in found]
        previous = ""
        for match in WORD.finditer(masked):
            at = lo + match.start()
            word = match.group().lower()
            head_noun = word.rsplit("-", 1)[-1]
            if any(s <= at < e for s, e in taken) or any(s <= at < e for s, e in self.spans):
                previous = word
                continue
            if word in PRONOUNS:
                found.append(_Candidate(at, at + len(word), self._pronoun(word, sentence), True))
            elif (organisation := spokesperson_for(match.group())) is not None:
                found.append(_Candidate(at, at + len(word), organisation, False))
            elif head_noun in TITLES and any(
                0 <= c.start - at <= TITLE_REACH and c.is_person for c in found
            ):
                pass  # a title a name follows ("woordvoerder Anniek Zweers"): the name speaks
            elif (introduced := self._introduced(head_noun, at)) is not None:
                found.append(_Candidate(at, at + len(word), introduced, True))
            elif head_noun in TITLES and OF.match(masked, match.end()):
                # "de woordvoerder van het OM": the OM, named next, speaks. "de burgemeester
                # van de plaats Cairo", introduced by no name: someone the text does not name.
                if head_noun not in SPOKESPEOPLE:
                    found.append(_Candidate(at, at + len(word), None, True))
            elif head_noun in TITLES and previous not in INDEFINITE:
                # "zijn woordvoerder", "aldus de minister": whom the text was just about. Not
                # "een woordvoerster van X" (someone unnamed: X is the speaker) nor a title
                # that a name follows ("minister van Buitenlandse Zaken Mike Pompeo").
                # A lead may name the role before the person ("zegt zijn advocaat", then
                # "Advocaat Umut Ural"): with nobody before, the first introduction after.
                introduced_later = next(iter(self.titles.get(head_noun, ())), (0, None))[1]
                if previous in _POSSESSIVES and head_noun not in SPOKESPEOPLE:
                    # "legt zijn advocaat uit": the possessor's lawyer, whom only a later
                    # "Advocaat X" can name; never the possessor.
                    resolved = introduced_later
                else:
                    resolved = (
                        self._subject_before(sentence) or self.last_speaker or introduced_later
                    )
                found.append(_Candidate(at, at + len(word), resolved, True))
            elif (
                previous in _ROLE_ARTICLES
                and is_role_noun(match.group())
                and head_noun not in ORG_NOUNS
                and self._at_speech_verb(masked, match.start(), match.end())
                and not any(0 <= c.start - at <= TITLE_REACH and c.is_person for c in found)
            ):
                # ", zegt de kunstenaar", "zei de stafchef", "the artist said": a role noun
                # at the speech verb is the person the text was just about, as a title is.
                found.append(_Candidate(at, at + len(word), self._pronoun("hij", sentence), True))
            elif previous in DEFINITE and (len(word) >= 5 or head_noun in ORG_NOUNS):
                # "de inspectie" after "de Onderwijsinspectie": a short form of a name; "het
                # bedrijf", "de bond": the organisation named before.
                named = self._named_as(word, at)
                if named is None and head_noun in PUBLIC_BODIES:
                    named = self._body_of_place(head_noun, at)
                if named is None and head_noun in SPEAKS_AS_ITSELF:
                    named = head_noun
                if named is None and head_noun in ORG_NOUNS:
                    named = self._organisation_before(head_noun, at)
                if named is not None:
                    found.append(_Candidate(at, at + len(word), named, False))
            previous = word
        return sorted(found, key=lambda c: c.start)

    @staticmethod
    def _at_speech_verb(text: str, start: int, end: int) -> bool:
        """The noun at ``text[start:end]``, after its article, is the subject of a speech verb:
        the verb stands right before the article (", zegt de kunstenaar") or within two words
        after the noun ("De gastheer zelf zegt", "the artist said")."""
        before = WORD.findall(text[:start])
        after = [w.lower() for w in WORD.findall(text[end:])[:_ROLE_VERB_REACH]]
        return (len(before) > 1 and before[-2].lower() in CUES) or any(w in CUES for w in after)

    def _surname_before_colon(self, head: str, before: int) -> str | None:
        """The person a bare surname before a colon frame stands for ("Verschuur: ,,…''",
        "Bruins: ,,…''"): the recogniser often leaves a lone surname there untagged, but the
        article named the person in full before. A single capitalised word that is no one's
        surname ("Conclusie: '…'") names nobody."""
        words = WORD.findall(head)
        if len(words) != 1 or not words[0][:1].isupper():
            return None
        named = [
            e.canonical
            for e in self.speakers
            if e.label is EntityLabel.PER
            and e.end <= before
            and " " in e.canonical
            and e.canonical.rsplit(" ", 1)[-1] == words[0]
        ]
        return named[-1] if named else None

    def _introduced(self, title: str, at: int) -> str | None:
        """The person the latest "<title> <name>" before offset ``at`` introduced."""
        before = [name for start, name in self.titles.get(title, ()) if start < at]
        return before[-1] if before else None

    def _first(self, lo: int, hi: int, sentence: int) -> str | None:
        """The first speaker named in ``body[lo:hi]``."""
        found = [c for c in self._candidates(lo, hi, sentence) if c.speaker is not None]
        if not found:
            return None
        # "reageerde minister van Gezondheidszorg Agnès Buzyn": an organisation right before
        # a person qualifies that person, who speaks.
        if (
            len(found) > 1
            and not found[0].is_person
            and found[1].is_person
            and found[1].start - found[0].end <= _QUALIFIED_REACH
        ):
            return found[1].speaker
        return found[0].speaker

    def _head_frame(self, lo: int, hi: int, sentence: int) -> str | None:
        """The speaker of a frame before the quote: X after "volgens X", else the subject."""
        text = self.body[lo:hi]
        for match in WORD.finditer(text):
            if match.group().lower() in ACCORDING:
                pronoun = object_pronoun(text, match.end())
                if pronoun is not None:
                    # "Volgens haar heeft …": whom "zij" would be; the object form is no
                    # subject pronoun, so the mention scan does not see it.
                    return self._pronoun(pronoun, sentence)
                named = [
                    c
                    for c in self._candidates(lo + match.end(), hi, sentence)
                    if c.speaker is not None
                ]
                if named:
                    # "volgens Radio 10-dj Gerard Ekdom": the person the organisation's
                    # name qualifies, not the organisation.
                    if (
                        not named[0].is_person
                        and len(named) > 1
                        and named[1].is_person
                        and named[1].start - named[0].end <= _QUALIFIED_REACH
                    ):
                        return named[1].speaker
                    return named[0].speaker
        # The clause that holds the quote: after the last colon or semicolon before it,
        # unless that colon is the frame itself ("X bezwoer: '…'").
        stripped = text.rstrip()
        cut = max(stripped.rfind(";"), stripped.rfind(":", 0, max(0, len(stripped) - 1)))
        clause = lo + cut + 1 if cut >= 0 else lo
        mentioned = self._candidates(clause, hi, sentence)
        found = [c for c in mentioned if c.speaker is not None]
        # The subject before the verb is a person where one is named: "de minister van
        # Buitenlandse Zaken Mike Pompeo noemde" is Pompeo's, not the ministry's.
        cue = next(
            (m.start() for m in WORD.finditer(self.body, clause, hi)
             if m.group().lower() in CUES),
            hi,
        )  # fmt: skip
        opening = WORD.search(self.body, clause, hi)
        if (
            found
            and opening is not None
            and opening.group().lower() in PREPOSITIONS
            and opening.end() <= found[0].start < cue
        ):
            # "In De Telegraaf zei hij:", "In een interview met Trouw zei hij eerder:": a
            # clause opened by a prepositional phrase puts its subject right after the verb,
            # and the medium or place in the phrase is no speaker, even where a pronoun
            # there resolves to nobody.
            verb = WORD.match(self.body, cue)
            inverted = [
                c
                for c in mentioned
                if verb is not None
                and 0 <= c.start - verb.end() <= TITLE_REACH
                and not any(ch in ",;:" for ch in self.body[verb.end() : c.start])
            ]
            if inverted:
                return inverted[0].speaker
        persons = [c for c in found if c.is_person and c.start < cue]
        if persons:
            return persons[0].speaker
        return found[0].speaker if found else None

    def _subject_before(self, sentence: int) -> str | None:
        """The first person named (outside asides and quotes) in the nearest sentence before
        number ``sentence`` that names one: whom "hij", "ze" or "de minister" refers to."""
        for index in range(sentence - 1, max(-1, sentence - 4), -1):
            span = self.sentences[index]
            masked = blank_asides(self.body[span.start : span.end])
            for e in self.speakers:
                if (
                    span.start <= e.start < span.end
                    and e.label is EntityLabel.PER
                    and not masked[e.start - span.start].isspace()
                    and not after_preposition(masked[: e.start - span.start])
                ):
                    return e.canonical
        return None

    def _pronoun(self, word: str, sentence: int) -> str | None:
        """Whom "hij", "ze" or "he" in sentence number ``sentence`` refers to: the subject of
        the sentence before when that is a named person; nobody when that subject is a person
        the text does not name ("De moeder van Sarah hoopt …, zegt ze": the mother, not
        Sarah); else the nearest person named before outside a prepositional phrase; else the
        last speaker who is a person (or, for "ze" / "they", any last speaker)."""
        if sentence > 0:
            known, subject = self._subject_of(sentence - 1)
            if known:
                return subject
        found = self._subject_before(sentence) or self.last_person
        if found is None and word in PLURAL_OR_FEMININE:
            return self.last_speaker  # Dutch "ze", English "they" can be an organisation
        return found

    def _subject_of(self, index: int) -> tuple[bool, str | None]:
        """The subject of sentence number ``index`` as (known, name): (True, canonical name)
        for a named person, (True, None) for a person named only by a noun ("de moeder van X",
        "een bewoner", "a spokesman for the union"), (False, None) when the subject is no
        person these rules can tell."""
        span = self.sentences[index]
        masked = blank_asides(self.body[span.start : span.end])
        words = [(m.start(), m.group().lower()) for m in WORD.finditer(masked)]
        if not words:
            return False, None
        people = [
            e
            for e in self.speakers
            if span.start <= e.start < span.end
            and e.label is EntityLabel.PER
            and not masked[e.start - span.start].isspace()
        ]
        first = people[0] if people else None
        before = [w for at, w in words if span.start + at < first.start] if first else []
        if first is not None and (not before or before[-1] not in PREPOSITIONS):
            return (True, first.canonical) if len(before) <= 4 else (False, None)
        for (_, word), (at, nxt) in pairwise(words):
            if word in SPOKESPEOPLE and nxt in {"van", "of"}:
                # "Dat zegt een woordvoerder van het OM. '…', zegt hij": the OM speaks.
                after = span.start + at
                org = next(
                    (e for e in self.speakers if after <= e.start < span.end and e.label
                     is EntityLabel.ORG),
                    None,
                )  # fmt: skip
                if org is not None:
                    return True, org.canonical
        if words[0][1] in DEFINITE | INDEFINITE and len(words) > 2:
            nxt = words[2][1]
            if first is not None and nxt in PREPOSITIONS and before[-1] in PREPOSITIONS:
                return True, None  # "de moeder van Sarah": the mother, whom the text does not name
            if (
                words[0][1] in INDEFINITE
                and self._person_after_article(words)
                and (
                    not self._names_in(span.start, span.end)
                    or (first is not None and before and before[-1] in PREPOSITIONS)
                )
            ):
                # "een bewoner", "a resident", "Een van de ambtenaren richt zich tot X":
                # somebody unnamed, whoever the sentence names after a preposition.
                return True, None
        return False, None

    @staticmethod
    def _person_after_article(words: Sequence[tuple[int, str]]) -> bool:
        """The indefinite phrase opening a sentence can be a person: a role noun or a
        person's noun within two words ("een bewoner", "een trotse vader"), or "een van …".
        "Een shock pad moet …" and "Een confrontatie waar hij … genoot" name a thing, so the
        person the text was about stays the subject of what follows."""
        head = [w for _, w in words[1 : 1 + _INDEFINITE_HEAD_REACH]]
        # Compounds end in their head: "ooggetuige", "buurjongen".
        return any(w.endswith(PERSON_NOUNS) or w in {"van", "of"} or is_role_noun(w) for w in head)

    def _names_in(self, lo: int, hi: int) -> bool:
        return any(lo <= e.start < hi for e in self.speakers)

    def _named_after(self, index: int) -> str | None:
        """The speaker of a lone quote named by the next sentence when it points back at the
        quote ("Met die woorden opende X…", "Zo reageerde X", "With those words, X…")."""
        if index + 1 >= len(self.sentences):
            return None
        span = self.sentences[index + 1]
        if "\n" in self.body[self.sentences[index].end : span.start]:
            return None
        if not BACK_REFERENCE.match(self.body, span.start, span.end):
            return None
        persons = [
            c for c in self._candidates(span.start, span.end, index + 1) if c.speaker is not None
        ]
        return persons[0].speaker if persons else None

    def _full_name(self, speaker: str | None) -> str | None:
        """The article's full name for a speaker the recogniser kept as a first name only:
        "Ingrid" -> "Ingrid van Engelshoven" when the article names her so."""
        if speaker is None or " " in speaker or speaker not in self.people:
            return speaker
        # People first; the recogniser tags some full names ORG ("Jutta Leerdam").
        ranked = sorted(self.speakers, key=lambda e: e.label is not EntityLabel.PER)
        for entity in ranked:
            name = entity.canonical
            if " " in name and name.split(" ", 1)[0] == speaker:
                return name
        return speaker

    def _organisation_before(self, noun: str, before: int) -> str | None:
        """The organisation "het bedrijf" / "de bond" at offset ``before`` refers to: the
        latest one named before whose name holds the noun, else the latest one named."""
        named = [e for e in self.speakers if e.end <= before and e.label is EntityLabel.ORG]
        holding = [e for e in named if noun in e.text.lower()]
        chosen = holding or named
        return chosen[-1].canonical if chosen else None

    def _body_of_place(self, noun: str, before: int) -> str | None:
        """What "de gemeente" stands for when the text named it with its place before offset
        ``before``: "gemeente Eindhoven" after "de gemeente Eindhoven", where the recogniser
        tagged the place and not the body."""
        named = [
            f"{noun} {e.canonical}"
            for e in self.places
            if e.end <= before and self.body[: e.start].rstrip().lower().endswith(noun)
        ]
        return named[-1] if named else None

    def _named_as(self, word: str, before: int) -> str | None:
        named = [e for e in self.speakers if e.end <= before and e.text.lower().endswith(word)]
        return named[-1].canonical if named else None

    def _continued(self, index: int, by_sentence: dict[int, str | None]) -> str | None:
        """The speaker of a quote that is its own sentence, from the sentences before it."""
        if index == 0:
            return None
        previous = self.sentences[index - 1]
        between = self.body[previous.end : self.sentences[index].start]
        if "\n" in between:
            return None  # a new paragraph: a heading or a new voice
        if (
            not by_sentence
            and self.body[previous.start : previous.end].rstrip().endswith("?")
            and not any(previous.start <= s < previous.end for s, _ in self.spans)
        ):
            # The article's first quote, alone after an unquoted question: an interview's
            # first answer, given by the person the lead names first ("Vijf vragen aan Ben
            # Geelink"); later answers go on with that speaker. After other quotes a question
            # may be the writer's own ("Excuus?" in a column).
            return next((e.canonical for e in self.speakers if e.label is EntityLabel.PER), None)
        if index - 1 in by_sentence:
            # The quote before continues, named or not: a missing speaker beats a guess.
            return by_sentence[index - 1]
        known, subject = self._subject_of(index - 1)
        if known and subject is None:
            return None  # "Een bewoner is minder optimistisch. '…'": somebody unnamed
        people = [
            c
            for c in self._candidates(previous.start, previous.end, index - 1)
            if c.speaker is not None
        ]
        persons = [c for c in people if c.is_person]
        if persons:
            return persons[0].speaker
        if people and has_cue(self.body[previous.start : previous.end]):
            return people[0].speaker
        return self.last_speaker or self._subject_before(index)
