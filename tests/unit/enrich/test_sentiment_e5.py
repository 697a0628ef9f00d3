"""The sentiment-e5 enricher: the shipped e5 sentence classifier applied to the sentences of
an article, aggregated into the document's sentiment."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import SentimentLabel
from streams.enrich.base import Document, EnricherError, Span
from streams.enrich.e5.classifier import DEFAULT_MODEL_DIR
from streams.enrich.sentiment_e5 import E5SentimentAnalyzer
from tests.support.e5_artefacts import damaged_copy
from tests.support.e5_sentences import NEGATIVE, NEUTRAL, POSITIVE


def test_enricher_fills_sentences_and_document(tmp_path: Path) -> None:
    analyzer = E5SentimentAnalyzer(cache_dir=tmp_path)
    try:
        body = f"{NEGATIVE[0]} {NEGATIVE[1]} {NEUTRAL[0]}"
        first = len(NEGATIVE[0])
        second = first + 1 + len(NEGATIVE[1])
        spans = (Span(0, first), Span(first + 1, second), Span(second + 1, len(body)))
        doc = Document(body=body, title=None, sentences=spans)
        result = analyzer.enrich(doc).sentiment
        assert result is not None
        assert [s.label for s in result.sentences] == [
            SentimentLabel.NEGATIVE,
            SentimentLabel.NEGATIVE,
            SentimentLabel.NEUTRAL,
        ]
        assert result.label == SentimentLabel.NEGATIVE
        assert -1.0 <= result.score < 0
        other = Document(body=POSITIVE[0], title=None)
        assert analyzer.enrich_batch([doc, other]) == [analyzer.enrich(doc), analyzer.enrich(other)]
        assert analyzer.name == "sentiment-e5"
        assert analyzer.version.startswith("int8-")
    finally:
        analyzer.close()


def test_damaged_artefacts_are_an_enricher_error(tmp_path: Path) -> None:
    model_dir = damaged_copy(DEFAULT_MODEL_DIR, tmp_path / "model")
    with pytest.raises(EnricherError, match="does not match the manifest"):
        E5SentimentAnalyzer(model_dir, tmp_path / "cache", variant="fp32")
