"""Runs the benchmarks: starts every deployment at once, then measures one thing at a time.

Starting (Python imports, Frog and model loading, Tansu's ~5 s group joins) is most of the
wall time of a small run, so every benchmark's processes start together at the beginning;
each waits idle (an empty topic, or a gate) until its benchmark runs, and is stopped when it
is done. The idle processes' CPU use is recorded with every measurement (``details.load``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Protocol

from bench.context import Context, Sizes
from bench.corpus import load_corpus
from bench.procs import loadavg
from bench.report import Results, render_load, render_text
from streams.kafka.tansu import EmbeddedBroker
from tests.support.processes import Processes

BENCHES = ("plumbing", "enrichment", "latency", "scaling", "memory")
QUICK_WORDS = 60


class Bench(Protocol):
    name: str

    def start(self) -> None: ...

    def run(self) -> None: ...

    def stop(self) -> None: ...


def _machine() -> dict[str, object]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": loadavg(),
    }


def run_suite(
    *,
    quick: bool,
    only: tuple[str, ...] = BENCHES,
    corpus_path: Path | None = None,
    profile_dir: Path | None = None,
    workdir: Path | None = None,
    worker_batch_max: int | None = None,
    worker_env: dict[str, str] | None = None,
) -> Results:
    from bench.enrichment import NlpStack
    from bench.memory import Memory
    from bench.plumbing import Plumbing
    from bench.scaling import Scaling

    keep = workdir is not None
    root = workdir or Path(tempfile.mkdtemp(prefix="newsstream-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    sizes = Sizes.quick() if quick else Sizes()
    results = Results()
    corpus = load_corpus(corpus_path)
    if quick:
        # Quick runs check that everything works, not how fast: short texts keep NLP brief.
        corpus = corpus.shortened(QUICK_WORDS)
    results.meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "default",
        "benches": list(only),
        "sizes": dict(vars(sizes)),
        "corpus": corpus.source,
        "corpus_generated": corpus.generated,
        "machine": _machine(),
        "worker_batch_max": worker_batch_max,
        "worker_env": worker_env or {},
    }
    # What-if settings for the NLP workers; also in this process, for the bare pipeline.
    os.environ.update(worker_env or {})
    began = time.monotonic()
    broker = EmbeddedBroker(log_file=root / "logs" / "broker.log")
    with Processes(root / "logs") as procs:
        ctx = Context(root, procs, corpus, sizes, results, profile_dir=profile_dir)
        ctx.say(f"work dir {root}; corpus: {corpus.source}")
        try:
            broker.start()
            benches: list[Bench] = []
            if "plumbing" in only:
                benches.append(Plumbing(ctx, env=worker_env))
            if {"enrichment", "latency"} & set(only):
                benches.append(
                    NlpStack(ctx, only, broker, batch_max=worker_batch_max, env=worker_env)
                )
            if "scaling" in only:
                benches.append(Scaling(ctx, broker, env=worker_env))
            if "memory" in only:
                benches.append(Memory(ctx, broker))
            started: list[Bench] = []
            try:
                for bench in benches:
                    started.append(bench)  # stopped even if its start fails half-way
                    bench.start()
                ctx.say("all processes started")
                for bench in benches:
                    ctx.say(f"--- {bench.name}")
                    try:
                        bench.run()
                    finally:
                        bench.stop()
                        started.remove(bench)
            finally:
                for bench in started:
                    bench.stop()
        finally:
            procs.close()
            broker.stop()
            results.meta["seconds"] = round(time.monotonic() - began, 1)
            results.details["log"] = ctx.log
    print()
    print(render_text(results.figures))
    print()
    print(render_load(results))
    print(f"\n{results.meta['mode']} run, {results.meta['seconds']} s; corpus: {corpus.source}")
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return results
