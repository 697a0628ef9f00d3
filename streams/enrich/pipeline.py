"""The enrichment pipeline: runs the enrichers in order and builds the output events.

Pure Python, no Kafka: the Faust agent, ``newsstream enrich`` and the benchmarks all call it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schemas import (
    ArticleEnriched,
    ArticleIngested,
    EnricherInfo,
    Entity,
    EntityMention,
    EntityMentioned,
    Language,
    QuoteSaid,
    Sentiment,
    SentimentLabel,
)
from schemas.events import utc_now
from schemas.ids import event_id
from streams.enrich.base import Document, Enricher
from streams.entity_sentiment import entity_sentiment

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EnrichmentFailure:
    """One article the pipeline could not enrich; becomes a dead-letter event."""

    article: ArticleIngested
    reason: str
    detail: str


def event_id_for(article_id: str, provenance: Sequence[EnricherInfo]) -> str:
    """Deterministic id of a derivation: the same article through the same enricher versions."""
    versions = "\0".join(f"{p.name}={p.version}" for p in provenance)
    return event_id(article_id, versions)


class Pipeline:
    """An ordered list of enrichers. Thread-safe as far as its enrichers are (one call at a time
    per pipeline is always safe)."""

    def __init__(self, enrichers: Sequence[Enricher]) -> None:
        if not enrichers:
            raise ValueError("a pipeline needs at least one enricher")
        self.enrichers = tuple(enrichers)
        self.provenance = tuple(e.info for e in self.enrichers)

    def enrich(self, article: ArticleIngested) -> ArticleEnriched:
        """Enrich one article; raises whatever an enricher raised."""
        doc = Document(body=article.body, title=article.title)
        for enricher in self.enrichers:
            doc = enricher.enrich(doc)
        return self._to_event(article, doc)

    def enrich_batch(
        self, articles: Sequence[ArticleIngested]
    ) -> list[ArticleEnriched | EnrichmentFailure]:
        """Enrich several articles, batching inside enrichers that can.

        Results come in input order. A failing article never fails the others: if a batched
        step raises, that step is retried one article at a time to find the culprit.
        """
        docs: list[Document | EnrichmentFailure] = [
            Document(body=a.body, title=a.title) for a in articles
        ]
        for enricher in self.enrichers:
            live = [(i, d) for i, d in enumerate(docs) if isinstance(d, Document)]
            if not live:
                break
            inputs = [d for _, d in live]
            outputs: list[Document | EnrichmentFailure]
            try:
                outputs = list(enricher.enrich_batch(inputs))
            except Exception:
                log.exception("%s failed on a batch; retrying one article at a time", enricher.name)
                outputs = [self._one(enricher, d, articles[i]) for i, d in live]
            for (i, _), out in zip(live, outputs, strict=True):
                docs[i] = out
        return [
            d if isinstance(d, EnrichmentFailure) else self._to_event(a, d)
            for a, d in zip(articles, docs, strict=True)
        ]

    @staticmethod
    def _one(
        enricher: Enricher, doc: Document, article: ArticleIngested
    ) -> Document | EnrichmentFailure:
        try:
            return enricher.enrich(doc)
        except Exception as exc:
            return EnrichmentFailure(
                article, f"enricher-failed:{enricher.name}", f"{type(exc).__name__}: {exc}"
            )

    def _to_event(self, article: ArticleIngested, doc: Document) -> ArticleEnriched:
        return ArticleEnriched(**self.event_fields(article, doc))

    def event_fields(self, article: ArticleIngested, doc: Document) -> dict[str, Any]:
        """The fields of the ``ArticleEnriched`` event for ``article`` enriched into ``doc``.

        Called once per article by ``enrich`` and ``enrich_batch``; the benchmarks build their
        variants' events from it too, so they measure the worker's work. Parts the enrichers
        left empty get their neutral defaults (language 'und', neutral sentiment).
        """
        return {
            "event_id": event_id_for(article.article_id, self.provenance),
            "article_id": article.article_id,
            "source_id": article.source_id,
            "source_path": article.source_path,
            "title": article.title,
            "body": article.body,
            "published": article.published,
            "published_precision": article.published_precision,
            "url": article.url,
            "source": article.source,
            "ingested_at": article.ingested_at,
            "supersedes": article.supersedes,
            "warnings": article.warnings,
            "language": doc.language or Language(code="und", confidence=0.0),
            "entities": doc.entities,
            "quotes": doc.quotes,
            "sentiment": doc.sentiment or Sentiment(label=SentimentLabel.NEUTRAL, score=0.0),
            "provenance": self.provenance,
            "enriched_at": utc_now(),
        }

    def close(self) -> None:
        """Release every enricher's resources (frog servers, models); called once at shutdown."""
        for enricher in self.enrichers:
            try:
                enricher.close()
            except Exception:
                log.exception("closing %s failed", enricher.name)


def entity_events(enriched: ArticleEnriched) -> list[EntityMentioned]:
    """One ``EntityMentioned`` per (canonical name, label) of an article, mentions in text order.

    Each mention keeps its entity's sentiment; the event's ``sentiment`` is their aggregate
    (``streams.entity_sentiment``), None where no mention has one (events before schema
    version 4, or no entity-sentiment enricher ran)."""
    groups: dict[tuple[str, str], list[Entity]] = defaultdict(list)
    for entity in enriched.entities:
        groups[(entity.canonical, entity.label.value)].append(entity)
    events = []
    for (canonical, _label), mentions in groups.items():
        mentions.sort(key=lambda e: e.start)
        events.append(
            EntityMentioned(
                event_id=event_id(enriched.event_id, canonical, mentions[0].label.value),
                article_id=enriched.article_id,
                canonical=canonical,
                label=mentions[0].label,
                entity_id=mentions[0].entity_id,
                display_name=mentions[0].display_name,
                mentions=tuple(
                    EntityMention(text=m.text, start=m.start, end=m.end, sentiment=m.sentiment)
                    for m in mentions
                ),
                sentiment=entity_sentiment(m.sentiment for m in mentions),
                language=enriched.language.code,
                published=enriched.published,
                provenance=enriched.provenance,
            )
        )
    return events


def quote_events(enriched: ArticleEnriched) -> list[QuoteSaid]:
    """One ``QuoteSaid`` per quote of an article, in text order; ids follow the event's id."""
    return [
        QuoteSaid(
            event_id=event_id(enriched.event_id, "quote", q.start),
            article_id=enriched.article_id,
            text=q.text,
            start=q.start,
            end=q.end,
            speaker=q.speaker,
            speaker_id=q.speaker_id,
            language=enriched.language.code,
            published=enriched.published,
            provenance=enriched.provenance,
        )
        for q in enriched.quotes
    ]
