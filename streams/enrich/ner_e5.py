"""The ``ner-e5`` enricher: named entities from our own e5 tagger (Dutch and English).

Wraps ``streams.enrich.e5.tagger.E5Tagger`` (see there and ``models/ner/MODEL_CARD.md`` for
the model): each sentence of a document is split into words with body offsets
(``word_tokens``), the tagger gives IOB2 tags per word (reading a document's neighbouring
sentences together when its model was trained so; the shipped one reads each sentence alone),
tags become mentions per sentence, and the backend-independent
``entity_rules`` clean them up and give canonical names, exactly as for Frog. All documents
of a batch go through the model together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Unpack

from schemas import EntityLabel
from streams.enrich.base import Document, Enricher, EnricherError, Span
from streams.enrich.e5.model import ModelOptions
from streams.enrich.e5.tagger import DEFAULT_MODEL_DIR, TYPES, E5Tagger
from streams.enrich.entity_rules import (
    E5_REPAIRS,
    RULES_VERSION,
    Mention,
    Token,
    mentions_from_bio,
    mentions_to_entities,
)

ENTITY_LABELS: Final[dict[str, EntityLabel]] = {t: EntityLabel(t) for t in TYPES}
WORDS_VERSION: Final = "2"
"""Version of ``word_tokens``; part of the enricher version."""
DEFAULT_LANGUAGES: Final = frozenset({"nl", "en", "und"})

_WORD_CHAR = r"[\w\u0300-\u036f\u00ad]"
_WORD_RE = re.compile(
    rf"""
    (?:[^\W\d_]\.){{2,}}                          # abbreviations: U.S., a.m., F.C.
  | [A-Z]\.(?=\s)                                 # an initial: J. Smith
  | \d+(?:[.,:/]\d+)+                             # numbers: 2.300, 10,8, 12:30, 3/4
  | [^\W\d_a-z]{_WORD_CHAR}*(?:-{_WORD_CHAR}+)*(?=['’]s\b)  # a name before a possessive 's
  | (?<=\w)['’]s\b                              # ... and the 's: Trump 's (as in CoNLL-2003)
  | {_WORD_CHAR}+(?:[-'’&]{_WORD_CHAR}+)*         # words: Noord-Korea, zo'n, O'Brien, AT&T
  | \.{{2,}} | -{{2,}}                            # ... and --
  | [^\s\u200b\u200c\u200d\u2060\ufeff]           # any other visible character on its own
    """,
    re.VERBOSE,
)


def word_tokens(text: str, offset: int = 0) -> list[Token]:
    """Words and punctuation of ``text`` as tokens with body offsets (``offset`` added).

    CoNLL-like: punctuation stands alone, hyphens and apostrophes inside a word stay in it,
    abbreviations with dots and numbers with separators are one token.
    """
    return [Token(m.group(), m.start() + offset, m.end() + offset) for m in _WORD_RE.finditer(text)]


class E5EntityRecognizer(Enricher):
    """Fills ``Document.entities`` with the entities our e5 tagger finds, cleaned up.

    Runs after the sentence splitter and the language detector. Documents in a language the
    model was not trained on (anything but Dutch, English or undetermined, by default) get no
    entities. Each sentence (the whole body when there are none) is split into words with
    offsets; the tagger reads them as its model was trained to (its manifest's
    ``context_pieces``: 0, each sentence alone, for the shipped model); tags become mentions
    per sentence, then ``entity_rules`` cleans them and gives canonical names.
    ``enrich_batch`` runs all documents through the model together (same results as one by
    one). Every entity satisfies ``text == body[start:end]``.
    """

    name = "ner-e5"

    def __init__(
        self,
        model_dir: Path = DEFAULT_MODEL_DIR,
        cache_dir: Path | None = None,
        *,
        languages: frozenset[str] | None = DEFAULT_LANGUAGES,
        **options: Unpack[ModelOptions],
    ) -> None:
        """Load (and on first use build) the model.

        ``cache_dir``: where the rebuilt weights are kept (give the data directory's
        ``models`` folder). ``languages``: language codes to tag (None: all). ``options``:
        how to run the model (``variant``, ``threads``, ``batch_tokens``: see
        ``ModelOptions``). Raises EnricherError when the model cannot be built or loaded.
        """
        self.tagger = E5Tagger.for_enricher(model_dir, cache_dir, **options)
        self._languages = languages
        self.version = f"{self.tagger.version}+words-{WORDS_VERSION}+rules-{RULES_VERSION}"

    def enrich(self, doc: Document) -> Document:
        return self.enrich_batch([doc])[0]

    def enrich_batch(self, docs: Sequence[Document]) -> list[Document]:
        skipped = [self._skip(doc) for doc in docs]
        tokens: list[list[list[Token]]] = []
        for doc, skip in zip(docs, skipped, strict=True):
            sentences: list[list[Token]] = []
            if not skip:
                for span in doc.sentences or _whole(doc.body):
                    if not 0 <= span.start <= span.end <= len(doc.body):
                        raise EnricherError(f"sentence span {span} lies outside the body")
                    words = word_tokens(doc.body[span.start : span.end], span.start)
                    if words:
                        sentences.append(words)
            tokens.append(sentences)
        # Each document's sentences go in together: a model trained with document context
        # reads neighbouring sentences in one window.
        tags = self.tagger.tag_documents([[[t.text for t in s] for s in d] for d in tokens])
        out: list[Document] = []
        for doc, skip, sentences, document_tags in zip(docs, skipped, tokens, tags, strict=True):
            if skip:
                out.append(doc.with_(entities=()))
                continue
            mentions: list[Mention] = []
            for words, sentence_tags in zip(sentences, document_tags, strict=True):
                mentions.extend(mentions_from_bio(words, sentence_tags, ENTITY_LABELS))
            entities = mentions_to_entities(mentions, doc.body, E5_REPAIRS)
            out.append(doc.with_(entities=tuple(entities)))
        return out

    def _skip(self, doc: Document) -> bool:
        return (
            self._languages is not None
            and doc.language is not None
            and doc.language.code not in self._languages
        )

    def close(self) -> None:
        self.tagger.close()


def _whole(body: str) -> tuple[Span, ...]:
    return (Span(0, len(body)),) if body.strip() else ()
