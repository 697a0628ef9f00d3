"""bench.whatif's variants do the worker's work: change C builds the same event, only faster."""

from __future__ import annotations

from bench.whatif import constructed_event
from schemas import Entity, EntityLabel, Language, Quote, Sentiment
from schemas.events import SentimentLabel
from streams.enrich.base import Document, Enricher
from streams.enrich.pipeline import Pipeline
from streams.sources.parse import ParsedArticle, parse_article

BODY = "„Het regent in Utrecht,” zei Jan de Vries."


class Passes(Enricher):
    name = "passes"
    version = "1"

    def enrich(self, doc: Document) -> Document:
        return doc


def test_change_c_builds_the_event_the_pipeline_builds() -> None:
    """Every part the worker's ``Pipeline._to_event`` fills (quotes included) is filled alike."""
    article = parse_article("article.txt", BODY.encode())
    assert isinstance(article, ParsedArticle)
    event = article.to_event("article.txt", "0" * 64)
    doc = Document(
        body=BODY,
        language=Language(code="nl", confidence=0.9),
        entities=(
            Entity(text="Utrecht", label=EntityLabel.LOC, start=15, end=22, canonical="Utrecht"),
            Entity(
                text="Jan de Vries",
                label=EntityLabel.PER,
                start=29,
                end=41,
                canonical="Jan de Vries",
            ),
        ),
        quotes=(Quote(text="Het regent in Utrecht,", start=1, end=23, speaker="Jan de Vries"),),
        sentiment=Sentiment(label=SentimentLabel.NEGATIVE, score=-0.4),
    )
    pipeline = Pipeline([Passes()])

    worker = pipeline._to_event(event, doc)
    variant = constructed_event(pipeline, event, doc)

    assert variant.quotes == worker.quotes != ()
    assert variant.model_dump(exclude={"enriched_at"}) == worker.model_dump(exclude={"enriched_at"})
