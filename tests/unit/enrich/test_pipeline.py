"""The pipeline's one-at-a-time fallback: a batch that fails is retried article by article,
so one bad article dead-letters alone and the others are enriched as usual."""

from __future__ import annotations

from collections.abc import Sequence

from schemas import ArticleEnriched, ArticleIngested, Language
from streams.enrich.base import Document, Enricher, EnricherError
from streams.enrich.pipeline import EnrichmentFailure, Pipeline
from streams.sources.parse import ParsedArticle, parse_article


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
