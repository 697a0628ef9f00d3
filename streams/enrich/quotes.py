"""The ``quotes-rules`` enricher: direct quotes and who said them, in Dutch and English news.

Runs after the sentence splitter and the entity recogniser. Three steps:

1. Quoted spans: „…”, “…”, "…", ‘…’, ’…’, '…' and «…», paired within a paragraph. A single
   quote counts only at a word edge, so the apostrophes of "zo'n", "Trump's" or "’s avonds"
   never open or close a quote.
2. Speaker in the quote's own sentence: an attribution cue ("zei", "aldus", "volgens",
   "noemde", "said", "according to", ...) outside the quoted text, and the person or
   organisation mention nearest to it. "… ”, aldus Kim tegen verslaggevers" takes the name
   right after the cue. A pronoun ("hij", "she") is the most recent speaker; a title ("de
   president") is the person the article introduced with it ("president Donald Trump").
3. A quote that is its own sentence, with no cue around it, continues the previous sentence of
   the same paragraph: that sentence's quote speaker, or its first person when it has a cue
   ("Dat heeft Trump laten weten. “…”"). Otherwise, and whenever nothing can be attributed,
   the speaker stays None: a missing speaker is better than a wrong one.

Speakers are canonical names from the entity recogniser ("Trump" -> "Donald Trump"), with
their entity id when the ``entity-links`` enricher ran before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from schemas import Entity, EntityLabel, Quote
from streams.enrich.base import Document, Enricher, Span

RULES_VERSION: Final = "1"

# Opening mark -> the closing marks that end it. Dutch newspapers use „…”, ‘…’ and, in
# headlines, ’…’; English ones “…” and ‘…’; plain ASCII quotes come from wire copy.
_PAIRS: Final[dict[str, str]] = {
    "„": '”“"',
    "“": '”"',
    '"': '"”',
    "‘": "’'",
    "’": "’",
    "'": "'’",
    "«": "»",
}
_SINGLE: Final = frozenset("‘’'")
MAX_QUOTE_CHARS: Final = 2000
"""A longer span between two marks is a missing closing mark, not a quote."""

# Cues of attributed speech. Lower-case words; matched on whole words.
_CUES: Final = frozenset(
    {
        # Dutch
        "zei", "zegt", "zeggen", "zeiden", "aldus", "volgens", "noemde", "noemt", "vond",
        "vindt", "benadrukte", "benadrukt", "verklaarde", "verklaart", "vertelde", "vertelt",
        "stelde", "stelt", "schreef", "schrijft", "meldde", "meldt", "antwoordde", "reageerde",
        "voegde", "liet", "waarschuwde", "beloofde", "riep", "twitterde", "tweette",
        "herhaalde", "erkende", "ontkende", "sprak", "antwoord", "laten",
        # English
        "said", "says", "say", "told", "tells", "added", "adds", "according", "called",
        "calls", "stated", "states", "wrote", "writes", "replied", "answered", "warned",
        "insisted", "argued", "explained", "tweeted", "asked", "declared", "noted",
    }
)  # fmt: skip
_PRONOUNS: Final = frozenset({"hij", "zij", "ze", "he", "she"})
_TITLES: Final = frozenset(
    {
        "president", "premier", "minister", "leider", "dictator", "kanselier", "koning",
        "koningin", "woordvoerder", "woordvoerster", "burgemeester", "ceo", "topman",
        "voorzitter", "secretaris-generaal", "paus", "prime", "chancellor", "leader",
        "spokesman", "spokeswoman", "spokesperson", "mayor", "chairman", "secretary",
    }
)  # fmt: skip
_WORD: Final = re.compile(r"[^\W\d_][\w'’-]*")
_SPEAKER_LABELS: Final = frozenset({EntityLabel.PER, EntityLabel.ORG})


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: int
    end: int
    speaker: str | None
    """Canonical name; None for a pronoun or title that resolved to nobody."""
    is_person: bool


def find_quotes(body: str) -> list[tuple[int, int]]:
    """Spans of quoted text (inside the marks), in order, never nested or crossing a paragraph."""
    spans: list[tuple[int, int]] = []
    at = 0
    while at < len(body):
        char = body[at]
        closers = _PAIRS.get(char)
        if closers is None or not _opens(body, at):
            at += 1
            continue
        end = _closing(body, at + 1, closers)
        if end is None:
            at += 1
            continue
        inner_start, inner_end = _trim(body, at + 1, end)
        if inner_end > inner_start:
            spans.append((inner_start, inner_end))
        at = end + 1
    return spans


_ELISION: Final = re.compile(r"[‘’'][stn](?![^\W\d_])")
"""Dutch elisions that start with an apostrophe: ’s avonds, ’s-Hertogenbosch, ’t, ’n."""


def _opens(body: str, at: int) -> bool:
    before = body[at - 1] if at else " "
    after = body[at + 1] if at + 1 < len(body) else " "
    if body[at] in _SINGLE and (after.isspace() or _ELISION.match(body, at)):
        return False
    # An opening mark follows a space, a bracket, a dash or another opening mark: never a letter.
    return not (before.isalnum() or (body[at] in _SINGLE and before in "’'"))


def _closing(body: str, start: int, closers: str) -> int | None:
    limit = min(len(body), start + MAX_QUOTE_CHARS)
    for at in range(start, limit):
        char = body[at]
        if char == "\n" and body.startswith("\n\n", at):
            return None  # quotes do not run across paragraphs here
        if char not in closers or at == start:
            continue
        after = body[at + 1] if at + 1 < len(body) else " "
        if char in _SINGLE and after.isalnum():
            continue  # an apostrophe inside a word ("zo’n", "Trump's")
        return at
    return None


def _trim(body: str, start: int, end: int) -> tuple[int, int]:
    """Without surrounding space, and without the comma English puts inside the marks."""
    while start < end and body[start].isspace():
        start += 1
    while end > start and (body[end - 1].isspace() or body[end - 1] in ",;"):
        end -= 1
    return start, end


def _titles(body: str, entities: Sequence[Entity]) -> dict[str, str]:
    """Title word -> canonical person it introduced, e.g. "president" -> "Donald Trump".

    A title is the word right before a person's full name ("de Amerikaanse president Donald
    Trump"); the latest introduction wins, as a later "de president" refers to it.
    """
    titles: dict[str, str] = {}
    for entity in entities:
        if entity.label is not EntityLabel.PER:
            continue
        words = _WORD.findall(body[max(0, entity.start - 40) : entity.start])
        if words and words[-1].lower() in _TITLES:
            titles[words[-1].lower()] = entity.canonical
    return titles


class QuoteExtractor(Enricher):
    """Fills ``Document.quotes``: every direct quote, with its speaker when the text names one.

    Needs ``Document.sentences`` and ``Document.entities`` (run after the splitter and the
    entity recogniser); without entities every speaker is None. Offsets index the body and
    exclude the quote marks; ``text == body[start:end]`` always holds.
    """

    name = "quotes-rules"
    version = RULES_VERSION

    def enrich(self, doc: Document) -> Document:
        body = doc.body
        sentences = doc.sentences or (Span(0, len(body)),)
        titles = _titles(body, doc.entities)
        speakers = [e for e in doc.entities if e.label in _SPEAKER_LABELS]
        ids = {e.canonical: e.entity_id for e in speakers if e.entity_id is not None}
        quotes: list[Quote] = []
        last_speaker: str | None = None
        # Speaker attributed in each sentence (index) and that sentence's first cued person.
        by_sentence: dict[int, str | None] = {}
        for start, end in find_quotes(body):
            index = _sentence_of(sentences, start)
            last = sentences[max(index, _sentence_of(sentences, end))]
            lo, hi = min(sentences[index].start, start), max(last.end, end)
            speaker = self._in_sentence(body, lo, hi, start, end, speakers, titles, last_speaker)
            if speaker is None and self._stands_alone(body, lo, hi, start, end):
                speaker = self._continued(
                    body, sentences, index, by_sentence, speakers, titles, last_speaker
                )
            if speaker is not None:
                last_speaker = speaker
                by_sentence[index] = speaker
            else:
                by_sentence.setdefault(index, None)
            quotes.append(
                Quote(
                    text=body[start:end],
                    start=start,
                    end=end,
                    speaker=speaker,
                    speaker_id=ids.get(speaker) if speaker is not None else None,
                )
            )
        return doc.with_(quotes=tuple(quotes))

    def _candidates(
        self,
        body: str,
        lo: int,
        hi: int,
        speakers: Sequence[Entity],
        titles: dict[str, str],
        last_speaker: str | None,
    ) -> list[_Candidate]:
        found = [
            _Candidate(e.start, e.end, e.canonical, e.label is EntityLabel.PER)
            for e in speakers
            if lo <= e.start and e.end <= hi
        ]
        taken = [(c.start, c.end) for c in found]
        for match in _WORD.finditer(body, lo, hi):
            word = match.group().lower()
            if any(s <= match.start() < e for s, e in taken):
                continue
            if word in _PRONOUNS:
                found.append(_Candidate(match.start(), match.end(), last_speaker, True))
            elif word in _TITLES and word in titles:
                found.append(_Candidate(match.start(), match.end(), titles[word], True))
        return sorted(found, key=lambda c: c.start)

    def _in_sentence(
        self,
        body: str,
        lo: int,
        hi: int,
        q_start: int,
        q_end: int,
        speakers: Sequence[Entity],
        titles: dict[str, str],
        last_speaker: str | None,
    ) -> str | None:
        outside = [
            c
            for c in self._candidates(body, lo, hi, speakers, titles, last_speaker)
            if c.end <= q_start - 1 or c.start >= q_end + 1
        ]
        cues = [
            m
            for m in _WORD.finditer(body, lo, hi)
            if m.group().lower() in _CUES and not q_start - 1 <= m.start() < q_end + 1
        ]
        if not cues or not outside:
            return None
        # "”, aldus Kim": a cue right after the closing mark names the speaker right after it.
        tail = body[q_end + 1 : hi]
        inverted = re.match(r"\s*[,.:;]?\s*([^\W\d_]+)", tail)
        if inverted and inverted.group(1).lower() in _CUES:
            cue_end = q_end + 1 + inverted.end()
            after = [c for c in outside if c.start >= cue_end]
            if after and _only_small_words(body[cue_end : after[0].start]):
                return after[0].speaker
        best = min(
            ((abs(_gap(c, cue.start(), cue.end())), c) for cue in cues for c in outside),
            key=lambda pair: (pair[0], not pair[1].is_person),
        )
        return best[1].speaker

    def _stands_alone(self, body: str, lo: int, hi: int, q_start: int, q_end: int) -> bool:
        """The quote is its sentence: only marks and punctuation around it."""
        rest = body[lo : max(lo, q_start - 1)] + body[min(hi, q_end + 1) : hi]
        return not any(ch.isalnum() for ch in rest)

    def _continued(
        self,
        body: str,
        sentences: Sequence[Span],
        index: int,
        by_sentence: dict[int, str | None],
        speakers: Sequence[Entity],
        titles: dict[str, str],
        last_speaker: str | None,
    ) -> str | None:
        if index == 0:
            return None
        previous = sentences[index - 1]
        between = body[previous.end : sentences[index].start]
        if "\n\n" in between or "\n" in between.strip(" \t"):
            return None  # a new paragraph: a heading or a new voice
        if by_sentence.get(index - 1) is not None:
            return by_sentence[index - 1]
        cued = any(
            m.group().lower() in _CUES for m in _WORD.finditer(body, previous.start, previous.end)
        )
        if not cued:
            return None
        people = [
            c
            for c in self._candidates(
                body, previous.start, previous.end, speakers, titles, last_speaker
            )
            if c.is_person and c.speaker is not None
        ]
        return people[0].speaker if people else None


def _sentence_of(sentences: Sequence[Span], offset: int) -> int:
    for index, span in enumerate(sentences):
        if span.start <= offset < span.end:
            return index
    # Between sentences (a mark the splitter left out): the next sentence, or the last one.
    for index, span in enumerate(sentences):
        if offset < span.start:
            return index
    return len(sentences) - 1


def _gap(candidate: _Candidate, cue_start: int, cue_end: int) -> int:
    if candidate.end <= cue_start:
        return cue_start - candidate.end
    if candidate.start >= cue_end:
        return candidate.start - cue_end
    return 0


def _only_small_words(text: str) -> bool:
    """Between "aldus" and the name: at most a title and an article ("aldus de president")."""
    return len(_WORD.findall(text)) <= 3
