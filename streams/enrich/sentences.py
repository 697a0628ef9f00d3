"""Sentence segmentation with syntok, as character spans into the body.

syntok is rule-based (no model), handles Dutch and English punctuation, quotes („…”, “…”, ‘…’)
and many abbreviations, and reports the offset of every token, so spans index the unchanged
body. A line break ends a sentence unless the text is hard-wrapped or the sentence visibly
runs on (``_units``: headings and bylines have no final punctuation). Two Dutch habits syntok
does not know are handled here:

* Its abbreviation list is German/English/Spanish; Dutch titles and abbreviations that it would
  wrongly end a sentence on ("dhr.", "mevr.", "blz.", "bijv.") are repaired by joining the two
  halves again.
* Some Dutch papers (the AD and several regional titles, for instance) quote with two commas
  and two apostrophes (,,Zo gaat het.'' Daarna...). syntok sees two commas and two apostrophes
  there, and then does not end the sentence; the pairs are given to it as the single quote
  marks they stand for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.metadata import version as _dist_version
from itertools import pairwise

from syntok.segmenter import segment
from syntok.tokenizer import Token, Tokenizer

from streams.enrich.base import Document, Enricher, Span

RULES_VERSION = "2"
"""Version of our own rules on top of syntok; bump when the output for some input changes."""

# A paragraph break is a blank line (possibly holding only whitespace): the same rule syntok's
# own ``analyze`` uses. A single newline ends a sentence too, unless the paragraph is
# hard-wrapped (``_units``).
_PARAGRAPH_BREAK = re.compile(r"\r?\n(?:\s*\r?\n)+")

# A line of hard-wrapped text is long and, where a sentence runs on, does not end like one.
_WRAPPED_LINE_LENGTH = 40
_HEADING_WORDS = 6
_SENTENCE_END = (".", "!", "?", ":", ";", "\u2026", '"', "\u201d", "\u2019", "'", "\u00bb", ")")

# Dutch abbreviations that are never the last word of a sentence (titles before a name, and
# words that always introduce what follows): a sentence syntok ends on one is joined to the next.
_ALWAYS_CONTINUES = frozenset(
    {
        # titles before a name
        *("dhr", "hr", "mevr", "mw", "mej", "mr", "dr", "drs", "ir", "ing", "prof", "ds"),
        *("jhr", "jkvr", "mgr", "zr", "st", "plv", "gen", "lt", "kol", "kapt"),
        # words that introduce what follows
        *("bijv", "vgl", "blz", "nr", "nrs", "art", "ca", "ong", "zgn", "zg", "resp", "evt"),
        *("incl", "excl", "afd", "tel", "vnl"),
    }
)

# Abbreviations that can end a sentence ("De schade is 5 mln."); joined only when the next
# sentence clearly continues it: it starts with a lower-case letter or a digit.
_MAY_END_SENTENCE = frozenset(
    {"mln", "mld", "mrd", "bv", "nv", "enz", "etc", "jl", "min", "sec", "km"}
)


def _syntok_version() -> str:
    return _dist_version("syntok")


# What the two-character quotes of some Dutch papers stand for (see the module docstring).
_OPENING_PAIR = ","
_CLOSING_PAIR = "'"
_OPENING_QUOTE = "\u201e"  # „
_CLOSING_QUOTE = "\u201d"  # ”


def _merge_quote_pairs(tokens: list[Token], widths: dict[int, int]) -> list[Token]:
    """``tokens`` with ``,,`` (before a word) and ``''`` (after one) as one quote token each.

    The replacement token has the offset of the pair's first character and a one-character
    value; ``widths`` receives its real width (2), by offset, so spans still cover both.
    """
    merged: list[Token] = []
    i = 0
    while i < len(tokens):
        first = tokens[i]
        if i + 2 < len(tokens) and _is_opening_pair(first, tokens[i + 1], tokens[i + 2]):
            quote = _OPENING_QUOTE
        elif i + 1 < len(tokens) and _is_closing_pair(first, tokens[i + 1]):
            quote = _CLOSING_QUOTE
        else:
            merged.append(first)
            i += 1
            continue
        widths[first.offset] = 2
        merged.append(Token(first.spacing, quote, first.offset))
        i += 2
    return merged


def _adjacent(a: Token, b: Token) -> bool:
    return b.offset == a.offset + len(a.value) and not b.spacing


def _is_opening_pair(a: Token, b: Token, word: Token) -> bool:
    # ",," opens a quote when the word follows without a space; "a,, b" is a typo, not a quote.
    return (
        a.value == b.value == _OPENING_PAIR
        and _adjacent(a, b)
        and _adjacent(b, word)
        and bool(word.value)
    )


def _is_closing_pair(a: Token, b: Token) -> bool:
    # The closing pair is glued to what it closes; syntok gives it no spacing before it.
    return bool(a.value == b.value == _CLOSING_PAIR and _adjacent(a, b) and not a.spacing)


def _continues(sentence: list[Token], following: list[Token]) -> bool:
    """Whether syntok split ``sentence`` from ``following`` after a Dutch abbreviation."""
    if len(sentence) < 2 or sentence[-1].value != ".":
        return False
    word, dot = sentence[-2], sentence[-1]
    # The dot must be glued to the word ("dhr." and not "dhr ."), the abbreviation a word of
    # its own.
    if dot.offset != word.offset + len(word.value):
        return False
    # "dhr"/"Dhr" are the abbreviation; an all-capitals "HR." or "ST." is an acronym that may
    # well end a sentence.
    key = word.value[:1].lower() + word.value[1:]
    if key in _ALWAYS_CONTINUES:
        return True
    if key in _MAY_END_SENTENCE:
        first: str = following[0].value[:1]
        return first.isdigit() or first.islower()
    return False


def _paragraphs(text: str) -> Iterator[tuple[int, str]]:
    offset = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield offset, text[offset : match.start()]
        offset = match.end()
    yield offset, text[offset:]


def _runs_on(line: str, following: str) -> bool:
    """Whether a sentence visibly runs on over the break between two lines: the line does not
    end like a sentence and the next one starts in lower case (or the line ends in a comma).

    A short line of capitalised words (a heading or a byline: "Peter Goris") runs on into
    nothing, even before a dateline in lower case ("dinsdag 1 augustus 2000").
    """
    line = line.rstrip()
    if line.endswith(","):
        return True
    if line.endswith(_SENTENCE_END) or not following.lstrip()[:1].islower():
        return False
    words = line.split()
    return len(words) > _HEADING_WORDS or not all(w[:1].isupper() or w[:1].isdigit() for w in words)


def _units(text: str) -> Iterator[tuple[int, str]]:
    """The pieces of ``text`` that syntok segments one at a time: paragraphs, or runs of lines.

    A hard-wrapped paragraph (at least a third of its line breaks are long lines running on,
    see ``_runs_on``) is one piece: its single newlines are mere spaces, wherever they fall.
    In any other paragraph a line break ends a sentence unless the sentence visibly runs on
    over it: headings, bylines, section names and datelines ("Buitenland", "Peter Goris",
    "dinsdag 1 augustus 2000") have no final punctuation and would otherwise run into the
    sentence after them, which the tagger then reads as one.
    """
    for base, paragraph in _paragraphs(text):
        lines = paragraph.split("\n")
        runs_on = [_runs_on(a, b) for a, b in pairwise(lines)]
        wrapped = sum(
            1
            for line, runs in zip(lines, runs_on, strict=False)
            if runs and len(line.strip()) >= _WRAPPED_LINE_LENGTH
        )
        if not runs_on or (wrapped and wrapped * 3 >= len(runs_on)):
            yield base, paragraph
            continue
        start = 0
        offset = len(lines[0]) + 1
        for line, runs in zip(lines[1:], runs_on, strict=True):
            if not runs:
                yield base + start, paragraph[start : offset - 1]
                start = offset
            offset += len(line) + 1
        yield base + start, paragraph[start:]


def split_sentences(text: str, tokenizer: Tokenizer | None = None) -> tuple[Span, ...]:
    """The sentences of ``text`` as spans, in order, non-overlapping.

    Every span starts and ends on a non-whitespace character, and together the spans cover
    every non-whitespace character of ``text``. Paragraph breaks (blank lines) always end a
    sentence, and so does a line break except in hard-wrapped paragraphs (see ``_units``).
    Text without any non-whitespace character has no sentences.
    """
    tok = tokenizer if tokenizer is not None else Tokenizer(replace_not_contraction=False)
    spans: list[Span] = []
    # Paragraphs are tokenised one at a time with their own offsets (and then shifted):
    # syntok's ``analyze`` pads each paragraph with ``offset`` spaces instead, which is
    # quadratic in the length of a long body.
    for base, paragraph in _units(text):
        sentences: list[list[Token]] = []
        widths: dict[int, int] = {}
        for raw in segment(iter(_merge_quote_pairs(list(tok.tokenize(paragraph)), widths))):
            # syntok emits an empty token for trailing whitespace; it covers no text.
            tokens = [t for t in raw if t.value]
            if not tokens:
                continue
            if sentences and _continues(sentences[-1], tokens):
                sentences[-1].extend(tokens)
            else:
                sentences.append(tokens)
        for tokens in sentences:
            last = tokens[-1]
            end = last.offset + widths.get(last.offset, len(last.value))
            spans.append(Span(base + tokens[0].offset, base + end))
    return tuple(spans)


class SentenceSplitter(Enricher):
    """Fills ``Document.sentences``; the first enricher of the pipeline (no model to load).

    Later enrichers (sentiment) rely on its guarantees: see ``split_sentences``.
    """

    name = "sentences-syntok"

    def __init__(self) -> None:
        self.version = f"{RULES_VERSION}+syntok-{_syntok_version()}"
        self._tokenizer = Tokenizer(replace_not_contraction=False)

    def enrich(self, doc: Document) -> Document:
        """Return ``doc`` with ``sentences`` set from ``doc.body`` (replacing any earlier value)."""
        return doc.with_(sentences=split_sentences(doc.body, self._tokenizer))
