"""``/health`` while the worker starts: a JSON "starting" answer, never a server error.

Faust reports an app as "running" from the moment its start begins, before the consumer thread
exists, and the web server already answers then. A health probe in that gap once got an HTTP 500
(the consumer raised ``ConsumerNotStarted``), which a supervisor reads as a crash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from streams.app.factory import NewsApp
from streams.app.health import assigned_partitions, health_report, lag_by_partition
from streams.app.metrics import WorkerMetrics
from streams.app.watchdog import Watchdog

SOURCE_TOPICS = {"news-articles.raw"}


@pytest.fixture
def starting_app() -> Iterator[NewsApp]:
    app = NewsApp("health-test", broker="kafka://127.0.0.1:1")
    # The state Faust reports once ``start()`` has begun: the consumer thread is not up yet.
    app._started.set()
    yield app
    # The consumer's thread service made an event loop of its own, never started here.
    app.consumer._thread.thread_loop.close()  # type: ignore[attr-defined]


def test_a_worker_whose_consumer_has_not_started_reports_starting(starting_app: NewsApp) -> None:
    app = starting_app
    assert app.state == "running"
    assert assigned_partitions(app) is None

    watchdog = Watchdog(stuck_seconds=60, clock=lambda: 1000.0)
    status, body = asyncio.run(health_report(app, WorkerMetrics(), SOURCE_TOPICS, watchdog))

    assert status == 503
    assert body["status"] == "starting"
    assert body["healthy"] is False
    assert body["assigned_partitions"] == {}
    assert body["total_lag"] == 0
    assert body["watchdog"] == watchdog.state().as_dict()


def test_a_worker_without_a_watchdog_reports_none(starting_app: NewsApp) -> None:
    _, body = asyncio.run(health_report(starting_app, WorkerMetrics(), SOURCE_TOPICS, None))

    assert body["watchdog"] is None


def test_the_lag_of_a_worker_whose_consumer_has_not_started_is_empty(
    starting_app: NewsApp,
) -> None:
    assert asyncio.run(lag_by_partition(starting_app, SOURCE_TOPICS)) == {}
