"""Fault 1: SIGKILL the worker 5 times while 330 Dutch articles flow; each ends up once.

The articles are published in six waves. After each of the first five, the test waits until
the sinks show the worker is processing that wave, waits a seeded random moment more, kills
the worker with SIGKILL (mid-batch: outputs sent, input not committed) and starts a new one.
The sinks must end with exactly one SQLite row and exactly one JSONL line per article: the
JSONL file is read line by line, with no de-duplication on read.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.support import fault_harness
from tests.support.fault_articles import write_articles
from tests.support.fault_harness import (
    WORKER_READY_SECONDS,
    counts,
    kill,
    new_stack,
    sink_article_ids,
    wait_for_sinks,
)
from tests.support.processes import wait_until

pytestmark = [pytest.mark.integration]

ARTICLES = 330
WAVES = 6
KILLS = 5
SEED = 1905


def test_killing_the_worker_five_times_gives_one_row_and_one_line_per_article(
    broker: object, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    stack = new_stack(broker.bootstrap, tmp_path / "data")  # type: ignore[attr-defined]
    inbox = tmp_path / "inbox"
    per_wave = ARTICLES // WAVES
    waves = [
        write_articles(tmp_path / f"wave{w}", per_wave, seed=SEED + w, start=w * per_wave)
        for w in range(WAVES)
    ]
    expected = {aid for wave in waves for aid in wave.values()}
    assert len(expected) == ARTICLES
    inbox.mkdir()
    kills = 0
    try:
        stack.start("sink-jsonl", "sink", "jsonl")
        stack.start("sink-sqlite", "sink", "sqlite")
        stack.start("worker", "worker")
        done: set[str] = set()
        for w, wave in enumerate(waves):
            for name in wave:
                (tmp_path / f"wave{w}" / name).rename(inbox / name)
            stack.cli("watch", str(inbox), "--once")
            if w >= KILLS:
                break
            # The worker is busy with this wave once its first articles reach the sink.
            new = set(wave.values())
            wait_until(
                lambda new=new: new & set(sink_article_ids(stack)[0]),  # type: ignore[misc]
                bool,
                WORKER_READY_SECONDS,
                stack,
            )
            time.sleep(rng.uniform(0.0, 0.5))
            kill(stack.processes["worker"])
            kills += 1
            stack.start("worker", "worker")
            done |= new
        wait_for_sinks(stack, expected, WORKER_READY_SECONDS * 2)
        # What was processed is committed as well: no restart would re-process it again.
        left = fault_harness.settle(broker.bootstrap, stack)  # type: ignore[attr-defined]
        rows, lines = sink_article_ids(stack)
        enriched = [str(e["article_id"]) for e in stack.events("articles.enriched")]
    finally:
        codes = stack.stop_all()
    distinct_rows, _ = counts(rows)
    distinct_lines, doubled_lines = counts(lines)
    _, redelivered = counts(enriched)
    print(
        f"fault 1: sent {ARTICLES}, kills {kills}, SQLite rows {len(rows)} "
        f"(distinct {distinct_rows}), JSONL lines {len(lines)} (distinct {distinct_lines}, "
        f"duplicated {doubled_lines}), enriched events {len(enriched)} (articles enriched more "
        f"than once by redelivery: {redelivered}), uncommitted records at the end {left}, "
        f"exit codes {codes}"
    )
    assert kills == KILLS
    assert set(rows) == expected
    assert len(rows) == ARTICLES
    assert set(lines) == expected
    assert len(lines) == ARTICLES  # the sink itself never writes a duplicate line
    assert set(enriched) == expected
