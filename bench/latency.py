"""Benchmark 3, latency: file drop -> enriched event -> SQLite row at paced arrival rates.

Run by ``bench.enrichment.NlpStack`` on its deployment (one ``newsstream worker``, the
watcher and both sinks, production defaults: ``take_events(32, within=0.05)``, files read
as soon as inotify reports them moved in). Files are dropped whole (written under a hidden
name, then renamed) at ``rate`` per second. Per article:

* ``drop``: wall clock right after the rename;
* ``raw``: CreateTime of its ``news.articles.raw`` record (the watcher's send);
* ``story_input``: CreateTime of its record on the worker's story input (the enrich agent's
  send, after enrichment; see ``streams.app.agents.stories``);
* ``enriched``: CreateTime of its ``news.articles.enriched`` record (the worker's send);
* ``row``: first poll (every 20 ms) of the SQLite sink that shows its row;
* ``enrich``: the time ``Pipeline.enrich_batch([article])`` took for the same text, measured
  directly before the stack ran (``overhead`` = drop->row minus that).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.context import Context
from bench.corpus import Article
from bench.kafka import read_all
from bench.report import percentile
from bench.stacks import RowWatcher, Stack, drop
from streams.processing.story_input import story_input_topic


@dataclass(frozen=True)
class Sample:
    drop: float
    raw: float
    story_input: float
    enriched: float
    row: float
    enrich: float

    @property
    def to_enriched(self) -> float:
        return self.enriched - self.drop

    @property
    def to_row(self) -> float:
        return self.row - self.drop

    @property
    def overhead(self) -> float:
        return self.to_row - self.enrich


def paced_run(
    ctx: Context,
    stack: Stack,
    rows: RowWatcher,
    articles: Sequence[Article],
    enrich_seconds: Sequence[float],
    rate: float,
    timeout: float,
) -> list[Sample]:
    """Drop ``articles`` at ``rate`` per second; wait for every row; the samples."""
    assert stack.watcher is not None
    drops: dict[str, float] = {}
    began = time.time()
    for index, article in enumerate(articles):
        delay = began + index / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        drops[article.article_id] = drop(stack.inbox, article)
    seen = rows.wait_for(drops, timeout, check=stack.check)
    wanted = set(drops)
    raw_ts = _timestamps(stack, stack.topics.raw, wanted)
    story_input_ts = _timestamps(stack, story_input_topic(stack.app_id), wanted)
    enriched_ts = _timestamps(stack, stack.topics.enriched, wanted)
    return [
        Sample(
            drop=drops[a.article_id],
            raw=raw_ts[a.article_id],
            story_input=story_input_ts[a.article_id],
            enriched=enriched_ts[a.article_id],
            row=seen[a.article_id],
            enrich=seconds,
        )
        for a, seconds in zip(articles, enrich_seconds, strict=True)
    ]


def _timestamps(stack: Stack, topic: str, wanted: set[str]) -> dict[str, float]:
    records = asyncio.run(read_all(stack.conn, topic))
    found: dict[str, float] = {}
    for record in records:
        key = (record.key or b"").decode()
        if key in wanted:
            # The first record of an article (a redelivery would come later).
            found.setdefault(key, record.timestamp_ms / 1000)
    missing = wanted - found.keys()
    if missing:
        raise RuntimeError(f"{len(missing)} articles missing from {topic}")
    return found


def summary(samples: Sequence[Sample]) -> dict[str, Any]:
    def median(values: Sequence[float]) -> float:
        return round(percentile(values, 50), 3)

    def stats(values: Sequence[float]) -> dict[str, float]:
        return {f"p{q}": round(percentile(values, q), 3) for q in (50, 95, 99)} | {
            "max": round(max(values), 3)
        }

    return {
        "articles": len(samples),
        "drop_to_enriched": stats([s.to_enriched for s in samples]),
        "drop_to_row": stats([s.to_row for s in samples]),
        "overhead": stats([s.overhead for s in samples]),
        "stages_p50": {
            "watch (drop->raw)": median([s.raw - s.drop for s in samples]),
            "worker (raw->enriched)": median([s.enriched - s.raw for s in samples]),
            "worker minus enrichment": median([s.enriched - s.raw - s.enrich for s in samples]),
            "enrich agent (raw->story input)": median([s.story_input - s.raw for s in samples]),
            "enrich agent minus enrichment": median(
                [s.story_input - s.raw - s.enrich for s in samples]
            ),
            "stories agent (story input->enriched)": median(
                [s.enriched - s.story_input for s in samples]
            ),
            "sink (enriched->row)": median([s.row - s.enriched for s in samples]),
        },
        "enrich_seconds": stats([s.enrich for s in samples]),
    }


def report(ctx: Context, label: str, rate: float, samples: Sequence[Sample]) -> dict[str, Any]:
    """Add the figures of one rate; returns its summary for the details."""
    results = ctx.results
    data = summary(samples)
    enriched, row, over = data["drop_to_enriched"], data["drop_to_row"], data["overhead"]
    bench = "latency"
    results.add(
        bench,
        f"{label}: drop->enriched p50",
        enriched["p50"],
        "s",
        note=f"p95 {enriched['p95']:.2f} s, p99 {enriched['p99']:.2f} s",
    )
    results.add(
        bench,
        f"{label}: drop->row p50",
        row["p50"],
        "s",
        note=f"p95 {row['p95']:.2f} s, p99 {row['p99']:.2f} s; enrichment alone p50 "
        f"{data['enrich_seconds']['p50']:.2f} s",
    )
    for quantile, limit, target in (("p50", 0.1, "<= 0.1 s"), ("p99", 1.0, "<= 1 s")):
        results.add(
            bench,
            f"{label}: overhead {quantile} (row - enrich)",
            over[quantile],
            "s",
            target=target,
            met=over[quantile] <= limit,
        )
    data["rate_per_second"] = round(rate, 3)
    return data


def rates(capacity: float, counts: tuple[int, int, int]) -> list[tuple[str, float, int]]:
    """(label, articles per second, count): 10/s, the measured maximum, half of it."""
    return [
        ("10/s", 10.0, counts[0]),
        (f"max {capacity:.2f}/s", capacity, counts[1]),
        (f"half {capacity / 2:.2f}/s", capacity / 2, counts[2]),
    ]


def singles_by_id(
    articles: Sequence[Article], seconds: Mapping[str, float], base: Sequence[Article]
) -> list[float]:
    """Enrichment time of each article's base text (tags only change the title)."""
    by_body = {a.body: seconds[a.name] for a in base}
    return [by_body[a.body] for a in articles]
