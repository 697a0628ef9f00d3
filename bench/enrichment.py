"""Benchmark 2, enrichment: the pipeline called directly vs the whole deployment.

Bare: ``streams.cli.runtime.build_pipeline(Settings())`` (the real default enrichers: syntok,
fastText, the ``ner_backend`` NER (e5 by default, or Frog), e5 sentiment) in this process,
``enrich_batch`` over the articles in batches of 32 (the worker's ``take_events`` maximum).

Full: the same articles dropped at once as ``.json`` files into the inbox of a deployment of
real ``newsstream`` processes (worker, watcher, SQLite and JSONL sinks; production defaults)
on an embedded broker; the rate is articles / (last SQLite row - first drop).

Both are warmed up with one article first. The same deployment then runs the latency
benchmark (``bench.latency``), and its worker's memory is reported.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench import latency
from bench.context import Context
from bench.corpus import Article
from bench.procs import pss_kib, status_kib, tree_cpu_seconds
from bench.profile import Profile, summarize
from bench.stacks import START_TIMEOUT, RowWatcher, Stack, drop
from streams.enrich.pipeline import Pipeline
from streams.kafka.tansu import EmbeddedBroker

BATCH = 32


def worker_memory(stack: Stack) -> dict[str, float]:
    """Peak and current RSS of the worker process, and the PSS of its child processes (Frog
    servers when ``ner_backend`` is frog; none with e5), in MiB."""
    from streams.subprocesses import descendants

    worker = stack.workers[0]
    frogs = descendants(worker.pid)
    return {
        "worker_peak_rss_mib": status_kib(worker.pid, "VmHWM") / 1024,
        "worker_rss_mib": status_kib(worker.pid, "VmRSS") / 1024,
        "frog_pss_mib": sum(pss_kib(pid) for pid in frogs) / 1024,
    }


def _time_stages(pipeline: Pipeline) -> dict[str, float]:
    """Wrap each enricher's ``enrich_batch`` (on the instance) to add up its seconds."""
    totals: dict[str, float] = {}
    for enricher in pipeline.enrichers:
        original = enricher.enrich_batch
        totals[enricher.name] = 0.0

        def timed(docs: Any, original: Any = original, name: str = enricher.name) -> Any:
            began = time.perf_counter()
            try:
                return original(docs)
            finally:
                totals[name] += time.perf_counter() - began

        enricher.enrich_batch = timed  # type: ignore[method-assign]
    return totals


