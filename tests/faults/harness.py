"""Shared pieces of the fault tests: isolated deployments, process control, counting."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson

from tests.integration.processes import Stack, free_port, wait_until

# Seconds a killed-and-restarted worker may need on Tansu: the dead member's session timeout
# (10 s), the join (~5 s), the models' load.
WORKER_READY_SECONDS = 120.0


def new_stack(bootstrap: str, data_dir: Path, **extra_env: str) -> Stack:
    """An isolated deployment on ``bootstrap`` (own topics, groups, data dir); nothing started."""
    run_id = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSTREAM_")}
    env.update(
        {
            "NEWSSTREAM_BROKER": bootstrap,
            "NEWSSTREAM_TANSU": "true",
            "NEWSSTREAM_TOPIC_PREFIX": f"f{run_id}.",
            "NEWSSTREAM_APP_ID": f"newsstream-faults-{run_id}",
            "NEWSSTREAM_DATA_DIR": str(data_dir),
            "NEWSSTREAM_WEB_PORT": str(free_port()),
            "NEWSSTREAM_PARTITIONS": "3",
            "NEWSSTREAM_STABLE_SECONDS": "0.2",
            "NEWSSTREAM_SINK_BATCH_SECONDS": "0.2",
            "NEWSSTREAM_MODEL_THREADS": "1",
            "PYTHONUNBUFFERED": "1",
            **extra_env,
        }
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    return Stack(env=env, data_dir=data_dir, prefix=f"f{run_id}.")


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL, the fault no code can react to, and reap it."""
    process.send_signal(signal.SIGKILL)
    process.wait(30)


def counts(ids: list[str]) -> tuple[int, int]:
    """(distinct ids, ids seen more than once)."""
    seen = collections.Counter(ids)
    return len(seen), sum(1 for n in seen.values() if n > 1)


def sink_article_ids(stack: Stack) -> tuple[list[str], list[str]]:
    """Article ids as stored: SQLite rows, and JSONL lines (every line, no dedup on read)."""
    rows = [str(r[0]) for r in stack.sqlite_rows()]
    lines = [str(line["article_id"]) for line in stack.jsonl_lines()]
    return rows, lines


def wait_for_sinks(stack: Stack, expected: set[str], timeout: float) -> None:
    """Wait until both sinks hold every expected article."""

    def probe() -> tuple[int, int]:
        rows, lines = sink_article_ids(stack)
        return len(expected & set(rows)), len(expected & set(lines))

    wait_until(probe, lambda v: v == (len(expected), len(expected)), timeout, stack)


def started_at() -> float:
    return time.monotonic()


def worker_health(port: int, timeout: float = 5.0) -> dict[str, Any]:
    """The worker's ``/health`` body (also on 503: starting, stuck, ...), or {} if no answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=timeout) as answer:
            body: dict[str, Any] = orjson.loads(answer.read())
    except urllib.error.HTTPError as exc:
        body = orjson.loads(exc.read())
    except (OSError, ValueError):
        return {}
    return body
