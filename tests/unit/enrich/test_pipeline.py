"""The pipeline's one-at-a-time fallback: a batch that fails is retried article by article,
so one bad article dead-letters alone and the others are enriched as usual; and the
``EntityMentioned`` events built from an enriched article, with the sentiment toward each
entity."""

from __future__ import annotations

from collections.abc import Sequence

from schemas import ArticleEnriched, ArticleIngested, EntitySentiment, Language, SentimentLabel
from streams.enrich.base import Document, Enricher, EnricherError
from streams.enrich.pipeline import EnrichmentFailure, Pipeline, entity_events
from streams.sources.parse import ParsedArticle, parse_article
from tests.support.entity_sentiment import BLAMED, PRAISED, as_version_3, with_entity_sentiment


def article(body: str) -> ArticleIngested:
    """The event the watcher makes of a ``.txt`` file holding ``body``."""
    parsed = parse_article("article.txt", body.encode())
    assert isinstance(parsed, ParsedArticle)
    return parsed.to_event("article.txt", "0" * 64)


class BatchesButRejects(Enricher):
    """Batches like a model does; the whole batch fails when one body holds the bad word."""

    name = "batches-but-rejects"
    version = "1"

    def __init__(self, word: str) -> None:
        self.word = word
        self.batches: list[int] = []
        self.singles = 0

    def enrich(self, doc: Document) -> Document:
        self.singles += 1
        if self.word in doc.body:
            raise EnricherError(f"cannot handle {self.word!r}")
        return doc.with_(language=Language(code="nl", confidence=1.0))

    def enrich_batch(self, docs: Sequence[Document]) -> list[Document]:
        self.batches.append(len(docs))
        if any(self.word in doc.body for doc in docs):
            raise EnricherError("the batch failed")
        return [doc.with_(language=Language(code="nl", confidence=1.0)) for doc in docs]


class Counts(Enricher):
    """A later step: records which bodies reach it."""

    name = "counts"
    version = "1"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def enrich(self, doc: Document) -> Document:
        self.seen.append(doc.body)
        return doc


def test_a_failing_batch_is_retried_one_article_at_a_time() -> None:
    first = BatchesButRejects("kapot")
    later = Counts()
    pipeline = Pipeline([first, later])
    articles = [article("Eerste stuk."), article("Dit stuk is kapot."), article("Derde stuk.")]

    results = pipeline.enrich_batch(articles)

    assert first.batches == [3]
    assert first.singles == 3
    good = [r for r in (results[0], results[2]) if isinstance(r, ArticleEnriched)]
    assert [r.article_id for r in good] == [articles[0].article_id, articles[2].article_id]
    assert all(r.language.code == "nl" for r in good)
    failure = results[1]
    assert isinstance(failure, EnrichmentFailure)
    assert failure.article == articles[1]
    assert failure.reason == "enricher-failed:batches-but-rejects"
    assert failure.detail == "EnricherError: cannot handle 'kapot'"
    # The bad article stops at the step that failed; the others go on through the pipeline.
    assert later.seen == ["Eerste stuk.", "Derde stuk."]


def test_a_batch_that_succeeds_is_not_retried() -> None:
    first = BatchesButRejects("kapot")
    pipeline = Pipeline([first])

    results = pipeline.enrich_batch([article("Een."), article("Twee.")])

    assert first.batches == [2]
    assert first.singles == 0
    assert all(isinstance(r, ArticleEnriched) for r in results)


def test_entity_events_carry_each_entity_s_own_sentiment() -> None:
    """Ajax praised and Feyenoord blamed in one (mildly positive) article: their events say so
    with opposite aggregates, whatever the document's score."""
    enriched = with_entity_sentiment(document_score=0.25)

    events = {e.canonical: e for e in entity_events(enriched)}

    ajax, feyenoord = events["Ajax"], events["Feyenoord"]
    assert [m.sentiment for m in ajax.mentions] == list(PRAISED)
    assert [m.sentiment for m in feyenoord.mentions] == list(BLAMED)
    assert ajax.sentiment == EntitySentiment(label=SentimentLabel.POSITIVE, score=0.625)
    assert feyenoord.sentiment == EntitySentiment(label=SentimentLabel.NEGATIVE, score=-0.625)
    assert ajax.schema_version == feyenoord.schema_version == 4


def test_entity_events_of_a_version_3_article_have_no_sentiment() -> None:
    """An article enriched before schema version 4 (a replay of an old enriched topic) gives
    events without sentiment: None, not the document's or the sentences' score."""
    old = as_version_3(with_entity_sentiment(document_score=0.25))

    events = entity_events(old)

    assert [e.canonical for e in events] == ["Ajax", "Feyenoord"]
    assert all(e.sentiment is None for e in events)
    assert all(m.sentiment is None for e in events for m in e.mentions)


def test_mentions_without_sentiment_leave_the_aggregate_to_the_others() -> None:
    partial = with_entity_sentiment(
        sentiments={"Ajax": (None, PRAISED[1]), "Feyenoord": (None, None)}
    )

    events = {e.canonical: e for e in entity_events(partial)}

    assert events["Ajax"].sentiment == PRAISED[1]
    assert [m.sentiment for m in events["Ajax"].mentions] == [None, PRAISED[1]]
    assert events["Feyenoord"].sentiment is None


def test_the_entity_event_ids_do_not_depend_on_sentiment() -> None:
    """Sinks upsert on event ids: the same derivation keeps its ids."""
    scored = with_entity_sentiment()
    plain = as_version_3(scored)
    assert [e.event_id for e in entity_events(plain)] == [e.event_id for e in entity_events(scored)]
