"""Benchmark 5, memory: peak RSS of worker, watcher and sinks as the article count grows.

A deployment of real processes (``newsstream watch``, ``newsstream sink sqlite`` and
``jsonl``, and the worker's Faust path with an identity enricher, ``python -m bench.worker
identity``, so that thousands of articles pass in minutes; the NLP worker's own memory is
measured by the enrichment benchmark). Files are dropped at a steady 250 per second: first
``counts[0]``, then up to ``counts[1]``. After each step, when every article has its SQLite
row, each process's peak RSS (VmHWM) is read; flat means the peak after the larger count
stays within 10% of the peak after the smaller one.
"""

from __future__ import annotations

import time
from typing import Any

from bench.context import Context
from bench.corpus import Article
from bench.procs import status_kib
from bench.stacks import START_TIMEOUT, RowWatcher, Stack, drop
from streams.kafka.tansu import EmbeddedBroker

GROWTH_LIMIT = 1.1
#: Files per second dropped into the inbox (the identity path moves ~400 files/s here).
RATE = 250.0


class Memory:
    name = "memory"

    def __init__(self, ctx: Context, broker: EmbeddedBroker) -> None:
        self.ctx = ctx
        self.broker = broker
        self.stack = Stack("m", broker.bootstrap, ctx.workdir / "m")

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
            done = 0
            for target in (small, large):
                ctx.say(f"memory: {target:,} articles")
                batch = articles[done:target]
                with ctx.cpu(f"memory: up to {target}"):
                    self._drop_all(batch)
                    rows.wait_for(
                        [a.article_id for a in batch], 120 + target / 5, check=stack.check
                    )
                done = target
                snapshots[str(target)] = self._snapshot()
        self._figures(snapshots, small, large)

    def _drop_all(self, articles: list[Article]) -> None:
        """Drop at a steady ``RATE`` per second (below what the path sustains), so the
        backlog stays small and the peak reflects the article count, not a burst."""
        began = time.monotonic()
        for index, article in enumerate(articles):
            delay = began + index / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            drop(self.stack.inbox, article)

    def _figures(
        self, snaps: dict[str, dict[str, dict[str, float]]], small: int, large: int
    ) -> None:
        results = self.ctx.results
        details: dict[str, Any] = {"counts": [small, large], "snapshots": snaps}
        for name in ("worker1", "watcher", "sink-sqlite", "sink-jsonl"):
            before = snaps[str(small)][name]["peak_rss_mib"]
            after = snaps[str(large)][name]["peak_rss_mib"]
            label = "identity worker" if name == "worker1" else name
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
        results.add(
            "memory",
            f"broker (Tansu, in memory) RSS @ {large:,}",
            snaps[str(large)]["broker"]["rss_mib"],
            "MiB",
            note="never frees by design; grows with the data",
        )
        self.ctx.results.details["memory"] = details
