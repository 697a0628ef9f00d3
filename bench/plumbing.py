"""Benchmark 1, plumbing: how fast events move topic -> topic with the NLP taken out.

Three consumers of the same ~2 KB ``ArticleIngested`` payloads on one 6-partition topic:

* raw aiokafka (``bench.kafka.raw_copy``): getmany, one producer batch per partition,
  10 ms linger, acks=all + idempotence, commit after the acknowledgements;
* newsstream's Faust path: ``python -m bench.worker identity``, the real ``create_app``
  (``take_events`` batching, ``BatchProcessor``: decode, pipeline, encode, send, wait for
  acknowledgements) with an identity enricher, as a separate process like the CLI's worker;
* the naive Faust agent (``python -m bench.worker naive``): one awaited send per message.

Each rate runs from the first output (its CreateTime; for raw aiokafka, the first fetch) to
the moment the last output is acknowledged (polled every 0.1 s; for raw aiokafka, the last
commit), so the workers' start and group join are excluded. The input topics are filled before the
workers are let through their gates, so every path reads a full topic, as after an outage.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from bench.context import Context
from bench.corpus import plumbing_payloads
from bench.kafka import EndOffsets, batch_process, create_topics, fill, raw_copy, read_all
from bench.procs import tree_cpu_seconds
from bench.profile import Profile, summarize
from bench.stacks import READY, START_TIMEOUT, Stack
from streams.config import Topics
from streams.kafka.tansu import EmbeddedBroker
from tests.support.processes import Proc

NAIVE_IN = "naive.in"
NAIVE_OUT = "naive.out"
RAW_OUT = "rawcopy.out"
PROPOSED = Topics("q.")


class Plumbing:
    name = "plumbing"

    def __init__(self, ctx: Context, env: dict[str, str] | None = None) -> None:
        self.ctx = ctx
        self.env = dict(env or {})
        self.broker = EmbeddedBroker(log_file=ctx.workdir / "logs" / "broker-plumbing.log")
        self.stack: Stack | None = None
        self.naive: Proc | None = None
        gates = ctx.workdir / "gates"
        gates.mkdir(parents=True, exist_ok=True)
        self.identity_gate = gates / "identity"
        self.naive_gate = gates / "naive"

    def start(self) -> None:
        """Start the broker and both Faust workers (they wait at their gates)."""
        self.broker.start()
        stack = self.stack = Stack(
            "p", self.broker.bootstrap, self.ctx.workdir / "p", extra_env=self.env
        )
        names = [*stack.topics.all(), *PROPOSED.all(), NAIVE_IN, NAIVE_OUT, RAW_OUT]
        asyncio.run(create_topics(stack.conn, names, 6))
        stack.start_worker(self.ctx.procs, "identity", gate=self.identity_gate)
        naive_stack = Stack("naive", self.broker.bootstrap, self.ctx.workdir / "naive")
        self.naive = self.ctx.procs.start(
            "naive-worker",
            [
                sys.executable,
                "-m",
                "bench.worker",
                "naive",
                "--source",
                NAIVE_IN,
                "--sink",
                NAIVE_OUT,
                "--gate",
                str(self.naive_gate),
            ],
            naive_stack.env(),
        )

    def stop(self) -> None:
        procs = [*(self.stack.workers if self.stack else []), *([self.naive] if self.naive else [])]
        self.ctx.procs.stop(procs)
        self.broker.stop()

    def run(self) -> None:
        ctx, sizes, results = self.ctx, self.ctx.sizes, self.ctx.results
        assert self.stack is not None
        assert self.naive is not None
        stack, naive = self.stack, self.naive
        conn = stack.conn
        topics = stack.topics
        worker = stack.workers[0]
        worker.wait_for_log(READY, START_TIMEOUT)
        naive.wait_for_log(READY, START_TIMEOUT)

        n, k = sizes.plumbing_messages, sizes.naive_messages
        payloads = plumbing_payloads(ctx.corpus, n)
        sizes_b = [len(v) for _, v in payloads]
        ctx.say(f"plumbing: filling {n:,} messages of ~{sum(sizes_b) // n:,} bytes")
        partitions = [i % 6 for i in range(n)]
        with ctx.cpu("plumbing: raw produce"):
            produce_seconds = asyncio.run(fill(conn, topics.raw, payloads, partitions))
        asyncio.run(fill(conn, NAIVE_IN, payloads[:k], partitions[:k]))

        # Raw consume only, for reference (no group, no commits).
        began = time.perf_counter()
        consumed = asyncio.run(read_all(conn, topics.raw))
        consume_seconds = time.perf_counter() - began
        assert len(consumed) == n, f"read {len(consumed)} of {n}"

        ctx.say("plumbing: raw aiokafka copy")
        with ctx.cpu("plumbing: raw copy"):
            began = time.perf_counter()
            copy_seconds = asyncio.run(
                raw_copy(conn, topics.raw, RAW_OUT, n, "bench-rawcopy", timeout=600)
            )
            raw_wall = time.perf_counter() - began
        copied = asyncio.run(read_all(conn, RAW_OUT))
        assert len(copied) == n, f"raw copy wrote {len(copied)} of {n}"
        raw_rate = n / copy_seconds

        ctx.say("plumbing: proposed agent loop (getmany -> BatchProcessor)")
        with ctx.cpu("plumbing: proposed batch loop"):
            proposed_seconds = asyncio.run(
                batch_process(conn, topics.raw, PROPOSED, n, "bench-proposed", timeout=600)
            )
        proposed_rate = n / proposed_seconds

        ctx.say("plumbing: newsstream Faust path (identity enricher)")
        f = min(n, sizes.faust_messages)
        faust_rate, faust_cpu = self._through_gate(
            worker, self.identity_gate, topics.enriched, f, "plumbing-identity"
        )
        # It would go on through the rest of the topic: stopped, so the naive agent is
        # measured alone.
        ctx.procs.stop([worker])
        ctx.say("plumbing: naive Faust agent")
        naive_rate, naive_cpu = self._through_gate(
            naive, self.naive_gate, NAIVE_OUT, k, "plumbing-naive"
        )

        bench = self.name
        raw = results.add(bench, "raw aiokafka copy A->B", raw_rate, "msg/s")
        results.add(
            bench,
            "newsstream Faust path (identity)",
            faust_rate,
            "msg/s",
            baseline=raw,
            target_ratio=0.5,
        )
        naive_figure = results.add(
            bench, "naive Faust agent", naive_rate, "msg/s", baseline=raw, note="reference"
        )
        results.add(
            bench,
            "newsstream Faust path vs naive",
            faust_rate,
            "msg/s",
            baseline=naive_figure,
            target_ratio=10.0,
        )
        results.add(
            bench,
            "proposed: getmany -> BatchProcessor",
            proposed_rate,
            "msg/s",
            baseline=raw,
            note="what-if for the agent (bench.kafka.batch_process), not the app",
        )
        results.add(bench, "raw aiokafka produce (fill A)", n / produce_seconds, "msg/s")
        results.add(bench, "raw aiokafka consume only", n / consume_seconds, "msg/s")
        results.details[bench] = {
            "messages": n,
            "faust_messages_timed": f,
            "naive_messages": k,
            "payload_bytes_mean": sum(sizes_b) / n,
            "partitions": 6,
            "raw_copy_wall_rate_with_group_join": n / raw_wall,
            "faust_worker_cores": faust_cpu,
            "naive_worker_cores": naive_cpu,
        }

    def _through_gate(
        self, proc: Proc, gate: Path, topic: str, expected: int, label: str
    ) -> tuple[float, float]:
        """Open ``gate``, wait for ``expected`` outputs on ``topic``; (rate, worker cores)."""
        ctx = self.ctx
        assert self.stack is not None
        conn = self.stack.conn

        async def wait() -> tuple[int, float]:
            async with EndOffsets(conn, topic) as ends:
                count = await ends.wait_for(expected, timeout=900, check=proc.check, interval=0.1)
            return count, time.time()

        cpu_before = tree_cpu_seconds([proc.pid])
        began = time.monotonic()
        with ctx.cpu(f"plumbing: {label}"):
            if ctx.profile_dir is not None:
                out = ctx.profile_dir / f"{label}.txt"
                with Profile(proc.pid, out):
                    gate.touch()
                    count, done = asyncio.run(wait())
                ctx.results.details.setdefault("profiles", {})[label] = summarize(out)
            else:
                gate.touch()
                count, done = asyncio.run(wait())
        cores = (tree_cpu_seconds([proc.pid]) - cpu_before) / max(0.001, time.monotonic() - began)
        records = asyncio.run(read_all(conn, topic))
        first = min(r.timestamp_ms for r in records) / 1000
        # ``count`` outputs were acknowledged at ``done`` (the worker may have gone on since).
        return (count - 1) / max(0.001, done - first), round(cores, 2)
