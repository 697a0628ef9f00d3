"""Sentence and document sentiment from per-sentence class probabilities: the aggregation rules
of the sentiment enricher (``streams.enrich.sentiment_e5``, which supplies the probabilities).

A sentence's score is P(positive) - P(negative); a document's is the same over the
length-weighted mean of its sentences' probabilities (see ``SentenceSentimentEnricher``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Final, cast

import numpy as np
import numpy.typing as npt

from schemas import SentenceSentiment, Sentiment, SentimentLabel
from streams.enrich.base import Document, Enricher, EnricherError, Span

LABELS: Final = (SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE)
"""Order of the class probabilities (the sentiment model's outputs)."""

RULES_VERSION: Final = "1"
"""Version of the aggregation rules below; part of the enricher's version, bump when they
change results."""

FloatArray = npt.NDArray[np.float64]


def _label_and_score(p: FloatArray) -> tuple[SentimentLabel, float]:
    # argmax picks positive only when P(pos) >= P(neg), so the label never contradicts the
    # score's sign; the clip guards against rounding just outside [-1, 1].
    score = float(np.clip(p[2] - p[0], -1.0, 1.0))
    return LABELS[int(np.argmax(p))], score


def _whole_body(body: str) -> tuple[Span, ...]:
    stripped = body.strip()
    if not stripped:
        return ()
    start = len(body) - len(body.lstrip())
    return (Span(start, start + len(stripped)),)


class SentenceSentimentEnricher(Enricher):
    """Fills ``Document.sentiment`` from per-sentence class probabilities (the shared part of
    the sentiment enrichers; subclasses supply ``sentence_probabilities``).

    Runs after the sentence splitter and uses ``doc.sentences`` (when empty, the whole stripped
    body counts as one sentence; a body of only whitespace gets neutral 0.0 and no sentences).
    Each sentence gets the most probable class and the score P(positive) - P(negative). The
    document's probability vector is the mean of its sentences' vectors weighted by their
    length in characters (long sentences carry more of the text); the title, when given and
    ``use_title`` is on, counts as one more sentence of the average weight. Its label is the
    most probable class, its score P(positive) - P(negative), so a positive label never has a
    negative score and vice versa. ``enrich_batch`` scores the sentences of all documents in
    one call, with the same results as ``enrich`` one by one.
    """

    _use_title: bool = True

    @abstractmethod
    def sentence_probabilities(self, texts: Sequence[str]) -> FloatArray:
        """Class probabilities (n, 3) in LABELS order for each text, independent of batching."""

    def enrich(self, doc: Document) -> Document:
        """Return ``doc`` with ``sentiment`` filled (see the class docstring)."""
        return self.enrich_batch([doc])[0]

    def enrich_batch(self, docs: Sequence[Document]) -> list[Document]:
        """Enrich several documents with one pass of the engine over all their sentences."""
        plans: list[tuple[tuple[Span, ...], bool]] = []
        texts: list[str] = []
        for doc in docs:
            spans = doc.sentences or _whole_body(doc.body)
            for span in spans:
                if not 0 <= span.start < span.end <= len(doc.body):
                    raise EnricherError(f"sentence span {span} lies outside the body")
            with_title = self._use_title and bool(doc.title and doc.title.strip())
            texts.extend(doc.body[s.start : s.end] for s in spans)
            if with_title:
                texts.append(cast(str, doc.title).strip())
            plans.append((spans, with_title))
        probs = self.sentence_probabilities(texts)

        out: list[Document] = []
        row = 0
        for doc, (spans, with_title) in zip(docs, plans, strict=True):
            n = len(spans)
            sentence_probs = probs[row : row + n]
            row += n
            title_probs = probs[row : row + 1] if with_title else None
            row += 1 if with_title else 0
            out.append(doc.with_(sentiment=self._aggregate(spans, sentence_probs, title_probs)))
        return out

    @staticmethod
    def _aggregate(
        spans: tuple[Span, ...], probs: FloatArray, title_probs: FloatArray | None
    ) -> Sentiment:
        sentences: list[SentenceSentiment] = []
        for span, p in zip(spans, probs, strict=True):
            label, score = _label_and_score(p)
            sentences.append(
                SentenceSentiment(start=span.start, end=span.end, label=label, score=score)
            )
        weights = np.array([s.end - s.start for s in spans], dtype=np.float64)
        rows = probs
        if title_probs is not None:
            title_weight = float(weights.mean()) if len(weights) else 1.0
            weights = np.append(weights, title_weight)
            rows = np.vstack([probs, title_probs])
        if not len(weights):
            return Sentiment(label=SentimentLabel.NEUTRAL, score=0.0, sentences=())
        doc_probs = (weights[:, None] * rows).sum(axis=0) / weights.sum()
        label, score = _label_and_score(doc_probs)
        return Sentiment(label=label, score=score, sentences=tuple(sentences))
