"""Benchmark 5, memory: peak RSS of worker, watcher and sinks as the article count grows.

A deployment of real processes (``newsstream watch``, ``newsstream sink sqlite`` and
``jsonl``, and the worker's Faust path with an identity enricher, ``python -m bench.worker
identity``, so that thousands of articles pass in minutes; the NLP worker's own memory is
measured by the enrichment benchmark). Files are dropped at a steady 150 per second (slower
where the path is slower: at most 100 ahead of the SQLite rows): first
``counts[0]``, then up to ``counts[1]``. After each step, when every article has its SQLite
row, each process's peak RSS (VmHWM) is read; flat means the peak after the larger count
stays within 10% of the peak after the smaller one.

The worker's stories state is not a buffer: it holds the articles of its window (72 h of
article time), up to ``--stories-max-articles`` (default 20,000), and at 250 files/s every
article is inside the window. So the worker runs with that cap at half the smaller count:
both snapshots are taken with the state at its cap, and the figure shows whether anything
else grows. What the state costs per article is measured in-process
(``bench.memory.story_state_bytes``) and printed next to it.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any

from bench.context import Context
from bench.corpus import Article
from bench.procs import status_kib
from bench.stacks import START_TIMEOUT, RowWatcher, Stack, drop
from streams.kafka.tansu import EmbeddedBroker
from streams.stories.cluster import StoryClusterer, StoryParams, StoryState

GROWTH_LIMIT = 1.1
#: The smallest cap the worker accepts (``Settings.stories_max_articles``).
STORIES_CAP_FLOOR = 100
#: Files per second dropped into the inbox. Below what the identity path sustains with
#: corpus-length articles (~230/s on 2 cores, bound by the stories stage), so no backlog builds
#: up in the consumers' buffers and the peaks follow the article count, not a burst.
RATE = 150.0
#: Files dropped but not yet in the SQLite sink, at most: on a machine where the path sustains
#: less than ``RATE``, the drops slow down to its pace instead of building a backlog.
MAX_OUTSTANDING = 100


class Memory:
    name = "memory"

    def __init__(self, ctx: Context, broker: EmbeddedBroker) -> None:
        self.ctx = ctx
        self.broker = broker
        small, _ = ctx.sizes.memory_counts
        self.stories_cap = max(STORIES_CAP_FLOOR, small // 2)
        self.stack = Stack(
            "m",
            broker.bootstrap,
            ctx.workdir / "m",
            extra_env={"NEWSSTREAM_STORIES_MAX_ARTICLES": str(self.stories_cap)},
        )

    def start(self) -> None:
        procs = self.ctx.procs
        self.stack.start_worker(procs, "identity")
        self.stack.start_watcher(procs)
        self.stack.start_sinks(procs)

    def stop(self) -> None:
        self.ctx.procs.stop(self.stack.procs)

    def _snapshot(self) -> dict[str, dict[str, float]]:
        out = {
            proc.name.removeprefix("m-"): {
                "peak_rss_mib": status_kib(proc.pid, "VmHWM") / 1024,
                "rss_mib": status_kib(proc.pid, "VmRSS") / 1024,
            }
            for proc in self.stack.procs
        }
        out["broker"] = {
            "peak_rss_mib": status_kib(self.broker.pid, "VmHWM") / 1024,
            "rss_mib": status_kib(self.broker.pid, "VmRSS") / 1024,
        }
        return out

    def run(self) -> None:
        ctx, stack = self.ctx, self.stack
        small, large = ctx.sizes.memory_counts
        articles = ctx.corpus.take(large, "m", start=0)
        with RowWatcher(stack.sqlite_path, interval=0.2) as rows:
            stack.wait_ready(START_TIMEOUT)
            warm = ctx.corpus.take(1, "mwarm")[0]
            drop(stack.inbox, warm)
            rows.wait_for([warm.article_id], START_TIMEOUT, check=stack.check)
            snapshots: dict[str, dict[str, dict[str, float]]] = {}
            rates: dict[str, float] = {}
            done = 0
            for target in (small, large):
                ctx.say(f"memory: {target:,} articles")
                batch = articles[done:target]
                with ctx.cpu(f"memory: up to {target}"):
                    rates[str(target)] = round(self._drop_all(batch, rows), 1)
                    rows.wait_for(
                        [a.article_id for a in batch], 120 + target / 5, check=stack.check
                    )
                done = target
                snapshots[str(target)] = self._snapshot()
        self._figures(snapshots, rates, small, large)

    def _drop_all(self, articles: list[Article], rows: RowWatcher) -> float:
        """Drop at a steady ``RATE`` per second, never more than ``MAX_OUTSTANDING`` ahead of
        the SQLite rows, so the backlog stays small on a machine slower than ``RATE`` too and
        the peaks reflect the article count, not a burst; returns the rate achieved."""
        began = time.monotonic()
        already = len(rows.seen)
        for index, article in enumerate(articles):
            delay = began + index / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            while index - (len(rows.seen) - already) >= MAX_OUTSTANDING:
                if rows.error is not None:
                    raise RuntimeError(f"row watcher failed: {rows.error!r}")
                self.stack.check()
                time.sleep(0.02)
            drop(self.stack.inbox, article)
        return len(articles) / max(0.001, time.monotonic() - began)

    def _figures(
        self,
        snaps: dict[str, dict[str, dict[str, float]]],
        rates: dict[str, float],
        small: int,
        large: int,
    ) -> None:
        results = self.ctx.results
        details: dict[str, Any] = {
            "counts": [small, large],
            "snapshots": snaps,
            "stories_max_articles": self.stories_cap,
            "drop_rates": rates,
        }
        for name in ("worker1", "watcher", "sink-sqlite", "sink-jsonl"):
            before = snaps[str(small)][name]["peak_rss_mib"]
            after = snaps[str(large)][name]["peak_rss_mib"]
            label = (
                f"identity worker (stories cap {self.stories_cap:,})" if name == "worker1" else name
            )
            first = results.add("memory", f"{label} peak RSS @ {small:,}", before, "MiB")
            results.add(
                "memory",
                f"{label} peak RSS @ {large:,}",
                after,
                "MiB",
                baseline=first,
                target=f"<= {GROWTH_LIMIT:g}x",
                met=after <= GROWTH_LIMIT * before,
                note=f"{(after - before) * 1024 * 1000 / (large - small):+.0f} KiB per 1,000 "
                "articles",
            )
        default_cap = StoryParams().max_articles
        per_article = story_state_bytes(
            # Distinct bodies, so that every article makes a story of its own, as most do.
            self.ctx.corpus.take(min(len(self.ctx.corpus.articles), 2_000), "mstate")
        )
        results.add(
            "memory",
            "stories state per article held (in-process)",
            per_article / 1024,
            "KiB",
            note=f"x the default cap of {default_cap:,} = {per_article * default_cap / 2**20:.0f} "
            "MiB at most",
        )
        results.add(
            "memory",
            f"broker (Tansu, in memory) RSS @ {large:,}",
            snaps[str(large)]["broker"]["rss_mib"],
            "MiB",
            note="never frees by design; grows with the data",
        )
        self.ctx.results.details["memory"] = details


def story_state_bytes(articles: list[Article]) -> float:
    """Bytes of Python heap the stories state (tables and band index) holds per article,
    measured with tracemalloc while ``articles`` are clustered (distinct stories, no cap)."""
    from bench.worker import IdentityEnricher
    from streams.enrich.pipeline import EnrichmentFailure, Pipeline

    enriched = [
        e
        for e in Pipeline([IdentityEnricher()]).enrich_batch([a.event() for a in articles])
        if not isinstance(e, EnrichmentFailure)
    ]
    clusterer = StoryClusterer(StoryState.in_memory())
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for article in enriched:
            clusterer.assign(clusterer.features(article))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held / max(1, len(enriched))
