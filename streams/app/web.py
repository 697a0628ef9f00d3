"""The worker's tables, their agents, its web views and the live dashboard.

:func:`install_dashboard` is called once by :func:`streams.app.factory.create_app`. It adds:

* the ``recent-articles`` and ``trending-*`` tables and the ``dashboard`` and ``entity-trends``
  agents (see :mod:`streams.app.trending`);
* the web views, served by Faust's web server on ``web_host:web_port`` (127.0.0.1 unless told
  otherwise):

  ``GET /``                      the live dashboard (static HTML/CSS/JS, polls the JSON views)
  ``GET /entities/trending``     ``?window=1h|24h&limit=20``: the top entities of the window
  ``GET /entities/{name}``       one entity: current windows and its last tumbling windows
  ``GET /articles``              ``?limit=20``: the latest enriched articles this worker holds
  ``GET /articles/{id}``         one enriched article (404 once it left the recent view)
  ``GET /health``                state, assigned partitions, lag, last progress; 503 unhealthy
  ``GET /metrics``               Prometheus text format

With several workers, each one's tables hold the partitions assigned to it: the views of one
worker show its share, ``news.entities.trending`` carries every entity's figures.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Iterable
from importlib import resources
from typing import Any, Final

import faust
from faust.exceptions import ConsumerNotStarted
from faust.web import Request, Response, View

from schemas import encode
from streams.app import watchdog
from streams.app.delivery import DeliveryWindow, Handoff, Output, hold
from streams.app.metrics import WorkerMetrics
from streams.app.stories import story_input_topic
from streams.app.trending import (
    EXPIRES_SECONDS,
    Mention,
    RecentArticles,
    Send,
    TrendTables,
    decode_enriched,
    iso,
    mentions_of,
    recent_bound,
    trending_event,
    window_specs,
)
from streams.config import Topics

log = logging.getLogger(__name__)

MAX_LIMIT: Final = 200
_STATIC: Final = ("dashboard.html", "dashboard.js", "dashboard.css")
#: The dashboard loads nothing from elsewhere and runs no inline script: even if article text
#: ever reached the page unescaped, the browser would not execute it.
_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


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
    _install_views(app, trends, recent, metrics, source_topics, specs[0].name)


def assigned_partitions(app: Any) -> set[Any] | None:
    """The consumer's assigned partitions, or None while its thread has not started.

    Faust reports the app as "running" as soon as it begins starting, before the consumer
    thread exists; the health and metrics views and the lag timer can run in that gap.
    """
    try:
        return set(app.consumer.assignment())
    except ConsumerNotStarted:
        return None


async def lag_by_partition(app: Any, source_topics: set[str]) -> dict[tuple[str, int], int]:
    """End offset minus the consumer's position, per assigned partition of ``source_topics``.

    The end comes from ``highwaters`` (ListOffsets "latest", confirmed by a fetch on Tansu, see
    ``streams.kafka.compat``); partitions whose position is not known yet are left out.
    """
    consumer = app.consumer
    tps = sorted(tp for tp in assigned_partitions(app) or () if tp.topic in source_topics)
    if not tps:
        return {}
    ends = await asyncio.wait_for(consumer.highwaters(*tps), timeout=5.0)
    positions = await asyncio.gather(
        *(asyncio.wait_for(consumer.position(tp), timeout=2.0) for tp in tps),
        return_exceptions=True,
    )
    lag: dict[tuple[str, int], int] = {}
    for tp, position in zip(tps, positions, strict=True):
        if isinstance(position, BaseException):
            if not isinstance(position, TimeoutError):
                raise position
            continue
        if position is None or tp not in ends:
            continue
        lag[(tp.topic, tp.partition)] = max(0, int(ends[tp]) - int(position))
    return lag


async def health_report(
    app: Any, metrics: WorkerMetrics, source_topics: set[str]
) -> tuple[int, dict[str, Any]]:
    """The ``/health`` answer: (HTTP status, body). 503 while starting, recovering tables,
    stopping or stuck; 200 otherwise (also while rebalancing, which is routine)."""
    state = str(app.state)
    recovery = app.tables.recovery
    assigned: dict[str, list[int]] = {}
    lag: dict[tuple[str, int], int] = {}
    problem: str | None = None
    assignment = assigned_partitions(app) if state == "running" else None
    if assignment is not None:
        for tp in assignment:
            if tp.topic in source_topics:
                assigned.setdefault(tp.topic, []).append(tp.partition)
        try:
            lag = await lag_by_partition(app, source_topics)
        except Exception as exc:  # the broker is unreachable right now: report, not crash
            problem = f"lag unknown: {type(exc).__name__}: {exc}"
    wd = watchdog.health()
    if state != "running":
        status = "starting" if state == "init" else state
    elif assignment is None or not recovery.completed.is_set():
        status = "starting"
    elif getattr(app, "in_recovery", False):
        status = "recovering"
    elif wd is not None and wd.get("status") == "stuck":
        status = "stuck"
    elif getattr(app, "rebalancing", False):
        status = "rebalancing"
    else:
        status = "ok"
    healthy = status in ("ok", "rebalancing")
    last = metrics.last_progress_at
    body: dict[str, Any] = {
        "status": status,
        "healthy": healthy,
        "state": state,
        "assigned_partitions": {t: sorted(p) for t, p in sorted(assigned.items())},
        "lag": {
            topic: {str(p): n for (t, p), n in sorted(lag.items()) if t == topic}
            for topic in sorted({t for t, _ in lag})
        },
        "total_lag": sum(lag.values()),
        "last_progress": last.isoformat() if last else None,
        "seconds_since_progress": (
            round(time.time() - last.timestamp(), 1) if last is not None else None
        ),
        "watchdog": wd,
    }
    if problem:
        body["problem"] = problem
    return (200 if healthy else 503), body


def _static_files() -> dict[str, str]:
    folder = resources.files("streams.app") / "static"
    return {name: (folder / name).read_text(encoding="utf-8") for name in _STATIC}


def _limit(request: Request, default: int = 20) -> int | None:
    raw = request.query.get("limit", str(default))
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if 1 <= value <= MAX_LIMIT else None


def _install_views(
    app: faust.App,
    trends: TrendTables,
    recent: RecentArticles,
    metrics: WorkerMetrics,
    source_topics: set[str],
    default_window: str,
) -> None:
    static = _static_files()
    windows = list(trends.specs)

    # Registered before Faust's own index blueprint, so "/" is the dashboard.
    @app.page("/")
    class Dashboard(View):
        async def get(self, request: Request) -> Response:
            return self.html(static["dashboard.html"], headers=dict(_SECURITY_HEADERS))

    @app.page("/dashboard.js")
    class DashboardScript(View):
        async def get(self, request: Request) -> Response:
            return self.text(
                static["dashboard.js"],
                content_type="text/javascript",
                headers=dict(_SECURITY_HEADERS),
            )

    @app.page("/dashboard.css")
    class DashboardStyle(View):
        async def get(self, request: Request) -> Response:
            return self.text(
                static["dashboard.css"], content_type="text/css", headers=dict(_SECURITY_HEADERS)
            )

    @app.page("/entities/trending")
    class Trending(View):
        async def get(self, request: Request) -> Response:
            window = request.query.get("window", default_window)
            limit = _limit(request)
            if window not in trends.specs or limit is None:
                return self.json(
                    {
                        "error": f"window must be one of the windows, limit 1 to {MAX_LIMIT}",
                        "windows": windows,
                    },
                    status=400,
                )
            now = time.time()
            spec = trends.specs[window]
            start, _ = spec.latest(now)
            return self.json(
                {
                    "window": window,
                    "kind": spec.kind.value,
                    "start": iso(start),
                    "end": iso(start + spec.size),
                    "windows": windows,
                    "entities": trends.top(window, limit, now),
                }
            )

    @app.page("/entities/{name:.+}")
    class EntityView(View):
        async def get(self, request: Request, name: str) -> Response:
            found = trends.entity(name, time.time())
            if found is None:
                return self.json({"error": f"no mentions of {name!r} in any window"}, status=404)
            return self.json(found)

    @app.page("/articles")
    class Articles(View):
        async def get(self, request: Request) -> Response:
            limit = _limit(request)
            if limit is None:
                return self.json({"error": f"limit must be 1 to {MAX_LIMIT}"}, status=400)
            return self.json({"articles": recent.latest(limit)})

    @app.page("/articles/{article_id}")
    class ArticleView(View):
        async def get(self, request: Request, article_id: str) -> Response:
            article = recent.get(article_id)
            if article is None:
                return self.json(
                    {"error": f"article {article_id!r} is not in this worker's recent view"},
                    status=404,
                )
            return self.json(article)

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            status, body = await health_report(app, metrics, source_topics)
            return self.json(body, status=status)

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            if app.state == "running":
                try:
                    metrics.set_lag(await lag_by_partition(app, source_topics))
                except Exception as exc:  # keep serving the other metrics
                    log.warning("consumer lag unavailable for /metrics: %s", exc)
            # The content type carries parameters (version, charset): a header, as aiohttp
            # refuses a charset in ``content_type``.
            return self.bytes(metrics.exposition(), headers={"Content-Type": metrics.content_type})
