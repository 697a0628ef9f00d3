"""The worker's health: its state for ``/health``, the consumer lag, and the work its agents
have not done yet (what the stuck-consumer watchdog watches).

Read by the web views (:mod:`streams.app.views`) and the factory's lag timer
(:func:`streams.app.factory.create_app`); nothing here changes the app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping
from typing import Any

from faust.exceptions import ConsumerNotStarted

from streams.app.metrics import WorkerMetrics
from streams.app.watchdog import Watchdog

log = logging.getLogger(__name__)


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
    app: Any, metrics: WorkerMetrics, source_topics: set[str], watchdog: Watchdog | None
) -> tuple[int, dict[str, Any]]:
    """The ``/health`` answer: (HTTP status, body). 503 while starting, recovering tables,
    stopping or stuck (as ``watchdog`` says; None: no watchdog); 200 otherwise (also while
    rebalancing, which is routine)."""
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
    wd = watchdog.state().as_dict() if watchdog is not None else None
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


def unprocessed(app: Any, topics: Collection[str], processed: Mapping[tuple[str, int], int]) -> int:
    """Records of ``topics`` on this worker's assigned partitions that its agents have not done.

    Per partition: high watermark of the last fetch minus the larger of the agent's next offset
    and the committed offset. Partitions not fetched yet count 0 (nothing known to wait).
    """
    lag = 0
    consumer: Any = app.consumer
    for tp in assigned_partitions(app) or ():
        if tp.topic not in topics:
            continue
        try:
            highwater = consumer.highwater(tp)
        except Exception as exc:  # not fetched yet, or being revoked: no evidence of waiting work
            log.debug("no high watermark for %s: %s", tp, exc)
            continue
        if highwater is None:
            continue
        committed = consumer._committed_offset.get(tp) or 0
        position = max(processed.get((tp.topic, tp.partition), 0), committed)
        lag += max(0, int(highwater) - position)
    return lag
