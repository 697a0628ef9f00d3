"""Benchmark 4, scaling: one vs two ``newsstream worker`` processes, NLP-bound.

Two deployments with identical settings on a 6-partition raw topic: ``s1`` with one worker,
``s2`` with two in the same group (3 partitions each). Both get the same articles as
``ArticleIngested`` events written straight to the raw topic (no watcher: the worker is
what scales), spread over the partitions so every partition holds about the same number of
words. Rate = articles / (last enriched record - first input sent). The machine's CPU use
during each run is recorded: on 2 cores, a second worker can only help as far as one worker
leaves cores idle.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.context import Context
from bench.corpus import Article, balanced_partitions
from bench.kafka import EndOffsets, fill, read_all
from bench.procs import CpuWindow, tree_cpu_seconds
from bench.stacks import START_TIMEOUT, Stack, wait_group
from streams.kafka.tansu import EmbeddedBroker


class Scaling:
    name = "scaling"

    def __init__(
        self, ctx: Context, broker: EmbeddedBroker, env: dict[str, str] | None = None
    ) -> None:
        self.ctx = ctx
        extra = dict(env or {})
        self.one = Stack("s1", broker.bootstrap, ctx.workdir / "s1", extra_env=extra)
        self.two = Stack("s2", broker.bootstrap, ctx.workdir / "s2", extra_env=extra)

    def start(self) -> None:
        self.one.start_worker(self.ctx.procs)
        self.two.start_worker(self.ctx.procs)
        self.two.start_worker(self.ctx.procs)

    def stop(self) -> None:
        self.ctx.procs.stop([*self.one.procs, *self.two.procs])

    def run(self) -> None:
        ctx = self.ctx
        count = ctx.sizes.scaling_articles
        articles = ctx.corpus.take(count, "s", start=len(ctx.corpus.articles) // 2)
        partitions = balanced_partitions(articles, 6)
        warm = [_short(a) for a in ctx.corpus.take(6, "sw", start=len(ctx.corpus.articles) // 3)]
        self.one.wait_ready(START_TIMEOUT)
        self.two.wait_ready(START_TIMEOUT)
        wait_group(self.two, 2)
        ctx.say(f"scaling: 1 worker, {count} articles")
        rate1, run1 = self._measure(self.one, articles, partitions, warm)
        # The one-worker deployment is done: free its models and CPU before the second run.
        ctx.procs.stop(self.one.procs)
        ctx.say(f"scaling: 2 workers, {count} articles")
        rate2, run2 = self._measure(self.two, articles, partitions, warm)
        results = ctx.results
        one = results.add("scaling", "1 worker (NLP-bound)", rate1, "articles/s")
        results.add(
            "scaling",
            "2 workers, same group",
            rate2,
            "articles/s",
            baseline=one,
            target_ratio=1.7,
            note=f"machine busy {run1['machine_cores_busy']:.2f} -> "
            f"{run2['machine_cores_busy']:.2f} of {run1['cores']} cores",
        )
        cpu1 = sum(run1["worker_cpu_seconds"]) / count
        cpu2 = sum(run2["worker_cpu_seconds"]) / count
        one_cpu = results.add(
            "scaling",
            "1 worker: CPU per article",
            cpu1,
            "CPU-s",
            note="worker + its children (Frog); robust to other people's load",
        )
        results.add(
            "scaling",
            "2 workers: CPU per article",
            cpu2,
            "CPU-s",
            baseline=one_cpu,
            note=f"best possible on {run1['cores']} cores: {run1['cores'] / cpu2:.2f} articles/s",
        )
        results.details["scaling"] = {
            "1 worker": run1,
            "2 workers": run2,
            "articles": count,
            # One worker already keeps this share of the machine busy: the most a second
            # worker can add is what is left.
            "ceiling_ratio": round(run1["cores"] / max(0.01, run1["machine_cores_busy"]), 2),
        }

    def _measure(
        self,
        stack: Stack,
        articles: list[Article],
        partitions: list[int],
        warm: list[Article],
    ) -> tuple[float, dict[str, Any]]:
        conn, topics = stack.conn, stack.topics
        # Warm-up: one short article per partition, so every worker has run its models once.
        warm_pairs = [(a.article_id.encode(), _encode(a)) for a in warm]
        asyncio.run(fill(conn, topics.raw, warm_pairs, list(range(6))))
        asyncio.run(self._wait(stack, len(warm)))
        pairs = [(a.article_id.encode(), _encode(a)) for a in articles]
        pids = [w.pid for w in stack.workers]
        cpu_before = [tree_cpu_seconds([pid]) for pid in pids]
        window = CpuWindow([]).start()
        first = time.time()
        asyncio.run(fill(conn, topics.raw, pairs, partitions))
        asyncio.run(self._wait(stack, len(warm) + len(articles)))
        window.stop()
        self.ctx.results.details.setdefault("load", {})[
            f"scaling: {len(stack.workers)} worker(s)"
        ] = {
            "seconds": round(window.wall, 2),
            "machine_cores_busy": round(window.machine_cores, 2),
            "benchmark_cores": round(window.ours_cores, 2),
            "other_cores": round(window.others_cores, 2),
        }
        wanted = {a.article_id for a in articles}
        records = [
            r
            for r in asyncio.run(read_all(conn, topics.enriched))
            if (r.key or b"").decode() in wanted
        ]
        seconds = max(r.timestamp_ms for r in records) / 1000 - first
        per_worker = [
            round(tree_cpu_seconds([pid]) - before, 1)
            for pid, before in zip(pids, cpu_before, strict=True)
        ]
        run = {
            "seconds": round(seconds, 2),
            "cores": _cores(),
            "machine_cores_busy": round(window.machine_cores, 2),
            "other_cores": round(window.others_cores, 2),
            "worker_cpu_seconds": per_worker,
        }
        return len(articles) / seconds, run

    async def _wait(self, stack: Stack, total: int) -> None:
        async with EndOffsets(stack.conn, stack.topics.enriched) as ends:
            await ends.wait_for(total, timeout=1800, check=stack.check, interval=0.25)


def _short(article: Article) -> Article:
    body = article.body[:400].rsplit(" ", 1)[0]
    return Article(article.name, article.title, body, article.published)


def _encode(article: Article) -> bytes:
    from schemas import encode

    return encode(article.event())


def _cores() -> int:
    import os

    return os.cpu_count() or 1
