"""SentenceSentimentEnricher: how class probabilities become sentence, document and entity
sentiment (labels, scores, the length-weighted mean, the title), with a stub model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from schemas import Entity, EntityLabel, SentimentLabel
from streams.enrich.base import Document, Span
from streams.enrich.sentiment import (
    DocumentProbabilities,
    FloatArray,
    SentenceSentimentEnricher,
)

# Probabilities (negative, neutral, positive) by the word a text contains.
TONES = {
    "daalt": (0.7, 0.2, 0.1),
    "stijgt": (0.1, 0.3, 0.6),
    "vergadert": (0.2, 0.7, 0.1),
}


class StubSentiment(SentenceSentimentEnricher):
    """Probabilities from ``TONES``: the first tone word in the text, else neutral."""

    name = "stub-sentiment"
    version = "test"

    def __init__(self, use_title: bool = True) -> None:
        self._use_title = use_title
        self.calls: list[list[str]] = []

    def probabilities(
        self, docs: Sequence[Document], spans: Sequence[tuple[Span, ...]]
    ) -> list[DocumentProbabilities]:
        texts = [doc.body[s.start : s.end] for doc, ss in zip(docs, spans, strict=True) for s in ss]
        self.calls.append(texts + [doc.title for doc in docs if doc.title])
        return [
            DocumentProbabilities(
                np.asarray([tone(doc.body[s.start : s.end]) for s in ss]).reshape(-1, 3),
                np.asarray(tone(doc.title)) if doc.title else None,
                # An entity's tone is that of the word after it; none for an entity last.
                tuple(
                    np.asarray(tone(doc.body[e.end :].split()[0]))
                    if doc.body[e.end :].split()
                    else None
                    for e in doc.entities
                ),
            )
            for doc, ss in zip(docs, spans, strict=True)
        ]


def tone(text: str) -> FloatArray:
    row = next((p for w, p in TONES.items() if w in text), (0.1, 0.8, 0.1))
    return np.asarray(row, dtype=np.float64)


BODY = "De koers daalt sterk. Het kabinet vergadert. De winst stijgt."
SPANS = (Span(0, 21), Span(22, 44), Span(45, 61))


@pytest.fixture
def stub() -> StubSentiment:
    return StubSentiment()


def test_sentences_get_label_and_score(stub: StubSentiment) -> None:
    sentiment = stub.enrich(Document(body=BODY, sentences=SPANS)).sentiment
    assert sentiment is not None
    assert [(s.start, s.end) for s in sentiment.sentences] == [(s.start, s.end) for s in SPANS]
    assert [s.label for s in sentiment.sentences] == [
        SentimentLabel.NEGATIVE,
        SentimentLabel.NEUTRAL,
        SentimentLabel.POSITIVE,
    ]
    assert [s.score for s in sentiment.sentences] == pytest.approx([-0.6, -0.1, 0.5])


def test_document_is_length_weighted_mean_with_title(stub: StubSentiment) -> None:
    title = "Beurs daalt"
    sentiment = stub.enrich(Document(body=BODY, title=title, sentences=SPANS)).sentiment
    assert sentiment is not None
    assert len(sentiment.sentences) == 3  # the title is no sentence of the body
    assert stub.calls[-1][-1] == title
    probs = np.array([TONES["daalt"], TONES["vergadert"], TONES["stijgt"], TONES["daalt"]])
    lengths = np.array([s.end - s.start for s in SPANS], dtype=float)
    weights = np.append(lengths, lengths.mean())
    expected = (weights[:, None] * probs).sum(axis=0) / weights.sum()
    assert sentiment.score == pytest.approx(expected[2] - expected[0])
    assert sentiment.label is SentimentLabel.NEGATIVE

    without_title = stub.enrich(Document(body=BODY, sentences=SPANS)).sentiment
    assert without_title is not None
    assert without_title.sentences == sentiment.sentences
    assert sentiment.score < without_title.score  # the negative title pulls it down


def test_title_can_be_ignored(stub: StubSentiment) -> None:
    no_title = StubSentiment(use_title=False)
    doc = Document(body=BODY, title="Beurs daalt", sentences=SPANS)
    assert no_title.enrich(doc).sentiment == stub.enrich(doc.with_(title=None)).sentiment


def test_label_never_contradicts_the_score(stub: StubSentiment) -> None:
    for body in ("Koers daalt.", "Koers stijgt.", "Kabinet vergadert.", BODY):
        sentiment = stub.enrich(Document(body=body)).sentiment
        assert sentiment is not None
        pairs = [(s.label, s.score) for s in sentiment.sentences]
        for label, score in [*pairs, (sentiment.label, sentiment.score)]:
            assert -1.0 <= score <= 1.0
            if label is SentimentLabel.POSITIVE:
                assert score >= 0.0
            if label is SentimentLabel.NEGATIVE:
                assert score <= 0.0


def test_without_sentences_the_stripped_body_is_one(stub: StubSentiment) -> None:
    body = "\n  De koers daalt.  \n"
    sentiment = stub.enrich(Document(body=body)).sentiment
    assert sentiment is not None
    (only,) = sentiment.sentences
    assert body[only.start : only.end] == "De koers daalt."
    assert only.label is SentimentLabel.NEGATIVE


def test_whitespace_body_is_neutral(stub: StubSentiment) -> None:
    sentiment = stub.enrich(Document(body=" \n\t ")).sentiment
    assert sentiment is not None
    assert (sentiment.label, sentiment.score, sentiment.sentences) == (
        SentimentLabel.NEUTRAL,
        0.0,
        (),
    )


def test_span_outside_the_body_is_an_error(stub: StubSentiment) -> None:
    with pytest.raises(RuntimeError, match="outside the body"):
        stub.enrich(Document(body="Kort.", sentences=(Span(0, 50),)))


def test_batch_equals_single_in_one_model_call(stub: StubSentiment) -> None:
    docs = [
        Document(body=BODY, sentences=SPANS, title="Beurs stijgt"),
        Document(body="   "),
        Document(body="Koers daalt.\n\nKabinet vergadert."),
    ]
    batch = stub.enrich_batch(docs)
    assert len(stub.calls) == 1
    assert batch == [stub.enrich(doc) for doc in docs]
    assert stub.enrich_batch([]) == []


def test_each_entity_gets_how_the_model_portrays_it(stub: StubSentiment) -> None:
    body = "Ajax stijgt maar Feyenoord daalt, aldus Utrecht"

    def entity(name: str) -> Entity:
        start = body.index(name)
        return Entity(
            text=name, label=EntityLabel.ORG, start=start, end=start + len(name), canonical=name
        )

    doc = Document(body=body, entities=(entity("Ajax"), entity("Feyenoord"), entity("Utrecht")))
    ajax, feyenoord, utrecht = stub.enrich(doc).entities
    assert ajax.sentiment is not None
    assert feyenoord.sentiment is not None
    assert (ajax.sentiment.label, ajax.sentiment.score) == (SentimentLabel.POSITIVE, 0.5)
    assert feyenoord.sentiment.label is SentimentLabel.NEGATIVE
    assert feyenoord.sentiment.score == pytest.approx(-0.6)
    assert utrecht.sentiment is None  # the model gave no view of it
    assert (ajax.text, ajax.canonical, ajax.start) == ("Ajax", "Ajax", 0)
