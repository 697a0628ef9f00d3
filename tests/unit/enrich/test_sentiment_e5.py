"""The sentiment-e5 enricher with the shipped model: sentence and document sentiment, and the
sentiment toward each entity from the same reading of its sentence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import Entity, EntityLabel, EntitySentiment, SentimentLabel
from streams.enrich.base import Document, EnricherError, Span
from streams.enrich.e5.sentiment_reader import DEFAULT_MODEL_DIR
from streams.enrich.sentiment_e5 import E5SentimentAnalyzer
from tests.support.e5_artefacts import damaged_copy
from tests.support.e5_sentences import NEGATIVE, NEUTRAL, POSITIVE


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E5SentimentAnalyzer]:
    enricher = E5SentimentAnalyzer(cache_dir=tmp_path_factory.mktemp("models"))
    yield enricher
    enricher.close()


def entities(body: str, *names: str) -> tuple[Entity, ...]:
    found = []
    for name in names:
        start = body.index(name)
        found.append(
            Entity(
                text=name,
                label=EntityLabel.PER,
                start=start,
                end=start + len(name),
                canonical=name,
            )
        )
    return tuple(found)


def test_enricher_fills_sentences_and_document(analyzer: E5SentimentAnalyzer) -> None:
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
    assert analyzer.name == "sentiment-e5"
    assert analyzer.version.startswith("int8-")


# Written for these tests (no corpus text): two people, one praised and one blamed.
OPPOSITE = {
    "nl": (
        "Burgemeester Jansen kreeg veel lof voor zijn krachtige optreden, maar minister "
        "De Vries werd scherp bekritiseerd om zijn rampzalige beleid.",
        "Jansen",
        "De Vries",
    ),
    "en": (
        "Mayor Johnson was widely praised for his strong leadership, while Senator Miller "
        "was sharply criticised for his disastrous policies.",
        "Johnson",
        "Miller",
    ),
}


def read_opposite(
    analyzer: E5SentimentAnalyzer, lang: str
) -> tuple[EntitySentiment, EntitySentiment]:
    """The sentiment toward the praised and the blamed person of ``OPPOSITE[lang]``."""
    body, praised, blamed = OPPOSITE[lang]
    doc = Document(
        body=body, sentences=(Span(0, len(body)),), entities=entities(body, praised, blamed)
    )
    first, second = analyzer.enrich(doc).entities
    assert (first.text, second.text) == (praised, blamed)
    assert first.sentiment is not None
    assert second.sentiment is not None
    return first.sentiment, second.sentiment


@pytest.mark.parametrize("lang", sorted(OPPOSITE))
def test_the_praised_entity_scores_above_the_blamed_one(
    analyzer: E5SentimentAnalyzer, lang: str
) -> None:
    praised, blamed = read_opposite(analyzer, lang)
    assert praised.score - blamed.score > 0.1


@pytest.mark.parametrize(
    "lang",
    [
        "en",
        pytest.param(
            "nl",
            marks=pytest.mark.xfail(
                strict=True,
                reason="Dutch target sentiment transfers from English training only (0.660 "
                "macro-F1 on the hand-written Dutch set): the praised person comes out "
                "negative too (docs/quality.md)",
            ),
        ),
    ],
)
def test_two_entities_of_one_sentence_get_opposite_labels(
    analyzer: E5SentimentAnalyzer, lang: str
) -> None:
    praised, blamed = read_opposite(analyzer, lang)
    assert praised.label is SentimentLabel.POSITIVE
    assert praised.score > 0
    assert blamed.label is SentimentLabel.NEGATIVE
    assert blamed.score < 0


def test_batch_equals_one_by_one_with_titles_and_entities(analyzer: E5SentimentAnalyzer) -> None:
    body, praised, blamed = OPPOSITE["en"]
    docs = [
        Document(body=body, title=POSITIVE[0], entities=entities(body, praised, blamed)),
        Document(body=POSITIVE[2]),
        Document(body=f"{NEUTRAL[1]}\n\n{NEGATIVE[2]}", title="Markets"),
    ]
    assert analyzer.enrich_batch(docs) == [analyzer.enrich(doc) for doc in docs]


def test_damaged_artefacts_are_an_enricher_error(tmp_path: Path) -> None:
    model_dir = damaged_copy(DEFAULT_MODEL_DIR, tmp_path / "model")
    with pytest.raises(EnricherError, match="does not match the manifest"):
        E5SentimentAnalyzer(model_dir, tmp_path / "cache", variant="fp32")
