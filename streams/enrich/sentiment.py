"""Sentence, document and entity sentiment from class probabilities: the rules of the
sentiment enricher (``streams.enrich.sentiment_e5``, which supplies the probabilities).

A sentence's score is P(positive) - P(negative); a document's is the same over the
length-weighted mean of its sentences' probabilities; an entity's is the same over how its
sentence portrays it (see ``SentenceSentimentEnricher``). Rules 2 add the entities.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from schemas import EntitySentiment, SentenceSentiment, Sentiment, SentimentLabel
from streams.enrich.base import Document, Enricher, EnricherError, Span

LABELS: Final = (SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE)
"""Order of the class probabilities (the sentiment model's outputs)."""

RULES_VERSION: Final = "2"
"""Version of the aggregation rules below; part of the enricher's version, bump when they
change results."""

FloatArray = npt.NDArray[np.float64]


def _label_and_score(p: FloatArray) -> tuple[SentimentLabel, float]:
    # argmax picks positive only when P(pos) >= P(neg), so the label never contradicts the
    # score's sign; the clip guards against rounding just outside [-1, 1].
    score = float(np.clip(p[2] - p[0], -1.0, 1.0))
    return LABELS[int(np.argmax(p))], score


def mention_sentiment(p: FloatArray | None) -> EntitySentiment | None:
    """An entity's label and score from its probabilities, by the sentences' rule."""
    if p is None:
        return None
    label, score = _label_and_score(p)
    return EntitySentiment(label=label, score=score)


def _whole_body(body: str) -> tuple[Span, ...]:
    stripped = body.strip()
    if not stripped:
        return ()
    start = len(body) - len(body.lstrip())
    return (Span(start, start + len(stripped)),)


@dataclass(frozen=True, slots=True, eq=False)
class DocumentProbabilities:
    """A model's class probabilities (LABELS order) for one document: ``sentences`` ``[n, 3]``
    for its sentence spans in order, ``title`` ``[3]`` (None without a title), and for each
    of its entities how its sentence portrays it (None where the model has no view)."""

    sentences: FloatArray
    title: FloatArray | None
    entities: tuple[FloatArray | None, ...]


class SentenceSentimentEnricher(Enricher):
    """Fills ``Document.sentiment`` and each entity's ``sentiment`` from class probabilities
    (the rules of the sentiment enricher; the subclass supplies ``probabilities``).

    Runs after the sentence splitter and the entity enrichers and uses ``doc.sentences`` (when
    empty, the whole stripped body counts as one sentence; a body of only whitespace gets
    neutral 0.0 and no sentences). Each sentence gets the most probable class and the score
    P(positive) - P(negative). The document's probability vector is the mean of its
    sentences' vectors weighted by their length in characters (long sentences carry more of
    the text); the title, when given and ``use_title`` is on, counts as one more sentence of
    the average weight. Its label is the most probable class, its score P(positive) -
    P(negative), so a positive label never has a negative score and vice versa. Each entity
    gets the label and score, by the same rule, of the probabilities the model gives for it
    (how its sentence portrays it), or keeps None. ``enrich_batch`` gives the same results as
    ``enrich`` one by one.
    """

    _use_title: bool = True

    @abstractmethod
    def probabilities(
        self, docs: Sequence[Document], spans: Sequence[tuple[Span, ...]]
    ) -> list[DocumentProbabilities]:
        """The probabilities of each document, its sentences being ``spans`` (checked to lie
        in the body), independent of batching."""

    def enrich(self, doc: Document) -> Document:
        """Return ``doc`` with ``sentiment`` filled (see the class docstring)."""
        return self.enrich_batch([doc])[0]

    def enrich_batch(self, docs: Sequence[Document]) -> list[Document]:
        """Enrich several documents with one call of the model for all of them."""
        spans_of: list[tuple[Span, ...]] = []
        for doc in docs:
            spans = doc.sentences or _whole_body(doc.body)
            for span in spans:
                if not 0 <= span.start < span.end <= len(doc.body):
                    raise EnricherError(f"sentence span {span} lies outside the body")
            spans_of.append(spans)
        out: list[Document] = []
        for doc, spans, probs in zip(
            docs, spans_of, self.probabilities(docs, spans_of), strict=True
        ):
            with_title = self._use_title and bool(doc.title and doc.title.strip())
            title = probs.title[None, :] if with_title and probs.title is not None else None
            entities = tuple(
                entity.model_copy(update={"sentiment": mention_sentiment(p)})
                for entity, p in zip(doc.entities, probs.entities, strict=True)
            )
            out.append(
                doc.with_(
                    sentiment=self._aggregate(spans, probs.sentences, title), entities=entities
                )
            )
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
