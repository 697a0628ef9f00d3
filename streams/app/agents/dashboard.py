"""The dashboard's tables and their agents: recent articles and trending entities.

:func:`install_dashboard` is called once by :func:`streams.app.factory.create_app`. It adds
the ``recent-articles`` and ``trending-*`` tables, the internal entity-mentions topic and the
``dashboard`` and ``entity-trends`` agents (see :mod:`streams.app.trending` for the data flow);
the web views (:mod:`streams.app.views`) read the tables.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import faust

from schemas import encode
from streams.app.agents.loop import Outlet, add_agent
from streams.app.metrics import WorkerMetrics
from streams.app.trending import (
    EXPIRES_SECONDS,
    Mention,
    RecentArticles,
    TrendTables,
    decode_enriched,
    mentions_of,
    recent_bound,
    trending_event,
    window_specs,
)
from streams.config import Topics
from streams.processing.delivery import Output

log = logging.getLogger(__name__)


def mentions_topic(app_id: str) -> str:
    """The internal topic of the entity mentions, keyed by entity (the repartition step)."""
    return f"{app_id}-entity-mentions"


def install_dashboard(
    app: faust.App,
    *,
    topics: Topics,
    app_id: str,
    partitions: int,
    trending_window_seconds: int,
    recent_articles: int,
    metrics: WorkerMetrics,
    outlet: Outlet,
    in_flight: int = 256,
) -> tuple[TrendTables, RecentArticles]:
    """Add the tables, the entity-mentions topic and the two agents to ``app``; return the
    tables the web views read.

    The agents' outputs go to ``outlet``, at most ``in_flight`` events' worth waiting for the
    broker."""
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

    enriched = app.topic(topics.enriched)
    mentions = app.topic(mentions_topic(app_id), partitions=partitions, internal=True)

    async def dashboard_outputs(events: Sequence[Any]) -> list[Output]:
        [event] = events
        article = decode_enriched(event.value)
        if article is None:
            return []
        recent.add(event.message.partition, article.article_id, article.model_dump(mode="json"))
        return [
            (mentions.get_topic_name(), m.key.encode(), m.to_bytes()) for m in mentions_of(article)
        ]

    async def trend_outputs(events: Sequence[Any]) -> list[Output]:
        [event] = events
        try:
            mention = Mention.from_bytes(event.value)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipping a mention record that does not decode: %s", exc)
            return []
        latest = trends.add(mention)
        return [
            (
                topics.trending,
                mention.key.encode(),
                encode(trending_event(mention.key, trends.specs[name], *update)),
            )
            for name, update in latest.items()
        ]

    def delivered(event: Any) -> None:
        metrics.progress()

    # Both agents hand their outputs to the producer and go on: an event is acknowledged once
    # its outputs, and every earlier event's, were acknowledged.
    add = functools.partial(
        add_agent, app, outlet=outlet, in_flight=in_flight, on_delivered=delivered
    )
    add(enriched, "dashboard", dashboard_outputs)
    add(mentions, "entity-trends", trend_outputs)

    async def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        revoked: Iterable[Any] = args[0] if args else kwargs.get("revoked", ())
        recent.forget({tp.partition for tp in revoked if tp.topic == topics.enriched})

    app.on_partitions_revoked.connect(on_revoked)
    return trends, recent
