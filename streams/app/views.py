"""The worker's web views, served by Faust's web server on ``web_host:web_port``
(127.0.0.1 unless told otherwise):

  ``GET /``                      the live dashboard (static HTML/CSS/JS, polls the JSON views)
  ``GET /entities/trending``     ``?window=1h|24h&limit=20``: the top entities of the window
  ``GET /entities/{name}``       one entity: current windows and its last tumbling windows
  ``GET /articles``              ``?limit=20``: the latest enriched articles this worker holds
  ``GET /articles/{id}``         one enriched article (404 once it left the recent view)
  ``GET /health``                state, assigned partitions, lag, last progress; 503 unhealthy
  ``GET /metrics``               Prometheus text format

:func:`install_views` is called once by :func:`streams.app.factory.create_app`. The views
read the tables of the dashboard agents (:mod:`streams.app.agents.dashboard`) and the health
(:mod:`streams.app.health`). With several workers, each one's tables hold the partitions
assigned to it: the views of one worker show its share, ``news.entities.trending`` carries
every entity's figures.
"""

from __future__ import annotations

import logging
import time
from importlib import resources
from typing import Final

import faust
from faust.web import Request, Response, View

from streams.app.health import health_report, lag_by_partition
from streams.app.metrics import WorkerMetrics
from streams.app.trending import RecentArticles, TrendTables, iso
from streams.app.watchdog import Watchdog

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


def _static_view(text: str, content_type: str) -> type[View]:
    """A view that answers ``text`` as ``content_type``, with the security headers."""

    class Static(View):
        async def get(self, request: Request) -> Response:
            return self.text(text, content_type=content_type, headers=dict(_SECURITY_HEADERS))

    return Static


def install_views(
    app: faust.App,
    trends: TrendTables,
    recent: RecentArticles,
    metrics: WorkerMetrics,
    watchdog: Watchdog | None,
    source_topics: set[str],
) -> None:
    """Add the web views to ``app`` (before it starts).

    ``/health`` reports ``watchdog``'s state (None: no watchdog); its lag and ``/metrics``'
    consumer lag cover the assigned partitions of ``source_topics``.
    """
    # Faust's own table and router views would expose the raw tables (article bodies
    # included); nothing here uses them.
    app.conf.web_tables_enabled = False
    app.conf.web_router_enabled = False
    static = _static_files()
    default_window = trends.tumbling.name
    windows = list(trends.specs)

    # Registered before Faust's own index blueprint, so "/" is the dashboard.
    @app.page("/")
    class Dashboard(View):
        async def get(self, request: Request) -> Response:
            return self.html(static["dashboard.html"], headers=dict(_SECURITY_HEADERS))

    for name, content_type, view_name in (
        ("dashboard.js", "text/javascript", "DashboardScript"),
        ("dashboard.css", "text/css", "DashboardStyle"),
    ):
        app.page(f"/{name}", name=view_name)(_static_view(static[name], content_type))

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
            status, body = await health_report(app, metrics, source_topics, watchdog)
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
