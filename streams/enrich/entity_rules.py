"""Backend-independent clean-up and canonicalisation of named-entity mentions (Dutch news).

Any NER backend (Frog, our e5 tagger) turns its output into ``Token`` objects with body
offsets and BIO tags; ``mentions_from_bio`` groups them, ``clean_mentions`` applies the
backend's ``Repairs``, and ``canonical_names`` gives every mention its full name within the
article. An entity's text, offsets and label are the (repaired) mention as it stands in the
body; normalising for identity (words that are no part of a name, a person's full name) shapes
only its ``canonical`` name.

Each backend gets the repairs that fix its own systematic errors:

* ``E5_REPAIRS`` (the default pipeline): one label per name in a document
  (``agree_labels``) and ``KNOWN_LABELS``; chosen by entity F1 through the whole pipeline on
  the CoNLL dev sets (``newsstream eval ner``, docs/quality.md). The span repairs below cut
  the e5 tagger's good spans more often than they fixed them.
* ``FROG_REPAIRS``: the span repairs written for Frog 0.20, measured on the two seed articles
  only (18 canonical entities; typed F1 0.57 before, 0.89 after): boundaries that swallow a
  neighbouring verb, adverb or conjunction ("zei Trump", "Volgens Trump", "dat Trump");
  coordinated names as one span ("Kim en Trump"); demonym adjectives ("Amerikaanse") tagged
  LOC where the CoNLL-2002 convention says MISC; a few well-known names with the wrong type.

Rules use the part of speech when the backend gives one (``Token.pos``) and fall back on the
surface (case, a short list of function words) when it does not, so they work for both.
``mentions_to_entities`` does both steps and gives the enricher's ``Entity`` objects.
Changing any rule changes results: bump ``RULES_VERSION``, which is part of enricher versions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from schemas import Entity, EntityLabel

RULES_VERSION: Final = 3
"""Version of the rules in this module; enrichers that use them put it in their version."""


class Pos(StrEnum):
    """Coarse part of speech (a subset of Universal Dependencies' UPOS), mapped by each backend."""

    PROPN = "PROPN"
    NOUN = "NOUN"
    ADJ = "ADJ"
    VERB = "VERB"
    ADP = "ADP"
    CCONJ = "CCONJ"
    SCONJ = "SCONJ"
    DET = "DET"
    PRON = "PRON"
    ADV = "ADV"
    NUM = "NUM"
    PUNCT = "PUNCT"
    INTJ = "INTJ"
    X = "X"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``text == body[start:end]``; ``pos`` is None when the backend gives none."""

    text: str
    start: int
    end: int
    pos: Pos | None = None


@dataclass(frozen=True, slots=True)
class Mention:
    """A run of tokens that names one entity; offsets span from the first to the last token."""

    tokens: tuple[Token, ...]
    label: EntityLabel

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end

    def text(self, body: str) -> str:
        """The covered text, ``body[start:end]`` (inner spacing as in the body)."""
        return body[self.start : self.end]


# --- Lists -------------------------------------------------------------------------------------
# Kept small on purpose: each entry fixes an error the tagger makes on real articles, and each
# group says why the tagger gets it wrong. Keys are compared after ``normalise_name`` and
# case-folding.

KNOWN_LABELS: Final[dict[str, EntityLabel]] = {
    # Seats of government used as the name of the administration ("het Witte Huis wilde niet
    # reageren"): Frog's gazetteers list them as places, in news they act as organisations.
    "witte huis": EntityLabel.ORG,
    "kremlin": EntityLabel.ORG,
    "pentagon": EntityLabel.ORG,
    # Dutch ministries named by their portfolio ("minister van Buitenlandse Zaken"): an
    # adjective plus "Zaken" is no name Frog knows, so it guesses MISC.
    "buitenlandse zaken": EntityLabel.ORG,
    "binnenlandse zaken": EntityLabel.ORG,
    "economische zaken": EntityLabel.ORG,
    "sociale zaken": EntityLabel.ORG,
}

FUNCTION_WORDS: Final = frozenset(
    # Words that are never the first or last word of a Dutch name but often start a sentence,
    # capitalised, right before one ("Volgens Trump ...", "Aldus Kim"); lower-case edge words
    # are trimmed anyway, these catch the capitalised ones when the backend gives no POS.
    {
        "aldus",
        "volgens",
        "namens",
        "zei",
        "zegt",
        "meldt",
        "schrijft",
        "dat",
        "die",
        "en",
        "of",
        "maar",
        "want",
        "omdat",
        "toen",
        "terwijl",
        "hoewel",
        "ook",
        "nu",
        "dan",
        "daarna",
        "inmiddels",
        "hij",
        "zij",
        "ze",
        "wij",
        "we",
        "ik",
    }
)

PERSON_SEPARATORS: Final = frozenset({"en", "of", "and", "&"})
"""Words that join two persons into one span ("Kim en Trump"). Only persons are split at them:
"Bosnië en Herzegovina" and "Ministerie van Justitie en Veiligheid" are single names."""

JOINING_PUNCTUATION: Final = frozenset({"&", "+"})
"""Punctuation that occurs inside organisation names ("Procter & Gamble"): no split there
except in persons. Every other punctuation-only token ends a mention."""

# Trimmed from a mention's edge when not a proper noun: a name never starts or ends with them.
_EDGE_POS: Final = frozenset(
    {Pos.VERB, Pos.ADP, Pos.CCONJ, Pos.SCONJ, Pos.PRON, Pos.ADV, Pos.INTJ, Pos.PUNCT}
)

# Dutch demonym and other adjectives derived from names (Amerikaanse, Noord-Koreaanse, Franse,
# Europese, Russische, Chinees, Nederlands): the fallback for backends without POS.
_DEMONYM = re.compile(r"[A-Z][\w-]*(?:aanse?|ees|ese|ische?|andse?|se)")

# Characters that differ between spellings of the same name and should not split it in two
# canonical forms: typographic apostrophes and hyphens.
_NAME_CHAR_FOLD: Final = str.maketrans(
    {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2010": "-", "\u2011": "-"}
)


# --- Grouping ----------------------------------------------------------------------------------


def mentions_from_bio(
    tokens: Sequence[Token], tags: Sequence[str], labels: dict[str, EntityLabel]
) -> list[Mention]:
    """Group the tokens of one sentence into mentions by their BIO tags ("B-PER", "I-LOC", "O").

    ``labels`` maps the backend's types (upper case) to ours; types missing from it become MISC.
    Lenient like CoNLL evaluation: an I- tag that does not continue a mention of the same type
    starts one. Called once per sentence, so no mention crosses a sentence boundary.
    """
    if len(tokens) != len(tags):
        raise ValueError(f"{len(tokens)} tokens but {len(tags)} tags")
    mentions: list[Mention] = []
    current: list[Token] = []
    current_type = ""

    def flush() -> None:
        if current:
            label = labels.get(current_type, EntityLabel.MISC)
            mentions.append(Mention(tuple(current), label))
            current.clear()

    for token, tag in zip(tokens, tags, strict=True):
        tag = tag.strip().upper()
        if tag == "O" or len(tag) < 3 or tag[1] != "-" or tag[0] not in "BI":
            flush()
            current_type = ""
            continue
        kind = tag[2:]
        if tag[0] == "B" or kind != current_type:
            flush()
            current_type = kind
        current.append(token)
    flush()
    return mentions


# --- Clean-up ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Repairs:
    """Which span repairs a backend's mentions get (see ``clean_mentions``).

    Each repair fixes a systematic error of some tagger; whether it helps depends on the
    tagger, so each backend names its own set, and a repair stays in a set only while it
    raises entity F1 through the pipeline on the dev sets (docs/quality.md).
    """

    line_breaks: bool = True
    separators: bool = True
    trim: bool = True
    known_labels: bool = True
    demonyms: bool = True
    agree_labels: bool = False


FROG_REPAIRS: Final = Repairs()
"""Frog's: the span repairs (measured on the two seed articles with Frog 0.20 only)."""
E5_REPAIRS: Final = Repairs(
    line_breaks=False,
    separators=False,
    trim=False,
    known_labels=True,
    demonyms=False,
    agree_labels=True,
)
"""``ner-e5``'s: those that raise entity F1 through the pipeline on both CoNLL dev sets
(docs/quality.md). One label per name in a document adds 1.3 points in Dutch; the span
repairs written for Frog cut the e5 tagger's good spans ("De Baai van Heist", "Die Zeit")
and cost up to 0.6 points, so an e5 mention is the tagger's span, and trimming only shapes
its ``canonical`` name."""


def clean_mentions(
    mentions: Iterable[Mention], body: str, repairs: Repairs = FROG_REPAIRS
) -> list[Mention]:
    """Apply the chosen repairs, in order; called once per document on the backend's mentions.

    Guarantees: every result is a non-empty run of the input tokens (so its offsets are still
    those of the body), results are in body order; with ``separators`` none starts or ends
    with punctuation, with ``trim`` none with a lower-case non-proper-noun word, with
    ``line_breaks`` none crosses a line break.
    """
    result: list[Mention] = []
    for mention in mentions:
        lines = split_at_line_breaks(mention, body) if repairs.line_breaks else [mention]
        for line_part in lines:
            parts = split_at_separators(line_part) if repairs.separators else [line_part]
            for part in parts:
                trimmed = trim_edges(part, body) if repairs.trim else part
                if trimmed is not None:
                    result.append(relabel(trimmed, repairs))
    result.sort(key=lambda m: (m.start, m.end))
    if repairs.agree_labels:
        result = agree_labels(result, body)
    return result


def agree_labels(mentions: Sequence[Mention], body: str) -> list[Mention]:
    """One label per name in a document: each mention of a name takes the label most of its
    mentions have (a tie keeps each its own). A tagger reads each window on its own, so
    "Feyenoord" can come out ORG twice and LOC once in one article.

    (Also making a surname alone a person when the document names the person in full,
    "Lagarde" after "Christine Lagarde", was tried: +0.25 F1 in English, -0.15 in Dutch.)
    """
    keys = [_name_key(m, body) for m in mentions]
    counts: dict[str, dict[EntityLabel, int]] = {}
    for m, key in zip(mentions, keys, strict=True):
        by_label = counts.setdefault(key, {})
        by_label[m.label] = by_label.get(m.label, 0) + 1
    result = []
    for m, key in zip(mentions, keys, strict=True):
        by_label = counts[key]
        best = max(by_label, key=lambda label: by_label[label])
        if by_label[best] > by_label[m.label]:
            m = Mention(m.tokens, best)
        result.append(m)
    return result


def _name_key(mention: Mention, body: str) -> str:
    return normalise_name(mention.text(body)).casefold()


def mentions_to_entities(
    mentions: Iterable[Mention], body: str, repairs: Repairs = FROG_REPAIRS
) -> list[Entity]:
    """The entities of one document from its backend's mentions: ``clean_mentions``, then each
    cleaned mention with its ``canonical_names`` name, in body order.

    An entity's ``text``/``start``/``end``/``label`` are the (repaired) mention as it stands
    in the body; normalising for identity happens in ``canonical`` only: words that are no
    part of a name ("zei Trump", "de Volkskrant") are left out of it (``trim_edges``), and a
    person's short name takes the article's full one ("Trump" -> "Donald Trump").
    """
    cleaned = clean_mentions(mentions, body, repairs)
    cores = cleaned if repairs.trim else [trim_edges(m, body) or m for m in cleaned]
    names = canonical_names(
        [(core.text(body), m.label) for core, m in zip(cores, cleaned, strict=True)]
    )
    return [
        Entity(text=m.text(body), label=m.label, start=m.start, end=m.end, canonical=name)
        for m, name in zip(cleaned, names, strict=True)
    ]


def split_at_line_breaks(mention: Mention, body: str) -> list[Mention]:
    """Split where the body has a line break between two tokens.

    A heading line without final punctuation runs into the next line in one "sentence" of the
    tagger ("Trump\\nKim Jong-un" becomes one PER); a name never spans lines.
    """
    parts: list[list[Token]] = [[mention.tokens[0]]]
    for prev, tok in zip(mention.tokens, mention.tokens[1:], strict=False):
        if "\n" in body[prev.end : tok.start]:
            parts.append([])
        parts[-1].append(tok)
    return [Mention(tuple(p), mention.label) for p in parts]


def split_at_separators(mention: Mention) -> list[Mention]:
    """Split at punctuation tokens and, in persons, at "en"/"of"; the separators are dropped.

    "Kim en Trump" (PER) becomes "Kim" and "Trump"; "Ja !" becomes "Ja".
    """
    parts: list[list[Token]] = [[]]
    for tok in mention.tokens:
        if _is_separator(tok, mention.label):
            if parts[-1]:
                parts.append([])
        else:
            parts[-1].append(tok)
    return [Mention(tuple(p), mention.label) for p in parts if p]


def trim_edges(mention: Mention, body: str | None = None) -> Mention | None:
    """Drop leading and trailing tokens that cannot belong to a name; None when nothing is left.

    "zei Trump", "aldus Trump", "Volgens Trump" and "dat Trump" all become "Trump". Given the
    ``body``, a capitalised function word stays when it does not open a sentence: mid-sentence
    capitals mark a name's own word ("schreef Die Zeit", "bij De Telegraaf"), while at a
    sentence's start they are only the capital every first word gets ("Volgens Trump ...").
    """
    tokens = list(mention.tokens)
    while tokens and _is_edge_noise(tokens[0], _opens_sentence(tokens[0], body)):
        tokens.pop(0)
    while tokens and _is_edge_noise(tokens[-1], _opens_sentence(tokens[-1], body)):
        tokens.pop()
    if not tokens or not any(ch.isalnum() for tok in tokens for ch in tok.text):
        return None
    return Mention(tuple(tokens), mention.label)


def relabel(mention: Mention, repairs: Repairs = FROG_REPAIRS) -> Mention:
    """Fix the type: ``KNOWN_LABELS`` first (``known_labels``), then adjective-only spans
    become MISC (``demonyms``).

    "Witte Huis" -> ORG, "Buitenlandse Zaken" -> ORG, "Amerikaanse" (tagged LOC) -> MISC.
    """
    key = normalise_name(" ".join(t.text for t in mention.tokens)).casefold()
    known = KNOWN_LABELS.get(key) if repairs.known_labels else None
    if known is not None:
        return Mention(mention.tokens, known)
    if repairs.demonyms and mention.label is not EntityLabel.MISC and _is_adjective_only(mention):
        return Mention(mention.tokens, EntityLabel.MISC)
    return mention


def _is_punctuation(tok: Token) -> bool:
    return tok.pos is Pos.PUNCT or not any(ch.isalnum() for ch in tok.text)


def _is_separator(tok: Token, label: EntityLabel) -> bool:
    if label is EntityLabel.PER and tok.text.casefold() in PERSON_SEPARATORS:
        return True
    return _is_punctuation(tok) and tok.text not in JOINING_PUNCTUATION


# What may stand between a sentence's end (or a colon) and its first word: space, opening
# quotes and brackets.
_SENTENCE_LEAD_IN: Final = re.compile(r"(?:^|[.!?:;]|\n)[\s\"'\u201c\u201e\u2018\u00ab(\[-]*$")


def _opens_sentence(tok: Token, body: str | None) -> bool:
    """True when ``tok`` is the first word of a sentence, or when the body is unknown."""
    if body is None:
        return True
    return _SENTENCE_LEAD_IN.search(body, max(0, tok.start - 16), tok.start) is not None


def _is_edge_noise(tok: Token, opens_sentence: bool = True) -> bool:
    if _is_punctuation(tok):
        return True
    if tok.pos is Pos.PROPN:
        return False
    if tok.pos in _EDGE_POS:
        return True
    text = tok.text
    # All lower case (and cased at all): "zei", "aldus", "dat"; "iPhone" and "Jong-un" stay.
    if text == text.lower() and text != text.upper():
        return True
    # A capitalised function word mid-sentence is a name's own word ("Die Zeit", "De Morgen").
    return opens_sentence and text.casefold() in FUNCTION_WORDS


def _is_adjective_only(mention: Mention) -> bool:
    tokens = mention.tokens
    if all(t.pos is not None for t in tokens):
        return all(t.pos is Pos.ADJ for t in tokens)
    # Without POS only the tagger's known error (a demonym tagged as a place) is repaired: the
    # surface pattern alone would also catch names like "Rose".
    return mention.label is EntityLabel.LOC and all(
        _DEMONYM.fullmatch(t.text) is not None for t in tokens
    )


# --- Canonical names ---------------------------------------------------------------------------


def normalise_name(text: str) -> str:
    """A mention's text as a name: NFC, invisible format characters (soft hyphens, zero-width
    spaces) removed, typographic apostrophes and hyphens made plain, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.translate(_NAME_CHAR_FOLD).split())


def canonical_names(mentions: Sequence[tuple[str, EntityLabel]]) -> list[str]:
    """The canonical name of each mention of one article, given in body order as (text, label).

    A person's mention resolves to a longer person's mention elsewhere in the article (before
    or after it) when its words are the last words of the longer one ("Trump" -> "Donald
    Trump", "Pompeo" -> "Mike Pompeo") or its one word is the first word of the longer one
    ("Kim" -> "Kim Jong-un"). Other labels do not resolve: there the shorter name is usually
    another entity ("Europese Unie" vs "Raad van de Europese Unie", "Korea" vs "Noord Korea").

    Longer mentions resolve first, so chains end at the longest name. When candidates disagree
    ("Trump" with both "Donald Trump" and "Ivanka Trump"), the nearest longer mention wins, the
    earlier one on a tie. Otherwise the canonical name is ``normalise_name(text)``. Words are
    compared case-insensitively. Returns one name per mention, in the same order.
    """
    names = [normalise_name(text) for text, _ in mentions]
    words = [name.casefold().split(" ") for name in names]
    labels = [label for _, label in mentions]
    result = list(names)
    by_length = sorted(range(len(names)), key=lambda i: -len(words[i]))
    for i in by_length:
        candidates = [
            j
            for j in range(len(names))
            if labels[i] is EntityLabel.PER
            and labels[j] is EntityLabel.PER
            and len(words[j]) > len(words[i])
            and _shortens(words[i], words[j])
        ]
        if not candidates:
            continue
        resolved = {result[j] for j in candidates}
        if len(resolved) == 1:
            result[i] = resolved.pop()
        else:
            nearest = min(candidates, key=lambda j: (abs(j - i), j))
            result[i] = result[nearest]
    return result


def _shortens(short: list[str], long: list[str]) -> bool:
    return long[-len(short) :] == short or (len(short) == 1 and long[0] == short[0])
