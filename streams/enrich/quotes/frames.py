"""Reporting frames: who said a quote, from the sentence around it and the ones before.

Used by the enricher (``streams.enrich.quotes.QuoteExtractor``) once per document, after the
marks are found; see the package docstring for the rules in words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from schemas import Entity, EntityLabel, Quote
from streams.enrich.base import Document, Span
from streams.enrich.quotes.marks import WORD, find_quotes, mark_end, mark_start, word_count

# Cues of reported speech before a quote. Lower-case words; matched on whole words.
_CUES: Final = frozenset(
    {
        # Dutch
        "zei", "zegt", "zeggen", "zeiden", "zeggend", "aldus", "volgens", "noemde", "noemt",
        "noemen", "vond", "vindt", "vinden", "benadrukte", "benadrukt", "verklaarde",
        "verklaart", "vertelde", "vertelt", "stelde", "stelt", "stellen", "schreef", "schrijft",
        "schrijven", "meldde", "meldt", "melden", "antwoordde", "antwoordt", "reageerde",
        "reageert", "voegde", "weten", "waarschuwde", "waarschuwt", "beloofde",
        "belooft", "riep", "roept", "twitterde", "twittert", "tweette", "herhaalde", "erkende",
        "erkent", "ontkende", "bezwoer", "bezweert", "kondigde", "kondigt", "aangekondigd",
        "concludeert", "concludeerde", "oordeelde", "oordeelt", "pleiten", "pleit", "pleitte",
        "klaagt", "klaagde", "constateert", "constateerde", "sprak", "spreekt",
        "gezegd", "verklaard", "gemeld",
        # English
        "said", "says", "say", "told", "tells", "added", "adds", "according", "called",
        "calls", "call", "stated", "states", "wrote", "writes", "replied", "answered", "warned",
        "insisted", "argued", "explained", "tweeted", "asked", "declared", "noted", "spoke",
        "described", "announced",
    }
)  # fmt: skip
# Cues that introduce speech only with a preposition: "sprak van «…»", not "sprak over X".
_NEEDS_VAN: Final = frozenset({"sprak", "spreekt", "spoke"})
_ACCORDING: Final = frozenset({"volgens", "according"})
_PRONOUNS: Final = frozenset({"hij", "zij", "ze", "he", "she", "they"})
_TITLES: Final = frozenset(
    {
        "president", "premier", "minister", "leider", "dictator", "kanselier", "koning",
        "koningin", "woordvoerder", "woordvoerster", "burgemeester", "ceo", "topman",
        "voorzitter", "secretaris-generaal", "paus", "wethouder", "advocaat", "directeur",
        "trainer", "coach", "bondscoach", "staatssecretaris", "kamerlid", "officier",
        "prime", "chancellor", "leader", "spokesman", "spokeswoman", "spokesperson", "mayor",
        "chairman", "secretary", "senator", "governor",
    }
)  # fmt: skip
_SPEAKER_LABELS: Final = frozenset({EntityLabel.PER, EntityLabel.ORG})
# Text the subject of a clause never stands in: parentheses ("Y (GroenLinks)") and relative
# or appositive clauses between commas (", die de familie bijstaat,", ", who met X,").
_ASIDE: Final = re.compile(
    r"\([^()]*\)|,\s*(?:die|dat|wiens|wier|waar\w*|who|whose|which|where)\b[^,:;]*(?:,|$)"
)
_DEFINITE: Final = frozenset({"de", "het", "the"})
_INDEFINITE: Final = frozenset({"een", "a", "an"})
_PLURAL_OR_FEMININE: Final = frozenset({"ze", "zij", "they"})
_BY: Final = re.compile(r"\W*(?:by|door)\s", re.I)
_CLAUSE_BREAK: Final = re.compile(r";|,\s*(?:maar|but|terwijl|while|whereas)\b", re.I)
_DETERMINERS: Final = (
    _DEFINITE
    | _INDEFINITE
    | frozenset(
        {"zijn", "haar", "hun", "ons", "onze", "his", "her", "their", "its", "our", "deze", "die"}
    )
)
_TITLE_REACH: Final = 40
# Words before a name that make it no subject: "praat met X", "de moeder van X", "about X".
_PREPOSITIONS: Final = frozenset(
    {
        "van", "met", "over", "tegen", "aan", "voor", "door", "bij", "naar", "om", "op", "in",
        "of", "with", "about", "to", "for", "by", "at", "from", "on",
    }
)  # fmt: skip
# A sentence after a lone quote that points back at it names its speaker: "Met die woorden
# opende X…", "Zo reageerde X", "Dat zei X", "With those words, X…", "Words of X".
_BACK_REFERENCE: Final = re.compile(
    r"\s*(?:(?:met|with)\s+(?:die|deze|those|these)\s+(?:woorden|words)"
    r"|(?:\w+\s+)?woorden\s+van"
    r"|(?:zo|dat|aldus|that|this)\b(?=.{0,40}?\b(?:" + "|".join(sorted(_CUES)) + r")\b))",
    re.I,
)
_SCARE_LEAD: Final = re.compile(r"(?:zogenoemde|zogeheten|so-called|het woord|the word)\W*$", re.I)


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: int
    end: int
    speaker: str | None
    """Canonical name; None for a pronoun or title that resolved to nobody."""
    is_person: bool


def _titles(body: str, entities: Sequence[Entity]) -> dict[str, str]:
    """Title word -> canonical person it introduced, e.g. "president" -> "Donald Trump".

    A title is a word right before a person's name ("de Amerikaanse president Donald Trump",
    "PvdA-Kamerlid X": the last part of a compound); the latest introduction wins, as a later
    "de president" refers to it.
    """
    titles: dict[str, str] = {}
    for entity in entities:
        if entity.label is not EntityLabel.PER:
            continue
        words = WORD.findall(body[max(0, entity.start - 40) : entity.start])
        if words:
            title = words[-1].lower().rsplit("-", 1)[-1]
            if title in _TITLES:
                titles[title] = entity.canonical
    return titles


def _masked(text: str) -> str:
    """``text`` with asides blanked out (same length, so offsets still hold)."""
    return _ASIDE.sub(lambda m: " " * len(m.group()), text)


def _has_cue(text: str) -> bool:
    words = [w.lower() for w in WORD.findall(text)]
    for i, word in enumerate(words):
        if word in _NEEDS_VAN:
            if i + 1 < len(words) and words[i + 1] in {"van", "of"}:
                return True
        elif word in _CUES:
            return True
    return False


class Article:
    """One document's attribution state: its entities, titles and the last speaker so far."""

    def __init__(self, doc: Document) -> None:
        self.body = doc.body
        self.doc = doc
        self.sentences = doc.sentences or (Span(0, len(doc.body)),)
        self.titles = _titles(doc.body, doc.entities)
        self.spans = find_quotes(doc.body)
        # Names inside quoted text are what a speaker talks about, never a speaker.
        self.speakers = [
            e
            for e in doc.entities
            if e.label in _SPEAKER_LABELS and not any(s <= e.start < t for s, t in self.spans)
        ]
        self.ids = {e.canonical: e.entity_id for e in self.speakers if e.entity_id is not None}
        self.people = {e.canonical for e in self.speakers if e.label is EntityLabel.PER}
        self.last_speaker: str | None = None
        self.last_person: str | None = None
        """The last speaker who is a person: whom a pronoun can be (never an organisation)."""

    def quotes(self) -> Document:
        body = self.body
        quotes: list[Quote] = []
        by_sentence: dict[int, str | None] = {}
        for start, end in self.spans:
            first = _sentence_of(self.sentences, start)
            last = max(first, _sentence_of(self.sentences, end))
            lo = min(self.sentences[first].start, start)
            hi = max(self.sentences[last].end, end)
            open_at = mark_start(body, start)
            close_at = mark_end(body, end)
            head, tail = body[lo:open_at], body[close_at:hi]
            alone = not any(ch.isalnum() for ch in head + tail)
            short = word_count(body, start, end) <= 2
            speaker: str | None = None
            framed = False
            if not any(ch.isalnum() for ch in head) and _is_attribution_tail(body, end, tail):
                framed = True
                # ", zegt een vrijwilliger …" names nobody: no speaker rather than a guess.
                speaker = None if _unnamed_after_cue(tail) else self._first(close_at, hi, first)
            elif _has_cue(_clause(head)) or (not short and _has_cue(tail)):
                framed = True
                speaker = self._head_frame(lo, open_at, first)
                if speaker is None and (_has_cue(tail) or _BY.match(tail)):
                    # "'…', said X" or, passive, "called '…' by X".
                    speaker = self._first(close_at, hi, first)
            elif head.rstrip().endswith(":"):
                # A colon alone also introduces lists of terms ("het thema: 'de moeder de
                # vrouw'"): speech when it names a speaker or quotes more than a phrase.
                speaker = self._head_frame(lo, open_at, first)
                framed = speaker is not None or word_count(body, start, end) > 4
            elif alone:
                named = self._named_after(last)
                if named is not None:
                    speaker, framed = named, True
                elif first == 0:
                    continue  # a lone quote that opens the article: a motto or catch-phrase
                else:
                    speaker = self._continued(first, by_sentence)
            elif _is_partial(body, start, end):
                # "X is 'een beetje flabbergasted'": no speech verb, but a clause of three or
                # more words the writer's sentence runs into (it starts lower-case), in a
                # sentence whose subject is named, is that subject's words. A title or a name
                # of a thing starts with a capital; a one- or two-word term stays a scare quote.
                speaker = self._head_frame(lo, open_at, first)
                framed = speaker is not None
            if not (alone or framed) or (short and not alone and speaker is None):
                continue  # a scare quote or a title: quoted words, nobody's speech
            if _SCARE_LEAD.search(head):
                continue
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
        masked = _masked(self.body[lo:hi])
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
            if word in _PRONOUNS:
                found.append(_Candidate(at, at + len(word), self._pronoun(word, sentence), True))
            elif head_noun in self.titles:
                found.append(_Candidate(at, at + len(word), self.titles[head_noun], True))
            elif (
                head_noun in _TITLES
                and previous not in _INDEFINITE
                and not any(0 <= c.start - at <= _TITLE_REACH and c.is_person for c in found)
            ):
                # "zijn woordvoerder", "aldus de minister": whom the text was just about. Not
                # "een woordvoerster van X" (someone unnamed: X is the speaker) nor a title
                # that a name follows ("minister van Buitenlandse Zaken Mike Pompeo").
                resolved = self._subject_before(sentence) or self.last_speaker
                found.append(_Candidate(at, at + len(word), resolved, True))
            elif previous in _DEFINITE and len(word) >= 5:
                # "de inspectie" after "de Onderwijsinspectie": a short form of a name.
                named = self._named_as(word, at)
                if named is not None:
                    found.append(_Candidate(at, at + len(word), named, False))
            previous = word
        return sorted(found, key=lambda c: c.start)

    def _first(self, lo: int, hi: int, sentence: int) -> str | None:
        """The first speaker named in ``body[lo:hi]``."""
        found = [c for c in self._candidates(lo, hi, sentence) if c.speaker is not None]
        return found[0].speaker if found else None

    def _head_frame(self, lo: int, hi: int, sentence: int) -> str | None:
        """The speaker of a frame before the quote: X after "volgens X", else the subject."""
        text = self.body[lo:hi]
        for match in WORD.finditer(text):
            if match.group().lower() in _ACCORDING:
                after = self._first(lo + match.end(), hi, sentence)
                if after is not None:
                    return after
        # The clause that holds the quote: after the last colon or semicolon before it,
        # unless that colon is the frame itself ("X bezwoer: '…'").
        stripped = text.rstrip()
        cut = max(stripped.rfind(";"), stripped.rfind(":", 0, max(0, len(stripped) - 1)))
        clause = lo + cut + 1 if cut >= 0 else lo
        found = [c for c in self._candidates(clause, hi, sentence) if c.speaker is not None]
        # The subject before the verb is a person where one is named: "de minister van
        # Buitenlandse Zaken Mike Pompeo noemde" is Pompeo's, not the ministry's.
        cue = next(
            (m.start() for m in WORD.finditer(self.body, clause, hi)
             if m.group().lower() in _CUES),
            hi,
        )  # fmt: skip
        persons = [c for c in found if c.is_person and c.start < cue]
        if persons:
            return persons[0].speaker
        return found[0].speaker if found else None

    def _subject_before(self, sentence: int) -> str | None:
        """The first person named (outside asides and quotes) in the nearest sentence before
        number ``sentence`` that names one: whom "hij", "ze" or "de minister" refers to."""
        for index in range(sentence - 1, max(-1, sentence - 4), -1):
            span = self.sentences[index]
            masked = _masked(self.body[span.start : span.end])
            for e in self.speakers:
                if (
                    span.start <= e.start < span.end
                    and e.label is EntityLabel.PER
                    and not masked[e.start - span.start].isspace()
                    and not _after_preposition(masked[: e.start - span.start])
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
        if found is None and word in _PLURAL_OR_FEMININE:
            return self.last_speaker  # Dutch "ze", English "they" can be an organisation
        return found

    def _subject_of(self, index: int) -> tuple[bool, str | None]:
        """The subject of sentence number ``index`` as (known, name): (True, canonical name)
        for a named person, (True, None) for a person named only by a noun ("de moeder van X",
        "een bewoner", "a spokesman for the union"), (False, None) when the subject is no
        person these rules can tell."""
        span = self.sentences[index]
        masked = _masked(self.body[span.start : span.end])
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
        if first is not None and (not before or before[-1] not in _PREPOSITIONS):
            return (True, first.canonical) if len(before) <= 4 else (False, None)
        if words[0][1] in _DEFINITE | _INDEFINITE and len(words) > 2:
            nxt = words[2][1]
            if first is not None and nxt in _PREPOSITIONS and before[-1] in _PREPOSITIONS:
                return True, None  # "de moeder van Sarah": the mother, whom the text does not name
            if words[0][1] in _INDEFINITE and not self._names_in(span.start, span.end):
                return True, None  # "een bewoner", "a resident": somebody unnamed
        return False, None

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
        if not _BACK_REFERENCE.match(self.body, span.start, span.end):
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
        if people and _has_cue(self.body[previous.start : previous.end]):
            return people[0].speaker
        return self.last_speaker or self._subject_before(index)


def _is_partial(body: str, start: int, end: int) -> bool:
    """The quoted text reads as part of the writer's sentence: it starts lower-case, holds a
    clause-sized phrase (three words or more) and is no noun phrase's head: after "de", "een",
    "zijn" or "the" a quote is an epithet or a name ("de 'koning van de weide'")."""
    before = WORD.findall(body[max(0, start - 20) : mark_start(body, start)])
    if before and before[-1].lower() in _DETERMINERS:
        return False
    return body[start].islower() and word_count(body, start, end) >= 3


def _clause(head: str) -> str:
    """The clause of ``head`` that holds the quote: after the last ", maar" / ", but" or
    semicolon, so "X was called '…', but farmers see 'red tape'" gives 'red tape' no cue."""
    cut = max((m.end() for m in _CLAUSE_BREAK.finditer(head)), default=0)
    return head[cut:]


def _after_preposition(text: str) -> bool:
    """``text`` (what precedes a name) ends in a preposition: the name is no subject."""
    words = WORD.findall(text)
    return bool(words) and words[-1].lower() in _PREPOSITIONS


def _unnamed_after_cue(tail: str) -> bool:
    """The frame after a quote names an unnamed person: ", zegt een vrijwilliger …", ", said a
    resident" (not "een woordvoerder van X", whose X speaks)."""
    words = [w.lower() for w in WORD.findall(tail)]
    for i, word in enumerate(words[:-1]):
        if word in _CUES:
            return (
                words[i + 1] in _INDEFINITE
                and i + 2 < len(words)
                and words[i + 2].rsplit("-", 1)[-1] not in _TITLES
            )
    return False


def _is_attribution_tail(body: str, end: int, tail: str) -> bool:
    """``tail`` (after the closing mark) attributes the quote: ", zegt X", "”, lacht ze",
    or, after a comma, '?' or '!' inside the marks, '" zegt X' and '” X said'."""
    text = tail.lstrip()
    first = WORD.match(text.lstrip(", "))
    if first is None:
        return False
    if text.startswith(",") or body[end : end + 1] == "," or body[end - 1 : end] in {"?", "!"}:
        return True
    return first.group().lower() in _CUES


def _sentence_of(sentences: Sequence[Span], offset: int) -> int:
    for index, span in enumerate(sentences):
        if span.start <= offset < span.end:
            return index
    # Between sentences (a mark the splitter left out): the next sentence, or the last one.
    for index, span in enumerate(sentences):
        if offset < span.start:
            return index
    return len(sentences) - 1
