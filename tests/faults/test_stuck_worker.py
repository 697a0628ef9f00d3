"""The stuck-consumer watchdog in a real worker: lag, no finished batch, exit 75.

A worker with ``--stuck-seconds 4`` gets 120 articles (several seconds of work). While its
partitions have lag, the broker process is frozen with SIGSTOP: the batch in progress waits for
acknowledgements that never come, so no batch finishes while records wait. The watchdog must log
the CRITICAL line and end the worker with status 75 (for the supervisor to restart it: restarts
resuming from the committed offsets are what ``test_worker_kills.py`` proves) within the limit
plus a few seconds of checking; the worker was healthy and making progress before.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from streams.app.watchdog import EXIT_STUCK
from tests.support.fault_articles import write_articles
from tests.support.fault_harness import WORKER_READY_SECONDS, new_stack, worker_health
from tests.support.processes import wait_until

pytestmark = [pytest.mark.integration]

ARTICLES = 120
SEED = 7575
STUCK_SECONDS = 4.0
# Checks once a second, 1 s grace for health probes, the lag timer's 2 s period, slack.
EXIT_WITHIN = STUCK_SECONDS + 11.0


def test_a_worker_with_lag_and_no_progress_is_ended_by_the_watchdog(
    broker: Any, tmp_path: Path
) -> None:
    stack = new_stack(broker.bootstrap, tmp_path / "data")
    port = int(stack.env["NEWSSTREAM_WEB_PORT"])
    write_articles(tmp_path / "inbox", ARTICLES, seed=SEED)
    frozen = False
    statuses: list[str] = []
    try:
        worker = stack.start("worker", "worker", "--stuck-seconds", str(STUCK_SECONDS))
        raw = stack.topic("articles.raw")
        wait_until(
            lambda: (worker_health(port, timeout=2.0).get("assigned_partitions") or {}).get(raw),
            bool,
            WORKER_READY_SECONDS,
            stack,
        )
        stack.cli("watch", str(tmp_path / "inbox"), "--once")
        before = wait_until(
            lambda: worker_health(port, timeout=2.0),
            # The watchdog's own view: records after the last one the agent finished.
            lambda h: (
                (h.get("watchdog") or {}).get("lag", 0) > 0
                and (h.get("watchdog") or {}).get("batches", 0) > 0
            ),
            60.0,
            stack,
        )
        os.kill(broker.pid, signal.SIGSTOP)
        frozen = True
        frozen_at = time.monotonic()
        while worker.poll() is None and time.monotonic() - frozen_at < EXIT_WITHIN:
            # /health asks the (frozen) broker for the lag and gives up after 5 s: wait longer.
            status = worker_health(port, timeout=8.0).get("status")
            if status and (not statuses or statuses[-1] != status):
                statuses.append(status)
            time.sleep(0.2)
        took = time.monotonic() - frozen_at
        code = worker.poll()
    finally:
        if frozen:
            os.kill(broker.pid, signal.SIGCONT)
        stack.stop_all()
    log = stack.log("worker")
    print(
        f"watchdog: {ARTICLES} articles, lag {before['watchdog']['lag']} after "
        f"{before['watchdog']['batches']} batches when the broker froze; worker ended with "
        f"{code} after {took:.1f} s (limit {STUCK_SECONDS:g} s); health statuses seen {statuses}"
    )
    assert before["status"] == "ok"
    assert code == EXIT_STUCK, log[-3000:]
    # The wait counts from the last finished batch, which may be just before the freeze.
    assert took < EXIT_WITHIN
    assert re.search(r"CRITICAL\] STUCK CONSUMER: \d+ records wait", log), log[-3000:]
