"""What every benchmark shares: sizes, the work directory, processes, corpus and results."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.corpus import Corpus
from bench.procs import CpuWindow
from bench.report import Results
from tests.support.processes import Processes


@dataclass(frozen=True)
class Sizes:
    """How much each benchmark does; ``quick`` is the CI smoke run (figures not meaningful)."""

    plumbing_messages: int = 50_000
    faust_messages: int = 20_000
    """Outputs the Faust path (identity) is timed over, of the ``plumbing_messages`` it reads.
    All 50,000 took 4.8 minutes on a slow 2-core machine, half the suite's time. Over the
    first 20,000 the worker's enrich agent is still reading the topic, sharing the CPU with the
    stories agent as it does on a live stream; after that the stories agent catches up alone,
    faster (one run: 208 msg/s over the first 20,000, 240 over all 50,000)."""
    naive_messages: int = 10_000
    enrich_articles: int = 96
    """Three full batches: the pipeline's fill and drain (one article's latency) stay a few
    per cent of the full run's time, and the ratio is not one batch's luck."""
    latency_counts: tuple[int, int, int] = (30, 30, 30)
    """Articles at 10/s, at the measured maximum and at half of it (p95/p99 of 30 samples are
    the 2nd slowest and the slowest)."""
    scaling_articles: int = 64
    memory_counts: tuple[int, int] = (2_000, 10_000)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            plumbing_messages=3_000,
            faust_messages=3_000,
            naive_messages=600,
            enrich_articles=4,
            latency_counts=(3, 2, 2),
            scaling_articles=6,
            memory_counts=(60, 240),
        )


@dataclass
class Context:
    workdir: Path
    procs: Processes
    corpus: Corpus
    sizes: Sizes
    results: Results
    profile_dir: Path | None = None
    log: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def say(self, message: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f}s] {message}"
        self.log.append(line)
        print(line, flush=True)
        with (self.workdir / "bench.log").open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    @contextlib.contextmanager
    def cpu(self, what: str) -> Iterator[CpuWindow]:
        """Record machine load during a measurement (ours vs other people's) in the details."""
        window = CpuWindow([]).start()
        try:
            yield window
        finally:
            window.stop()
            self.say(
                f"  {what}: {window.wall:.1f} s; machine {window.machine_cores:.2f} cores busy, "
                f"ours {window.ours_cores:.2f}, others {window.others_cores:.2f}"
            )
            self.results.details.setdefault("load", {})[what] = {
                "seconds": round(window.wall, 2),
                "machine_cores_busy": round(window.machine_cores, 2),
                "benchmark_cores": round(window.ours_cores, 2),
                "other_cores": round(window.others_cores, 2),
            }
