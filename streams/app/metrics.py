"""The worker's Prometheus metrics (``/metrics``) and its "last progress" clock.

One :class:`WorkerMetrics` per app, with its own registry (not prometheus_client's global
one), so that several apps in one process (tests) never clash. The app factory wraps every
agent's ``send`` and ``handoff`` (their :class:`~streams.app.agents.loop.Outlet`) with
:meth:`WorkerMetrics.counted_send` and :meth:`WorkerMetrics.counted_handoff`, the enrich step's
``run_blocking`` with :meth:`WorkerMetrics.timed_enrichment`, and adds the Faust sensor of
:func:`count_records_in`, which counts the records consumed; the ``/metrics`` view sets the lag
gauge just before each scrape.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sized
from datetime import UTC, datetime
from typing import Any, TypeVar

import faust
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from streams.processing.delivery import Handoff, Send

A = TypeVar("A")
R = TypeVar("R")

#: Enrichment of one batch takes from milliseconds (tiny articles) to tens of seconds (a full
#: batch of long articles on a busy CPU).
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class WorkerMetrics:
    """Counters, the enrichment latency histogram, the lag gauge and the progress clock."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events_in = Counter(
            "newsstream_events_in",
            "Records consumed by the worker's agents, per topic.",
            ["topic"],
            registry=self.registry,
        )
        self.events_out = Counter(
            "newsstream_events_out",
            "Events the worker produced and the broker acknowledged, per topic.",
            ["topic"],
            registry=self.registry,
        )
        self.deadletters = Counter(
            "newsstream_deadletters",
            "Dead-letter events the worker produced (acknowledged).",
            registry=self.registry,
        )
        self.enrichment_seconds = Histogram(
            "newsstream_enrichment_seconds",
            "Time the enrichment pipeline took for one batch of articles.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.enriched_articles = Counter(
            "newsstream_enriched_articles",
            "Articles that went through the enrichment pipeline (including failures).",
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "newsstream_consumer_lag",
            "Records on the assigned partitions after the consumer's position (end - position), "
            "measured when scraped.",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.last_progress = Gauge(
            "newsstream_last_progress_timestamp_seconds",
            "Unix time at which an agent of this worker last finished a batch (0: never).",
            registry=self.registry,
        )
        self._last_progress: float | None = None

    # --- hooks --------------------------------------------------------------------------------

    def progress(self) -> None:
        """An agent finished a batch (its outputs acknowledged)."""
        now = time.time()
        self._last_progress = now
        self.last_progress.set(now)

    @property
    def last_progress_at(self) -> datetime | None:
        """When an agent last finished a batch, or None if none has yet."""
        if self._last_progress is None:
            return None
        return datetime.fromtimestamp(self._last_progress, UTC)

    def received(self, topic: str, count: int = 1) -> None:
        self.events_in.labels(topic=topic).inc(count)

    def _acknowledged(self, topic: str, deadletter_topic: str) -> None:
        self.events_out.labels(topic=topic).inc()
        if topic == deadletter_topic:
            self.deadletters.inc()

    def counted_send(self, send: Send, deadletter_topic: str) -> Send:
        """``send`` that counts each event once the broker acknowledged it."""

        async def counted(topic: str, key: bytes, value: bytes) -> None:
            await send(topic, key, value)
            self._acknowledged(topic, deadletter_topic)

        return counted

    def counted_handoff(self, handoff: Handoff, deadletter_topic: str) -> Handoff:
        """``handoff`` whose records are counted once the broker acknowledged them, like
        :meth:`counted_send`'s."""

        def count(topic: str, acknowledgement: asyncio.Future[object]) -> None:
            if not acknowledgement.cancelled() and acknowledgement.exception() is None:
                self._acknowledged(topic, deadletter_topic)

        async def counted(topic: str, key: bytes, value: bytes) -> Awaitable[object]:
            acknowledgement = asyncio.ensure_future(await handoff(topic, key, value))
            acknowledgement.add_done_callback(functools.partial(count, topic))
            return acknowledgement

        return counted

    def timed_enrichment(
        self, run_blocking: Callable[[Callable[[A], R], A], Awaitable[R]]
    ) -> Callable[[Callable[[A], R], A], Awaitable[R]]:
        """``run_blocking`` that records each batch's duration and marks progress."""

        async def timed(fn: Callable[[A], R], batch: A) -> R:
            started = time.perf_counter()
            result = await run_blocking(fn, batch)
            self.enrichment_seconds.observe(time.perf_counter() - started)
            self.enriched_articles.inc(len(batch) if isinstance(batch, Sized) else 1)
            self.progress()
            return result

        return timed

    def set_lag(self, lag: Mapping[tuple[str, int], int]) -> None:
        """Replace the lag gauge's series with ``lag`` ((topic, partition) -> records)."""
        self.consumer_lag.clear()
        for (topic, partition), value in lag.items():
            self.consumer_lag.labels(topic=topic, partition=str(partition)).set(value)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


def count_records_in(app: faust.App, metrics: WorkerMetrics, topics: Collection[str]) -> None:
    """Add a Faust sensor to ``app`` that counts each record of ``topics`` it consumes
    (``newsstream_events_in``), as it arrives."""

    class EventsIn(faust.Sensor):
        def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
            if tp.topic in topics:
                metrics.received(tp.topic)

    app.sensors.add(EventsIn())
