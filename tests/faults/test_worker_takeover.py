"""Fault 4: two workers share the raw topic's partitions; one is SIGKILLed mid-stream.

Both workers run in one consumer group (same app id; each its own web port and data dir).
Once both hold raw partitions, 300 articles are published; when the first of them reach the
sinks, the worker holding partition 0 is killed with SIGKILL (no leave-group: the broker notices
only when its session times out, 10 s on Tansu). The survivor must then be assigned every raw
partition, as its own ``/health`` shows, and the sinks must end with exactly one SQLite row and
one JSONL line per article, and the group's committed offsets must reach the end of every input
partition (raw topic and story input).

This test found the defect that ``streams.app.transport._Consumer.perform_seek`` fixes: records
fetched while the survivor's recovery ended were cleared from its queues and, on a partition
the killed worker had never committed (often the story input, so early in the run), never
fetched again. Before the fix, 27 and 3 of 300 articles were lost in 2 of 2 CI runs (and in 1
of 3 runs here), and in each of those 3 runs the survivor's commits on some input partition
stopped for good.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams.subprocesses import free_port
from tests.support.fault_articles import write_articles
from tests.support.fault_harness import (
    WORKER_READY_SECONDS,
    counts,
    kill,
    new_stack,
    settle,
    sink_article_ids,
    trace_articles,
    wait_for_sinks,
    worker_health,
)
from tests.support.processes import Stack, wait_until

pytestmark = pytest.mark.integration

ARTICLES = 300
SEED = 4444
# Session timeout (10 s, streams.kafka.compat.FAUST_SETTINGS) + Tansu's JoinGroup hold (5 s)
# + a rejoin, with room for a loaded CI machine.
TAKEOVER_SECONDS = 60.0


def _raw_partitions(stack: Stack, port: int) -> frozenset[int]:
    assigned = worker_health(port).get("assigned_partitions") or {}
    return frozenset(assigned.get(stack.topic("articles.raw"), []))


def test_the_surviving_worker_takes_every_partition_and_processes_every_article(
    broker: object, tmp_path: Path
) -> None:
    stack = new_stack(broker.bootstrap, tmp_path / "data")  # type: ignore[attr-defined]
    ports = {"worker-a": int(stack.env["NEWSSTREAM_WEB_PORT"]), "worker-b": free_port()}
    expected = set(write_articles(tmp_path / "staging", ARTICLES, seed=SEED).values())
    assert len(expected) == ARTICLES
    all_partitions = frozenset(range(int(stack.env["NEWSSTREAM_PARTITIONS"])))
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    try:
        stack.start("sink-jsonl", "sink", "jsonl")
        stack.start("sink-sqlite", "sink", "sqlite")
        stack.start("worker-a", "worker")
        stack.start(
            "worker-b",
            "worker",
            "--web-port",
            str(ports["worker-b"]),
            "--data-dir",
            str(tmp_path / "data-b"),
        )

        def split() -> dict[str, frozenset[int]]:
            return {name: _raw_partitions(stack, port) for name, port in ports.items()}

        # Both members joined and the partitions are split between them.
        before = wait_until(
            split,
            lambda s: all(s.values()) and s["worker-a"] | s["worker-b"] == all_partitions,
            WORKER_READY_SECONDS,
            stack,
        )
        timings["both workers assigned"] = time.monotonic() - t0
        stack.cli("watch", str(tmp_path / "staging"), "--once")
        wait_until(lambda: len(set(sink_article_ids(stack)[0])), bool, 60.0, stack)
        victim = "worker-a" if 0 in before["worker-a"] else "worker-b"
        survivor = "worker-b" if victim == "worker-a" else "worker-a"
        in_sink_at_kill = len(set(sink_article_ids(stack)[0]))
        kill(stack.processes.pop(victim))
        killed_at = time.monotonic()
        wait_until(
            lambda: _raw_partitions(stack, ports[survivor]),
            lambda p: p == all_partitions,
            TAKEOVER_SECONDS,
            stack,
        )
        takeover = time.monotonic() - killed_at
        try:
            wait_for_sinks(stack, expected, WORKER_READY_SECONDS)
        except AssertionError as exc:
            # Where the survivor's work waits (raw or story input, per partition) says which
            # stage stalled.
            health = worker_health(ports[survivor])
            missing = expected - set(sink_article_ids(stack)[0])
            trace = trace_articles(broker.bootstrap, stack, missing)  # type: ignore[attr-defined]
            raise AssertionError(f"{exc}\n{survivor} /health: {health}\n{trace}") from None
        timings["all in the sinks after the kill"] = time.monotonic() - killed_at
        # Every input record processed is committed too: a commit stuck behind records the
        # survivor never processed would show here even when the articles reached the sinks
        # another way.
        left = settle(broker.bootstrap, stack)  # type: ignore[attr-defined]
        rows, lines = sink_article_ids(stack)
        enriched = [str(e["article_id"]) for e in stack.events("articles.enriched")]
        deadletters = stack.events("deadletter", idle_seconds=1.0)
        stack.assert_running()
    finally:
        codes = stack.stop_all()
    _, doubled_lines = counts(lines)
    _, redelivered = counts(enriched)
    print(
        f"fault 4: sent {ARTICLES}, partitions before {dict(before)}, killed {victim} with "
        f"{in_sink_at_kill} articles in the SQLite sink, {survivor} held all partitions after "
        f"{takeover:.1f} s; SQLite rows {len(rows)} (distinct {len(set(rows))}), JSONL lines "
        f"{len(lines)} (duplicated {doubled_lines}), enriched events {len(enriched)} "
        f"(re-processed after the kill: {redelivered}), dead letters {len(deadletters)}, "
        f"uncommitted records at the end {left}, exit codes {codes}; "
        f"{', '.join(f'{k} {v:.1f} s' for k, v in timings.items())}"
    )
    assert in_sink_at_kill < ARTICLES  # the kill came while articles were still flowing
    assert takeover < TAKEOVER_SECONDS
    assert set(rows) == expected
    assert len(rows) == ARTICLES
    assert set(lines) == expected
    assert len(lines) == ARTICLES
    assert set(enriched) == expected
    assert deadletters == []
    assert codes[survivor] == 0
