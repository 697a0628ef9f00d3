"""The worker's JSON views over HTTP (aiohttp's test server on the app's own web application,
no broker): what ``/entities/{name}``, ``/entities/trending`` and ``/articles/{id}`` show of
the sentiment toward each entity."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from schemas import ArticleEnriched
from streams.app.factory import NewsApp
from streams.app.metrics import WorkerMetrics
from streams.app.trending import RecentArticles, TrendTables, mentions_of, window_specs
from streams.app.views import install_views
from tests.support.entity_sentiment import as_version_3, with_entity_sentiment


class Worker:
    """The views of a worker whose tables hold what ``add`` gave them."""

    def __init__(self, client: TestClient[Any, Any], trends: TrendTables, recent: RecentArticles):
        self.client = client
        self.trends = trends
        self.recent = recent

    def add(self, article: ArticleEnriched) -> None:
        for mention in mentions_of(article):
            self.trends.add(mention)
        self.recent.add(0, article.article_id, article.model_dump(mode="json"))

    async def get(self, path: str) -> tuple[int, Any]:
        response = await self.client.get(path)
        return response.status, await response.json()


@pytest.fixture
async def worker() -> AsyncIterator[Worker]:
    app = NewsApp("views-test", broker="kafka://127.0.0.1:1")
    trends = TrendTables(window_specs(3600), {})
    recent = RecentArticles({}, per_partition=10)
    install_views(app, trends, recent, WorkerMetrics(), None, set())
    async with TestClient(TestServer(app.web.web_app)) as client:
        yield Worker(client, trends, recent)


def now() -> datetime:
    # The views show the windows of the present, so the articles arrive now.
    return datetime.fromtimestamp(time.time(), UTC)


async def test_the_entity_view_shows_the_sentiment_toward_that_entity(worker: Worker) -> None:
    worker.add(with_entity_sentiment("m1", document_score=0.25, ingested_at=now()))

    status, ajax = await worker.get("/entities/Ajax")
    assert status == 200
    assert (ajax["name"], ajax["entity_id"]) == ("Ajax", "org/ajax")
    assert ajax["windows"]["1h"]["avg_sentiment"] == pytest.approx(0.625)
    assert ajax["windows"]["24h"]["avg_sentiment"] == pytest.approx(0.625)
    assert ajax["history"][0]["avg_sentiment"] == pytest.approx(0.625)
    status, feyenoord = await worker.get("/entities/org/feyenoord")
    assert status == 200
    assert feyenoord["name"] == "Feyenoord"
    assert feyenoord["windows"]["1h"]["avg_sentiment"] == pytest.approx(-0.625)

    status, trending = await worker.get("/entities/trending?window=24h")
    assert status == 200
    assert {e["name"]: e["avg_sentiment"] for e in trending["entities"]} == {
        "Ajax": pytest.approx(0.625),
        "Feyenoord": pytest.approx(-0.625),
    }


async def test_the_entity_view_falls_back_to_the_document_score_for_old_articles(
    worker: Worker,
) -> None:
    at = now()
    worker.add(as_version_3(with_entity_sentiment("old", document_score=0.25, ingested_at=at)))
    worker.add(with_entity_sentiment("new", document_score=0.25, ingested_at=at))

    status, feyenoord = await worker.get("/entities/Feyenoord")

    assert status == 200
    assert feyenoord["windows"]["1h"]["articles"] == 2
    assert feyenoord["windows"]["1h"]["avg_sentiment"] == pytest.approx((0.25 - 0.625) / 2)


async def test_the_article_view_carries_each_mention_s_sentiment(worker: Worker) -> None:
    article = with_entity_sentiment("m1", ingested_at=now())
    worker.add(article)
    worker.add(as_version_3(with_entity_sentiment("old", ingested_at=now())))

    status, shown = await worker.get("/articles/m1")
    assert status == 200
    assert [(e["text"], e["sentiment"]) for e in shown["entities"]] == [
        (e.text, e.sentiment.model_dump(mode="json") if e.sentiment else None)
        for e in article.entities
    ]
    status, old = await worker.get("/articles/old")
    assert status == 200
    assert all(e["sentiment"] is None for e in old["entities"])


async def test_an_entity_nobody_mentioned_is_not_found(worker: Worker) -> None:
    status, body = await worker.get("/entities/Nobody")
    assert status == 404
    assert "Nobody" in body["error"]