class NlpStack:
    name = "enrichment"

    def __init__(
        self,
        ctx: Context,
        only: tuple[str, ...],
        broker: EmbeddedBroker,
        batch_max: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.ctx = ctx
        self.only = only
        self.broker = broker
        extra = dict(env or {})
        if batch_max:
            extra["BENCH_BATCH_MAX"] = str(batch_max)
        self.stack = Stack("n", broker.bootstrap, ctx.workdir / "n", extra_env=extra)
        self._pipeline: Pipeline | None = None
        self._pipeline_error: BaseException | None = None
        self._loader = threading.Thread(target=self._load_pipeline, name="bare-pipeline")

    def _load_pipeline(self) -> None:
        try:
            from streams.cli.runtime import build_pipeline
            from streams.config import Settings

            # The same settings as the deployment's worker (NEWSSTREAM_* of this process);
            # only the data dir (where the e5 weights are cached) is the run's own.
            self._pipeline = build_pipeline(Settings(data_dir=self.ctx.workdir / "bare"))
        except BaseException as exc:
            self._pipeline_error = exc

    def start(self) -> None:
        procs = self.ctx.procs
        self.stack.start_worker(procs, "nlp")
        self.stack.start_watcher(procs)
        self.stack.start_sinks(procs)
        self._loader.start()

    def stop(self) -> None:
        if self._loader.ident is not None:
            self._loader.join()
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None
        self.ctx.procs.stop(self.stack.procs)

    # --- run -------------------------------------------------------------------------------

    def run(self) -> None:
        ctx, sizes, corpus = self.ctx, self.ctx.sizes, self.ctx.corpus
        stack = self.stack
        n = sizes.enrich_articles
        articles = corpus.take(n, "e", start=0)
        lat_base = corpus.take(max(sizes.latency_counts), "b", start=n)
        with RowWatcher(stack.sqlite_path) as rows:
            # Warm-up of the deployment: proves worker, watcher and sink are up.
            warm = corpus.take(1, "warm", start=n + len(lat_base))[0]
            stack.wait_ready(START_TIMEOUT)
            drop(stack.inbox, warm)
            rows.wait_for([warm.article_id], START_TIMEOUT, check=stack.check)
            memory_before = worker_memory(stack)
            ctx.say("enrichment: bare pipeline")
            bare_rate, bare_words, singles = self._bare(articles, lat_base)
            ctx.say(f"enrichment: bare {bare_rate:.2f} articles/s; full pipeline")
            full_rate = self._full(articles, rows)
            memory_full = worker_memory(stack)
            self._figures(articles, bare_rate, bare_words, full_rate)
            if "latency" in self.only:
                self._latency(rows, lat_base, singles, full_rate)
            memory_after = worker_memory(stack)
            processed = 1 + n + (sum(sizes.latency_counts) if "latency" in self.only else 0)
            self._memory(memory_before, memory_full, memory_after, 1 + n, processed)

    def _bare(
        self, articles: list[Article], lat_base: list[Article]
    ) -> tuple[float, float, dict[str, float]]:
        self._loader.join()
        if self._pipeline_error is not None:
            raise RuntimeError("the bare pipeline did not load") from self._pipeline_error
        pipeline = self._pipeline
        assert pipeline is not None
        pipeline.enrich_batch([self.ctx.corpus.take(1, "warm-bare", start=1)[0].event()])
        stages = _time_stages(pipeline)
        events = [a.event() for a in articles]
        with self.ctx.cpu("enrichment: bare"):
            began = time.perf_counter()
            for i in range(0, len(events), BATCH):
                results = pipeline.enrich_batch(events[i : i + BATCH])
                assert all(not hasattr(r, "reason") for r in results), results
            seconds = time.perf_counter() - began
        stage_seconds = dict(stages)
        words = sum(a.words for a in articles)
        singles: dict[str, float] = {}
        if "latency" in self.only:
            for article in lat_base:
                event = article.event()
                began = time.perf_counter()
                pipeline.enrich_batch([event])
                singles[article.name] = time.perf_counter() - began
        # Free the models (and Frog servers) before the deployment is measured.
        pipeline.close()
        self._pipeline = None
        self.ctx.results.details["enrichment_bare"] = {
            "articles": len(articles),
            "words": words,
            "seconds": round(seconds, 2),
            "stage_seconds": {k: round(v, 2) for k, v in stage_seconds.items()},
            "single_article_seconds": {k: round(v, 3) for k, v in singles.items()},
        }
        return len(articles) / seconds, words / seconds, singles

    def _full(self, articles: list[Article], rows: RowWatcher) -> float:
        ctx, stack = self.ctx, self.stack
        worker = stack.workers[0]
        cpu_before = tree_cpu_seconds([worker.pid])
        with ctx.cpu("enrichment: full"):
            profile: Any = (
                Profile(worker.pid, ctx.profile_dir / "enrichment-worker.txt")
                if ctx.profile_dir is not None
                else None
            )
            if profile is not None:
                profile.__enter__()
            try:
                first = time.time()
                for article in articles:
                    drop(stack.inbox, article)
                seen = rows.wait_for([a.article_id for a in articles], 1800, check=stack.check)
            finally:
                if profile is not None:
                    profile.__exit__(None, None, None)
        seconds = max(seen.values()) - first
        if profile is not None:
            ctx.results.details.setdefault("profiles", {})["enrichment-worker"] = summarize(
                profile.out
            )
        ctx.results.details["enrichment_full"] = {
            "articles": len(articles),
            "seconds": round(seconds, 2),
            "worker_cores": round((tree_cpu_seconds([worker.pid]) - cpu_before) / seconds, 2),
        }
        return len(articles) / seconds

    def _figures(
        self, articles: list[Article], bare_rate: float, bare_words: float, full_rate: float
    ) -> None:
        results = self.ctx.results
        bare = results.add(
            "enrichment",
            "bare Pipeline.enrich_batch",
            bare_rate,
            "articles/s",
            note=f"{bare_words:,.0f} words/s; {len(articles)} articles",
        )
        results.add(
            "enrichment",
            "full: file drop -> SQLite row",
            full_rate,
            "articles/s",
            baseline=bare,
            target_ratio=0.9,
        )

    def _latency(
        self,
        rows: RowWatcher,
        base: list[Article],
        singles: dict[str, float],
        capacity: float,
    ) -> None:
        ctx = self.ctx
        details: dict[str, Any] = {}
        for index, (label, rate, count) in enumerate(
            latency.rates(capacity, ctx.sizes.latency_counts)
        ):
            chosen = [a.tagged(f"r{index}") for a in base[:count]]
            seconds = [singles[a.name] for a in base[:count]]
            ctx.say(f"latency: {count} articles at {label}")
            with ctx.cpu(f"latency: {label}"):
                samples = latency.paced_run(
                    ctx, self.stack, rows, chosen, seconds, rate, timeout=1800
                )
            details[label] = latency.report(ctx, label, rate, samples)
        ctx.results.details["latency"] = details

    def _memory(
        self,
        before: dict[str, float],
        full: dict[str, float],
        after: dict[str, float],
        full_count: int,
        processed: int,
    ) -> None:
        """Peak RSS after the warm-up (one short batch), after the full run (batches of up to
        32 long articles: the working set of a full batch) and at the end."""
        results = self.ctx.results
        results.add(
            "memory",
            "NLP worker peak RSS after 1 article",
            before["worker_peak_rss_mib"],
            "MiB",
            note=f"+ child processes (Frog) PSS {before['frog_pss_mib']:.0f} MiB",
        )
        first = results.add(
            "memory",
            f"NLP worker peak RSS after {full_count} articles",
            full["worker_peak_rss_mib"],
            "MiB",
            note=f"+ child processes (Frog) PSS {full['frog_pss_mib']:.0f} MiB",
        )
        results.add(
            "memory",
            f"NLP worker peak RSS after {processed} articles",
            after["worker_peak_rss_mib"],
            "MiB",
            baseline=first,
            target="<= 1.1x",
            met=after["worker_peak_rss_mib"] <= 1.1 * full["worker_peak_rss_mib"],
            note=f"+ child processes (Frog) PSS {after['frog_pss_mib']:.0f} MiB",
        )
        results.details["memory_nlp_worker"] = {"warm": before, "full": full, "end": after}
