"""The Faust app: its settings, the app class and the factory that wires the agents together.

streams.app is the only package that imports faust. :func:`create_app` builds the app: the
transport (:mod:`streams.app.transport`), the agents (:mod:`streams.app.agents`), the web
views (:mod:`streams.app.views`) and the stuck-consumer watchdog (:mod:`streams.app.watchdog`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from streams.app.agents.dashboard import install_dashboard, mentions_topic
from streams.app.agents.enrich import install_enrich
from streams.app.agents.loop import Outlet
from streams.app.agents.stories import install_stories
from streams.app.health import unprocessed
from streams.app.metrics import WorkerMetrics, count_records_in
from streams.app.transport import Transport, credentials
from streams.app.views import install_views
from streams.app.watchdog import Watchdog
from streams.config import Topics
from streams.enrich.pipeline import Pipeline
from streams.kafka.client import FaustBrokerSettings
from streams.processing.batch import BatchProcessor
from streams.processing.story_input import story_input_topic
from streams.stories.cluster import StoryParams


@dataclass(frozen=True, slots=True)
class AppConfig:
    """Everything the app needs, decided by the CLI from ``Settings``."""

    app_id: str
    broker: FaustBrokerSettings
    topics: Topics
    partitions: int = 6
    replication_factor: int = 1
    datadir: Path = Path("data/faust")
    web_enabled: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    batch_max: int = 32
    batch_within_seconds: float = 0.05
    """How often ``take_events`` hands a partial batch to the agent: what an article arriving
    at an idle worker waits, on average half of it (a busy worker's batches fill meanwhile)."""
    batches_in_flight: int = 4
    """Enrich batches whose outputs may wait for the broker's acknowledgement at once."""
    events_in_flight: int = 256
    """The same for the one-event-at-a-time agents (stories, dashboard, trends)."""
    max_deadletter_payload_bytes: int = 256 * 1024
    max_event_bytes: int = 1_000_000
    """Larger output events are dead-lettered (Kafka's default message limit is ~1 MB)."""
    faust_overrides: Mapping[str, Any] = field(default_factory=dict)
    """Faust settings for a particular broker (see ``streams.kafka.compat``)."""
    stuck_seconds: float = 300.0
    """Watchdog: lag with no finished batch for this long ends the worker (0: off)."""
    trending_window_seconds: int = 3600
    """Size of the trending entities' tumbling window (see ``streams.app.trending``)."""
    recent_articles: int = 200
    """About how many enriched articles the dashboard's recent view keeps (bounded)."""
    stories_max_articles: int = 20_000
    """The most articles the stories stage holds (``StoryParams.max_articles``)."""


class NewsApp(faust.App):
    """A Faust app whose producers are idempotent (see :mod:`streams.app.transport`) and that
    releases the enrichment resources (threads, model servers) when it stops."""

    releases: list[Callable[[], None]]

    async def on_stop(self) -> None:
        try:
            await super().on_stop()
        finally:
            for release in getattr(self, "releases", []):
                release()

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> Any:
        return Transport(self.conf.broker_producer, self)


def create_app(config: AppConfig, pipeline: Pipeline) -> NewsApp:
    """Build the app with its topics, tables, agents, views, sensor, lag timer and watchdog;
    nothing connects (and no thread starts) until it starts. ``pipeline`` is closed when the
    app stops."""
    app = NewsApp(
        config.app_id,
        broker=config.broker.broker_url,
        broker_credentials=credentials(config.broker),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=config.partitions,
        topic_replication_factor=config.replication_factor,
        topic_allow_declare=True,
        processing_guarantee="at_least_once",
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        datadir=str(config.datadir),
        web_enabled=config.web_enabled,
        web_bind=config.web_host,
        web_host=config.web_host,
        web_port=config.web_port,
        web_in_thread=False,
        # The tables (streams.app.agents) recover from their changelogs on start; standby
        # copies on other workers would only double the changelog reading.
        table_standby_replicas=0,
        **dict(config.faust_overrides),
    )
    topics = config.topics

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="enrich")
    metrics = WorkerMetrics()
    send = metrics.counted_send(lambda t, k, v: _send(app, t, k, v), topics.deadletter)
    processor = BatchProcessor(
        pipeline=pipeline,
        run_blocking=metrics.timed_enrichment(
            lambda fn, arg: asyncio.get_running_loop().run_in_executor(executor, fn, arg)
        ),
        send=send,
        topics=topics,
        max_deadletter_payload_bytes=config.max_deadletter_payload_bytes,
        max_event_bytes=config.max_event_bytes,
        # The enriched events get their story first (streams.app.agents.stories), then go out.
        enriched_via=story_input_topic(config.app_id),
    )
    # Output topics are created with the right partitions by the CLI (streams.kafka.admin)
    # before the worker starts.

    watchdog = Watchdog(config.stuck_seconds)
    processed: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset to process

    def done(event: Any) -> None:
        # Called by the enrich and stories agents once an event's outputs were acknowledged.
        message = event.message
        tp = (message.topic, message.partition)
        processed[tp] = max(processed.get(tp, 0), message.offset + 1)
        watchdog.progress()

    outlet = Outlet(
        handoff=metrics.counted_handoff(lambda t, k, v: _handoff(app, t, k, v), topics.deadletter),
        send=send,
    )

    install_enrich(
        app,
        topics.raw,
        processor,
        outlet,
        done,
        partitions=config.partitions,
        batch_max=config.batch_max,
        batch_within_seconds=config.batch_within_seconds,
        in_flight=config.batches_in_flight,
    )

    # Work waits on both stages: raw records for the enrich agent, enriched records for the
    # stories agent (a stalled stories agent would otherwise leave the watchdog content).
    watched_topics = {topics.raw, story_input_topic(config.app_id)}

    async def observe_lag() -> None:
        watchdog.start()  # idempotent; only once the app runs, so a mere build starts no thread
        watchdog.observe_lag(unprocessed(app, watched_topics, processed))

    app.timer(interval=2.0)(observe_lag)

    trends, recent = install_dashboard(
        app,
        topics=topics,
        app_id=config.app_id,
        partitions=config.partitions,
        trending_window_seconds=config.trending_window_seconds,
        recent_articles=config.recent_articles,
        metrics=metrics,
        outlet=outlet,
        in_flight=config.events_in_flight,
    )
    # Stories: near-duplicates and same-event clustering, one owner
    # (see streams.app.agents.stories).
    install_stories(
        app,
        topics,
        outlet,
        done,
        app_id=config.app_id,
        metrics=metrics,
        max_deadletter_payload_bytes=config.max_deadletter_payload_bytes,
        in_flight=config.events_in_flight,
        params=StoryParams(max_articles=config.stories_max_articles),
    )

    # Every agent's input topic; the story input is one too: a stalled stories agent shows
    # as lag there.
    source_topics = {
        topics.raw,
        topics.enriched,
        mentions_topic(config.app_id),
        story_input_topic(config.app_id),
    }
    count_records_in(app, metrics, source_topics)
    install_views(app, trends, recent, metrics, watchdog, source_topics)

    # Threads first (a running enrichment finishes), then the model servers.
    app.releases = [watchdog.stop, lambda: executor.shutdown(wait=True), pipeline.close]
    return app


async def _handoff(app: NewsApp, topic: str, key: bytes, value: bytes) -> Awaitable[object]:
    # Queued in the producer; the returned future resolves on the broker's acknowledgement.
    acknowledgement: Awaitable[object] = await app.producer.send(
        topic, key, value, partition=None, timestamp=None, headers=None
    )
    return acknowledgement


async def _send(app: NewsApp, topic: str, key: bytes, value: bytes) -> None:
    await (await _handoff(app, topic, key, value))
