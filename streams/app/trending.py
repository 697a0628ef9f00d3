"""Trending entities and the recent-articles view: Faust tables fed from the enriched topic.

Data flow (all inside the worker, all changelog-backed, so a restarted worker recovers it):

1. The ``dashboard`` agent reads ``news.articles.enriched`` (keyed by article id). For each
   article it stores the event in the ``recent-articles`` table (keyed by article id, so the
   table is co-partitioned with its source) and sends one small mention record per canonical
   entity to the internal topic ``{app_id}-entity-mentions``, keyed by the entity's canonical
   name: that is the repartition step that puts every mention of an entity on one partition,
   so one worker holds the whole count of an entity even when several workers share the work.
2. The ``entity-trends`` agent reads those records and adds them to a windowed table keyed by
   entity: tumbling windows of ``trending_window_seconds`` (default 1 h). Each value is
   ``[mentions, articles, sentiment_sum, label, name]``; the average sentiment is
   ``sentiment_sum / articles``: the mean over those articles of the sentiment toward the
   entity in each (``streams.entity_sentiment`` over its mentions there), or, for an article
   whose mentions carry none (enriched before schema version 4, or without an entity-sentiment
   enricher), of its document score.
   The hopping 24 h window, advancing by the same step, is not stored: its figures are the sum
   of the 24 h of tumbling windows it covers (:class:`TrendTables`). After each update the agent
   publishes an :class:`~schemas.EntityTrending` event per window (tumbling and 24 h) to
   ``news.entities.trending``.

Window time is the article's ``ingested_at`` (when the watcher read it), not ``published``:
"trending" is about what arrives now, and the time travels in the event, so a replay of the
raw topic puts every article in the window it was first counted in.

Schema version 4 changed what is summed, not how it is stored: the mention record's ``score``
and the window value keep their form, so tables recovered from changelogs written before, and
mention records of an older worker, still read; their windows hold document scores, as the
fallback above gives for old articles, until they expire.

Delivery is Faust's at-least-once: a crash after a table update and before the offset commit
counts that article again when it is redelivered (the published events then carry the new
figures). The recent-articles table keeps at most ``ceil(recent_max / partitions)`` articles
per partition (oldest deleted, with a changelog tombstone), so memory stays bounded and the
bound survives restarts.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from schemas import (
    ArticleEnriched,
    DecodeError,
    EntitySentiment,
    EntityTrending,
    TrendWindowKind,
    decode,
)
from schemas.events import utc_now
from schemas.ids import event_id
from streams.entity_sentiment import entity_sentiment

log = logging.getLogger(__name__)

DAY: Final = 86400
#: Windows are kept this long after they end (Faust expires them while the worker runs).
EXPIRES_SECONDS: Final = 2 * DAY


def window_label(seconds: int) -> str:
    """A window's name in the web views: 3600 -> '1h', 600 -> '10m', 90 -> '90s'."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class WindowSpec:
    """One window definition; ranges follow Faust's (end = start + size - 0.1)."""

    name: str
    kind: TrendWindowKind
    size: int
    step: int

    def latest(self, timestamp: float) -> tuple[float, float]:
        """The window that covers the most recent ``size`` seconds up to ``timestamp``.

        Tumbling: the window containing it. Hopping: the one that ends at the next step
        boundary (the newest hopping window starts at the current step and has barely begun).
        """
        start = (timestamp // self.step) * self.step - self.size + self.step
        return (float(start), float(start) + self.size - 0.1)


def window_specs(tumbling_seconds: int) -> tuple[WindowSpec, WindowSpec]:
    """The tumbling window and the 24 h hopping window (advancing by the tumbling size).

    The 24 h figures are sums of whole tumbling windows (:class:`TrendTables`), so the
    tumbling size must divide 24 h."""
    if not 0 < tumbling_seconds < DAY:
        raise ValueError("the trending window must be shorter than the 24 h window")
    if DAY % tumbling_seconds:
        raise ValueError(
            f"the trending window ({tumbling_seconds} s) must divide 24 h (86400 s) evenly, "
            "e.g. 600, 900, 1800, 3600 or 7200"
        )
    return (
        WindowSpec(
            window_label(tumbling_seconds),
            TrendWindowKind.TUMBLING,
            tumbling_seconds,
            tumbling_seconds,
        ),
        WindowSpec(window_label(DAY), TrendWindowKind.HOPPING, DAY, tumbling_seconds),
    )


@dataclass(frozen=True, slots=True)
class Mention:
    """One (article, entity) pair: the record of the internal repartition topic.

    ``entity_id`` is the key everything is counted under (the entity-links id, so "VS" and
    "Verenigde Staten" count as one; the canonical name when an entity has no id);
    ``canonical`` is the name the views show; ``score`` the sentiment toward the entity in the
    article (see :func:`mentions_of`).
    """

    canonical: str
    label: str
    mentions: int
    score: float
    at: float
    article_id: str
    entity_id: str = ""

    @property
    def key(self) -> str:
        return self.entity_id or self.canonical

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "entity_id": self.key,
                "canonical": self.canonical,
                "label": self.label,
                "mentions": self.mentions,
                "score": self.score,
                "at": self.at,
                "article_id": self.article_id,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Mention:
        raw = orjson.loads(data)
        return cls(
            canonical=str(raw["canonical"]),
            label=str(raw["label"]),
            mentions=int(raw["mentions"]),
            score=float(raw["score"]),
            at=float(raw["at"]),
            article_id=str(raw["article_id"]),
            entity_id=str(raw.get("entity_id") or raw["canonical"]),
        )


def mentions_of(article: ArticleEnriched) -> list[Mention]:
    """One :class:`Mention` per entity (id) of ``article``, in first-mention order; the name
    shown is the entity's display name (the id's name in the article's language, so
    "Verenigde Staten" rather than a first-seen "VS"), or, in events linked before display
    names, the canonical name of its first mention.

    The score is the sentiment toward the entity in the article: the aggregate of the
    sentiments of all its mentions counted under the key (``streams.entity_sentiment``); where
    none has one (events before schema version 4, no entity-sentiment enricher), the article's
    document score, so a replay of old events counts as it did."""
    counts: dict[str, int] = {}
    firsts: dict[str, tuple[str, str]] = {}
    sentiments: dict[str, list[EntitySentiment | None]] = {}
    for entity in article.entities:
        key = entity.entity_id or entity.canonical
        counts[key] = counts.get(key, 0) + 1
        firsts.setdefault(key, (entity.shown_name, entity.label.value))
        sentiments.setdefault(key, []).append(entity.sentiment)
    at = article.ingested_at.timestamp()
    mentions = []
    for key, n in counts.items():
        own = entity_sentiment(sentiments[key])
        score = article.sentiment.score if own is None else own.score
        mentions.append(
            Mention(firsts[key][0], firsts[key][1], n, score, at, article.article_id, key)
        )
    return mentions


def add_mention(old: list[Any] | None, mention: Mention) -> list[Any]:
    """The window value after ``mention``: ``[mentions, articles, sentiment_sum, label, name]``
    (the latest name shown for the entity)."""
    mentions, articles, score_sum = (0, 0, 0.0) if old is None else (old[0], old[1], old[2])
    return [
        mentions + mention.mentions,
        articles + 1,
        score_sum + mention.score,
        mention.label,
        mention.canonical,
    ]


def shown_name(key: str, value: list[Any]) -> str:
    """The name to show for a table entry (values written before names were kept: the key)."""
    return str(value[4]) if len(value) > 4 else key


def figures(value: list[Any]) -> dict[str, Any]:
    """A window value as the web views show it."""
    mentions, articles, score_sum, label = value[:4]
    avg = score_sum / articles if articles else 0.0
    return {
        "label": label,
        "mentions": int(mentions),
        "articles": int(articles),
        "avg_sentiment": round(max(-1.0, min(1.0, avg)), 4),
    }


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def trending_event(
    key: str, spec: WindowSpec, window: tuple[float, float], value: list[Any]
) -> EntityTrending:
    shown = figures(value)
    canonical = shown_name(key, value)
    start = datetime.fromtimestamp(window[0], UTC)
    end = datetime.fromtimestamp(window[0] + spec.size, UTC)
    return EntityTrending(
        event_id=event_id(key, spec.name, window[0], shown["mentions"], shown["articles"]),
        canonical=canonical,
        entity_id=key,
        label=shown["label"],
        window=spec.name,
        window_kind=spec.kind,
        window_start=start,
        window_end=end,
        mentions=shown["mentions"],
        articles=shown["articles"],
        avg_sentiment=shown["avg_sentiment"],
        updated_at=utc_now(),
    )


class TrendTables:
    """The trending counts and how the web views read them (on the event loop only).

    Only the tumbling windows are stored: one table entry per (entity, tumbling window). A
    hopping window's figures are the sum of the tumbling windows it covers (the hopping window
    advances by the tumbling size and its size is a whole number of them, see
    :func:`window_specs`), computed when read. A table of the hopping windows themselves
    would write every mention into each of the 24 windows containing it: 24 changelog records
    per mention, which made the trending tables most of the worker's Kafka traffic (about 240
    records per article against 1-20 for everything else).
    """

    def __init__(self, specs: tuple[WindowSpec, WindowSpec], table: Any) -> None:
        """``table``: the Faust table (or any mapping) of the tumbling windows, keyed by
        ``(entity key, (window start, window end))``."""
        self.specs = {spec.name: spec for spec in specs}
        self.tumbling = next(spec for spec in specs if spec.kind is TrendWindowKind.TUMBLING)
        self._table = table

    def add(self, mention: Mention) -> dict[str, tuple[tuple[float, float], list[Any]]]:
        """Count ``mention`` in the tumbling window containing its time (inside an agent only).

        Returns, per window name, the latest window containing the time and its new value
        (for publishing).
        """
        bucket = self.tumbling.latest(mention.at)
        key = (mention.key, bucket)
        value = add_mention(self._table.get(key), mention)
        self._table[key] = value
        latest: dict[str, tuple[tuple[float, float], list[Any]]] = {}
        for name, spec in self.specs.items():
            if spec is self.tumbling:
                latest[name] = (bucket, value)
            else:
                window = spec.latest(mention.at)
                # Never None (the window holds this mention); ``or`` only tells the type checker.
                latest[name] = (window, self._value(mention.key, spec, window) or value)
        return latest

    def _buckets(self, spec: WindowSpec, window: tuple[float, float]) -> list[tuple[float, float]]:
        """The tumbling windows that make up ``window`` of ``spec``, oldest first."""
        size = self.tumbling.size
        first = int(window[0])
        return [
            (float(start), float(start) + size - 0.1)
            for start in range(first, first + spec.size, size)
        ]

    def _value(self, key: str, spec: WindowSpec, window: tuple[float, float]) -> list[Any] | None:
        """The value of entity ``key`` in ``window`` of ``spec`` (None: no mention)."""
        if spec is self.tumbling:
            value: list[Any] | None = self._table.get((key, window))
            return value
        found = (self._table.get((key, bucket)) for bucket in self._buckets(spec, window))
        return combine([value for value in found if value is not None])

    def top(self, name: str, limit: int, now: float) -> list[dict[str, Any]]:
        """The ``limit`` most mentioned entities of window ``name``'s latest window at ``now``."""
        spec = self.specs[name]
        starts = {bucket[0] for bucket in self._buckets(spec, spec.latest(now))}
        found: dict[str, list[tuple[float, list[Any]]]] = {}
        for key, value in list(self._table.items()):
            if key[1][0] in starts:
                found.setdefault(key[0], []).append((key[1][0], value))
        rows = []
        for entity, dated in found.items():
            value = combine([value for _, value in sorted(dated)])
            if value is not None:
                rows.append(
                    {"name": shown_name(entity, value), "entity_id": entity, **figures(value)}
                )
        rows.sort(key=lambda row: (-row["mentions"], -row["articles"], row["name"]))
        return rows[:limit]

    def resolve(self, name: str) -> str:
        """The table key for ``name``: an entity id as it is, or the id an entity shown under
        that name is counted under (newest window first); ``name`` itself if none is."""
        found: tuple[float, str] | None = None
        for key, value in list(self._table.items()):
            if key[0] == name:
                return name
            if shown_name(key[0], value) == name and (found is None or key[1][0] > found[0]):
                found = (key[1][0], key[0])
        return found[1] if found else name

    def entity(self, name: str, now: float, history: int = 24) -> dict[str, Any] | None:
        """Current figures of the entity ``name`` (an id or a shown name) in each window plus
        its last tumbling windows."""
        canonical = self.resolve(name)
        windows: dict[str, Any] = {}
        for name, spec in self.specs.items():
            window = spec.latest(now)
            value = self._value(canonical, spec, window)
            windows[name] = {
                "kind": spec.kind.value,
                "start": iso(window[0]),
                "end": iso(window[0] + spec.size),
                **(
                    figures(value)
                    if value
                    else {"mentions": 0, "articles": 0, "avg_sentiment": None}
                ),
            }
        tumbling = self.tumbling
        past = sorted(
            ((key[1][0], value) for key, value in self._table.items() if key[0] == canonical),
            reverse=True,
        )[:history]
        if not past and all(w["mentions"] == 0 for w in windows.values()):
            return None
        label = past[0][1][3] if past else None
        return {
            "name": shown_name(canonical, past[0][1]) if past else name,
            "entity_id": canonical,
            "label": label,
            "windows": windows,
            "history": [
                {"start": iso(start), "end": iso(start + tumbling.size), **figures(value)}
                for start, value in past
            ],
        }


def combine(values: list[list[Any]]) -> list[Any] | None:
    """The value of a window made of tumbling windows with ``values`` (oldest first): counts
    and sentiment summed, label and name of the newest. None when there are none."""
    if not values:
        return None
    newest = values[-1]
    return [
        sum(value[0] for value in values),
        sum(value[1] for value in values),
        sum(value[2] for value in values),
        newest[3],
        *newest[4:5],
    ]


class RecentArticles:
    """The last enriched articles, in a Faust table keyed by article id, bounded per partition.

    The table's value is ``{"partition": p, "article": <ArticleEnriched as JSON>}``; the
    partition is stored so that, after a restart, the per-partition order can be rebuilt from
    the recovered table.
    """

    def __init__(self, table: Any, per_partition: int) -> None:
        self._table = table
        self.per_partition = per_partition
        self._order: dict[int, deque[str]] = {}

    def add(self, partition: int, article_id: str, article: dict[str, Any]) -> None:
        """Store an article (inside an agent processing ``partition`` only)."""
        order = self._order.get(partition)
        if order is None:
            order = self._order[partition] = self._rebuild(partition)
        if article_id in order:
            order.remove(article_id)
        order.append(article_id)
        self._table[article_id] = {"partition": partition, "article": article}
        while len(order) > self.per_partition:
            oldest = order.popleft()
            if oldest in self._table:
                del self._table[oldest]  # tombstone on the same partition's changelog

    def forget(self, partitions: set[int]) -> None:
        """Partitions were revoked: their order is rebuilt if they come back."""
        for partition in partitions:
            self._order.pop(partition, None)

    def _rebuild(self, partition: int) -> deque[str]:
        mine = [
            (str(value["article"].get("enriched_at", "")), str(key))
            for key, value in list(self._table.items())
            if value.get("partition") == partition
        ]
        mine.sort()
        return deque(key for _, key in mine)

    def get(self, article_id: str) -> dict[str, Any] | None:
        value = self._table.get(article_id)
        return None if value is None else dict(value["article"])

    def latest(self, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` most recently enriched articles held by this worker, newest first."""
        articles = [dict(value["article"]) for value in list(self._table.values())]
        articles.sort(key=lambda a: str(a.get("enriched_at", "")), reverse=True)
        return articles[:limit]


def recent_bound(recent_max: int, partitions: int) -> int:
    return max(1, math.ceil(recent_max / max(1, partitions)))


def decode_enriched(value: bytes | None) -> ArticleEnriched | None:
    """The enriched event, or None (logged) for a record that is not one."""
    try:
        return decode(value or b"", ArticleEnriched)
    except DecodeError as exc:
        log.warning("skipping an enriched-topic record that does not decode: %s", exc)
        return None
