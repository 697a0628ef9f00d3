"""Fault 3: the broker is absent at start, then frozen longer than the session timeout.

The embedded broker keeps its log in memory, so it cannot be restarted with its data; the two
outages it can give for real are tested in one run on a port picked first:

1. absent: both sinks, the worker and the watcher (following an inbox that already holds the
   first wave) start while nothing listens on the port. They wait with capped backoff (up to
   60 s, ``prepare_broker``); the broker comes up fresh on that port after a few seconds.
2. frozen: while the second wave flows, the broker process gets SIGSTOP for 15 s, longer than
   the consumer session timeout (10 s on Tansu); a third wave lands in the inbox meanwhile.
   After SIGCONT the pipeline resumes by itself: no process is restarted by the test.

Every article must then be exactly once on the raw topic, in the SQLite sink and in the JSONL
sink, with no dead letters. Last, the broker is stopped for good and every process gets SIGTERM:
each must end cleanly (status 0) within seconds, although no broker answers (before the fix in
``streams.kafka.client.stopped_despite_fetcher`` the worker needed 60 s and the sinks exited 1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from streams.kafka.tansu import EmbeddedBroker
from streams.subprocesses import free_port
from tests.support.fault_articles import write_articles
from tests.support.fault_harness import WORKER_READY_SECONDS, counts, new_stack, sink_article_ids
from tests.support.processes import Stack, wait_until

pytestmark = [pytest.mark.integration]

WAVE = 50
SEED = 3131
ABSENT_SECONDS = 5.0
FROZEN_SECONDS = 15.0  # over the 10 s session timeout (streams.kafka.compat.FAUST_SETTINGS)
STOP_SECONDS = 20.0  # SIGTERM with no broker: how long each process may take to end


def _in_sqlite(stack: Stack) -> set[str]:
    return set(sink_article_ids(stack)[0])


def _stop_all_within(stack: Stack, seconds: float) -> dict[str, tuple[int | None, float]]:
    """SIGTERM every process at once; (exit status or None if still running, seconds taken)."""
    started = time.monotonic()
    for process in stack.processes.values():
        process.send_signal(signal.SIGTERM)
    ended: dict[str, tuple[int | None, float]] = {}
    for name, process in stack.processes.items():
        try:
            code: int | None = process.wait(max(0.1, started + seconds - time.monotonic()))
        except subprocess.TimeoutExpired:
            code = None
        ended[name] = (code, round(time.monotonic() - started, 1))
    return ended


def test_the_pipeline_survives_a_late_and_a_frozen_broker(tmp_path: Path) -> None:
    port = free_port()
    stack = new_stack(f"127.0.0.1:{port}", tmp_path / "data")
    inbox = tmp_path / "inbox"
    waves = [
        write_articles(tmp_path / f"wave{w}", WAVE, seed=SEED + w, start=w * WAVE) for w in range(3)
    ]
    expected = {aid for wave in waves for aid in wave.values()}
    assert len(expected) == 3 * WAVE

    def land(w: int) -> None:
        inbox.mkdir(exist_ok=True)
        for name in waves[w]:
            (tmp_path / f"wave{w}" / name).rename(inbox / name)

    land(0)
    broker = EmbeddedBroker(port=port)
    timings: dict[str, float] = {}
    ended: dict[str, tuple[int | None, float]] = {}
    try:
        stack.start("sink-jsonl", "sink", "jsonl")
        stack.start("sink-sqlite", "sink", "sqlite")
        stack.start("worker", "worker")
        stack.start("watcher", "watch", str(inbox))
        time.sleep(ABSENT_SECONDS)
        stack.assert_running()  # all waiting for the broker, none gave up
        assert _in_sqlite(stack) == set()
        t0 = time.monotonic()
        broker.start()
        wait_until(
            lambda: len(_in_sqlite(stack) & set(waves[0].values())),
            lambda n: n == WAVE,
            WORKER_READY_SECONDS,
            stack,
        )
        timings["first wave after the broker came"] = time.monotonic() - t0

        land(1)
        wait_until(lambda: _in_sqlite(stack) & set(waves[1].values()), bool, 60.0, stack)
        in_sink_at_freeze = len(_in_sqlite(stack))
        os.kill(broker.pid, signal.SIGSTOP)
        try:
            land(2)
            time.sleep(FROZEN_SECONDS)
            stack.assert_running()
        finally:
            os.kill(broker.pid, signal.SIGCONT)
        t1 = time.monotonic()
        wait_until(
            lambda: len(_in_sqlite(stack) & expected),
            lambda n: n == len(expected),
            WORKER_READY_SECONDS,
            stack,
        )
        timings["all articles after SIGCONT"] = time.monotonic() - t1
        time.sleep(2.0)  # a redelivery still in flight would show up now
        rows, lines = sink_article_ids(stack)
        raw = [str(e["article_id"]) for e in stack.events("articles.raw")]
        deadletters = stack.events("deadletter", idle_seconds=1.0)
        stack.assert_running()

        broker.stop()
        ended = _stop_all_within(stack, STOP_SECONDS)
    finally:
        if broker.running:
            os.kill(broker.pid, signal.SIGCONT)
        stack.stop_all()
        broker.stop()
    _, raw_twice = counts(raw)
    _, doubled_lines = counts(lines)
    print(
        f"fault 3: sent {len(expected)} (wave 1 before the broker existed, wave 3 while it was "
        f"frozen {FROZEN_SECONDS:g} s with {in_sink_at_freeze} in the sink), raw events "
        f"{len(raw)} (published twice {raw_twice}), SQLite rows {len(rows)} (distinct "
        f"{len(set(rows))}), JSONL lines {len(lines)} (duplicated {doubled_lines}), dead letters "
        f"{len(deadletters)}; {', '.join(f'{k} {v:.1f} s' for k, v in timings.items())}; "
        f"SIGTERM without a broker: {ended}"
    )
    assert set(raw) == expected
    assert len(raw) == len(expected)
    assert set(rows) == expected
    assert len(rows) == len(expected)
    assert set(lines) == expected
    assert len(lines) == len(expected)
    assert deadletters == []
    assert all(code == 0 for code, _ in ended.values()), ended
