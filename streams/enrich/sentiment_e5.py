"""The sentiment enricher ``sentiment-e5``: sentence, document and entity sentiment from one
reading of each sentence by our e5 sentiment model (``streams.enrich.e5.sentiment_reader``),
with the rules of ``streams.enrich.sentiment.SentenceSentimentEnricher``.

It runs after the entity enrichers, the links and the quotes, so every final entity gets how
its sentence portrays it: the model reads each sentence once (its words as the NER tagger
splits them) and the entity's words pick their part of that reading
(``streams.enrich.readings``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Unpack

import numpy as np

from streams.enrich.base import Document, Span
from streams.enrich.e5.model import ModelOptions
from streams.enrich.e5.sentiment_reader import (
    DEFAULT_MODEL_DIR,
    E5SentimentReader,
    SentenceOutputs,
)
from streams.enrich.entity_rules import Token
from streams.enrich.ner_e5 import word_tokens
from streams.enrich.readings import Readings, SentenceReading
from streams.enrich.sentiment import (
    RULES_VERSION,
    DocumentProbabilities,
    FloatArray,
    SentenceSentimentEnricher,
)

NO_VIEW: FloatArray = np.array([0.0, 1.0, 0.0])
"""Probabilities of a sentence with no word to read (only invisible characters)."""


class E5SentimentAnalyzer(SentenceSentimentEnricher):
    """Fills ``Document.sentiment`` and each entity's ``sentiment`` with our e5 sentiment model.

    Sentence sentiment was trained on Dutch economic news headlines (ecosent), sentiment
    toward a target on English political news (NewsMTSC); the encoder is multilingual (the
    model card and docs/quality.md say what each scores in each language).
    """

    name = "sentiment-e5"

    def __init__(
        self,
        model_dir: Path = DEFAULT_MODEL_DIR,
        cache_dir: Path | None = None,
        *,
        use_title: bool = True,
        **options: Unpack[ModelOptions],
    ) -> None:
        """Load (and on first use build) the model.

        ``cache_dir``: where the rebuilt weights are kept (give the data directory's
        ``models`` folder). ``use_title``: count the title as one more sentence of the
        document. ``options``: how to run the model (``variant``, ``threads``,
        ``batch_tokens``: see ``ModelOptions``). Raises EnricherError when the model cannot be
        built or loaded.
        """
        self.model = E5SentimentReader.for_enricher(model_dir, cache_dir, **options)
        self._use_title = use_title
        self.version = f"{self.model.version}+rules-{RULES_VERSION}{'+title' if use_title else ''}"

    def probabilities(
        self, docs: Sequence[Document], spans: Sequence[tuple[Span, ...]]
    ) -> list[DocumentProbabilities]:
        return [
            _probabilities(doc, doc_spans, readings)
            for doc, doc_spans, readings in zip(docs, spans, self.read(docs, spans), strict=True)
        ]

    def read(self, docs: Sequence[Document], spans: Sequence[tuple[Span, ...]]) -> list[Readings]:
        """The readings of each document's sentences (``spans``) and title, from one call of
        the model for all of them."""
        plans: list[tuple[list[tuple[Span, list[Token]]], list[Token]]] = []
        for doc, doc_spans in zip(docs, spans, strict=True):
            sentences = [(s, word_tokens(doc.body[s.start : s.end], s.start)) for s in doc_spans]
            # The title is read only where the document aggregate counts it.
            title = word_tokens(doc.title) if doc.title and self._use_title else []
            plans.append(([(s, w) for s, w in sentences if w], title))
        texts: list[list[str]] = []
        for sentences, title in plans:
            texts.extend([t.text for t in words] for _span, words in sentences)
            if title:
                texts.append([t.text for t in title])
        outputs = iter(self.model.read(texts))
        out: list[Readings] = []
        for (sentences, title), doc in zip(plans, docs, strict=True):
            body = tuple(_reading(s, w, next(outputs)) for s, w in sentences)
            title_reading = (
                _reading(Span(0, len(doc.title or "")), title, next(outputs)) if title else None
            )
            out.append(Readings(body, title_reading))
        return out

    def close(self) -> None:
        """Release the memory-mapped e5 file."""
        self.model.close()


def _reading(span: Span, words: list[Token], outputs: SentenceOutputs) -> SentenceReading:
    return SentenceReading(
        span.start,
        span.end,
        tuple((t.start, t.end) for t in words),
        outputs.sentence,
        outputs.context,
        outputs.word_target,
        outputs.word_pieces,
    )


def _probabilities(
    doc: Document, spans: tuple[Span, ...], readings: Readings
) -> DocumentProbabilities:
    sentences = [readings.sentence_at(span.start) for span in spans]
    entities: list[FloatArray | None] = []
    for entity in doc.entities:
        reading = readings.sentence_at(entity.start)
        entities.append(
            None if reading is None else reading.target_probabilities(entity.start, entity.end)
        )
    return DocumentProbabilities(
        np.array(
            [NO_VIEW if r is None else r.sentence_probabilities() for r in sentences],
            dtype=np.float64,
        ).reshape(-1, 3),
        None if readings.title is None else readings.title.sentence_probabilities(),
        tuple(entities),
    )
