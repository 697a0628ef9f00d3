"""The dashboard's tables and their agents: recent articles and trending entities.

:func:`install_dashboard` is called once by :func:`streams.app.factory.create_app`. It adds
the ``recent-articles`` and ``trending-*`` tables and the ``dashboard`` and ``entity-trends``
agents (see :mod:`streams.app.trending` for the data flow), the sensor that counts the records
the worker's agents consume, and the web views that read the tables (:mod:`streams.app.views`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any

import faust

from schemas import encode
from streams.app.metrics import WorkerMetrics
from streams.app.trending import (
    EXPIRES_SECONDS,
    Mention,
    RecentArticles,
    Send,
    TrendTables,
    decode_enriched,
    mentions_of,
    recent_bound,
    trending_event,
    window_specs,
)
from streams.app.views import install_views
from streams.config import Topics
from streams.processing.delivery import DeliveryWindow, Handoff, Output, hold
from streams.processing.story_input import story_input_topic

log = logging.getLogger(__name__)


def install_dashboard(
    app: faust.App,
    *,
    topics: Topics,
    app_id: str,
    partitions: int,
    trending_window_seconds: int,
    recent_articles: int,
    metrics: WorkerMetrics,
    send: Send,
    handoff: Handoff,
    in_flight: int = 256,
) -> None:
    """Add the tables, the two agents, the events-in sensor and the web views to ``app``.

    The agents hand their outputs to the producer with ``handoff``, at most ``in_flight``
    events' worth waiting for the broker; ``send`` sends again what failed."""
    # Faust's own table and router views would expose the raw tables (article bodies
    # included); nothing here uses them.
    app.conf.web_tables_enabled = False
    app.conf.web_router_enabled = False

    # Table keys and values travel as JSON (Faust's default for untyped tables; windowed keys
    # come back from the changelog as lists and Faust turns them into tuples again).
    specs = window_specs(trending_window_seconds)
    tumbling = specs[0]
    # Only the tumbling windows are a table; the 24 h figures are summed from them when read
    # (see TrendTables). Its windows are kept two days, beyond the 24 h the sums need.
    table = app.Table(
        f"trending-{tumbling.name}",
        default=None,
        partitions=partitions,
        help=f"Mentions, articles and sentiment per entity, tumbling {tumbling.name}.",
    )
    table.tumbling(tumbling.size, expires=EXPIRES_SECONDS)
    trends = TrendTables(specs, table)
    recent = RecentArticles(
        app.Table(
            "recent-articles",
            default=None,
            partitions=partitions,
            help="The latest enriched articles, bounded per partition.",
        ),
        recent_bound(recent_articles, partitions),
    )

    enriched_topic = app.topic(topics.enriched)
    mentions_topic = app.topic(f"{app_id}-entity-mentions", partitions=partitions, internal=True)

    # Both agents hand their outputs to the producer and go on (DeliveryWindow): an event is
    # acknowledged once its outputs, and every earlier event's, were acknowledged.
    def acknowledge(event: Any) -> None:
        event.ack()
        metrics.progress()

    @app.agent(enriched_topic, name="dashboard")
    async def dashboard(stream: Any) -> None:
        window = DeliveryWindow(handoff, send, limit=in_flight)
        try:
            async for event in stream.events():
                article = decode_enriched(event.value)
                outputs: list[Output] = []
                if article is not None:
                    recent.add(
                        event.message.partition,
                        article.article_id,
                        article.model_dump(mode="json"),
                    )
                    outputs = [
                        (mentions_topic.get_topic_name(), m.key.encode(), m.to_bytes())
                        for m in mentions_of(article)
                    ]
                hold([event])
                await window.submit(outputs, functools.partial(acknowledge, event))
        finally:
            window.close()

    @app.agent(mentions_topic, name="entity-trends")
    async def entity_trends(stream: Any) -> None:
        window = DeliveryWindow(handoff, send, limit=in_flight)
        try:
            async for event in stream.events():
                outputs: list[Output] = []
                try:
                    mention = Mention.from_bytes(event.value)
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("skipping a mention record that does not decode: %s", exc)
                else:
                    latest = trends.add(mention)
                    outputs = [
                        (
                            topics.trending,
                            mention.key.encode(),
                            encode(trending_event(mention.key, trends.specs[name], *update)),
                        )
                        for name, update in latest.items()
                    ]
                hold([event])
                await window.submit(outputs, functools.partial(acknowledge, event))
        finally:
            window.close()

    # The story input is a source too: a stalled stories agent shows as lag there.
    source_topics = {
        topics.raw,
        topics.enriched,
        mentions_topic.get_topic_name(),
        story_input_topic(app_id),
    }

    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked: Iterable[Any] = args[0] if args else kwargs.get("revoked", ())
        recent.forget({tp.partition for tp in revoked if tp.topic == topics.enriched})

    app.on_partitions_revoked.connect(on_revoked)

    class EventsIn(faust.Sensor):
        def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
            if tp.topic in source_topics:
                metrics.received(tp.topic)

    app.sensors.add(EventsIn())
    install_views(app, trends, recent, metrics, source_topics, specs[0].name)
