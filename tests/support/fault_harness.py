"""Shared pieces of the fault tests: isolated deployments, process control, counting."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka import compat
from streams.processing.story_input import story_input_topic
from tests.support import processes
from tests.support.processes import Stack, wait_until

# Seconds a killed-and-restarted worker may need on Tansu: the dead member's session timeout
# (10 s), the join (~5 s), the models' load.
WORKER_READY_SECONDS = 120.0


def new_stack(bootstrap: str, data_dir: Path, **extra_env: str) -> Stack:
    """An isolated deployment on ``bootstrap`` (own topics, groups, data dir, one model thread
    per worker); nothing started."""
    data_dir.mkdir(parents=True, exist_ok=True)
    extra = {"NEWSSTREAM_MODEL_THREADS": "1"} | extra_env
    return processes.new_stack(bootstrap, data_dir, kind="faults", **extra)


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


def worker_health(port: int, timeout: float = 5.0) -> dict[str, Any]:
    """The worker's ``/health`` body (also on 503: starting, stuck, ...), or {} if no answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=timeout) as answer:
            body: dict[str, Any] = orjson.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            # A worker must answer every probe with its JSON status; anything else is a defect.
            raise AssertionError(f"/health answered {exc.code} without a status: {raw!r}") from exc
    except (OSError, ValueError):
        return {}
    return body


def stage_topics(stack: Stack) -> dict[str, str]:
    """The topics a worker consumes, by stage: raw articles, then its story input."""
    return {
        "raw": stack.topic("articles.raw"),
        "story-input": story_input_topic(stack.env["NEWSSTREAM_APP_ID"]),
    }


def uncommitted(bootstrap: str, stack: Stack) -> dict[str, int]:
    """Per worker input partition (``topic[partition]``): log end minus the group's committed
    offset (no commit counts from 0). Once the workers are done, every figure must be 0: a
    restart then re-processes nothing, and a worker whose commits stopped short shows here."""
    return asyncio.run(_uncommitted(bootstrap, stack))


async def _uncommitted(bootstrap: str, stack: Stack) -> dict[str, int]:
    lag: dict[str, int] = {}
    async with _group_consumer(bootstrap, stack) as consumer:
        for topic in stage_topics(stack).values():
            tps = _partitions(stack, topic)
            ends = await compat.true_end_offsets(consumer, tps)
            for tp in tps:
                lag[f"{topic}[{tp.partition}]"] = ends[tp] - (await consumer.committed(tp) or 0)
    return lag


def settle(bootstrap: str, stack: Stack) -> dict[str, int]:
    """Called once the sinks hold every article: waits 2 s (a redelivery still in flight shows
    up then), then until nothing the workers processed is left uncommitted (at most 30 s; Faust
    commits every 2.8 s). Returns ``uncommitted`` as it was last read: all 0."""
    time.sleep(2.0)
    return wait_until(
        lambda: uncommitted(bootstrap, stack), lambda lag: not any(lag.values()), 30.0, stack
    )


def trace_articles(bootstrap: str, stack: Stack, missing: set[str]) -> str:
    """Where each of ``missing`` is in the worker's path, and the group's committed offsets.

    For each stage topic (raw, story input, enriched) the (partition, offset) of every record
    of a missing article, next to the group's committed offset and the log end of that
    partition: a record below the committed offset that has no record downstream was
    committed without its output; one above it was never consumed again.
    """
    return asyncio.run(_trace(bootstrap, stack, missing))


async def _trace(bootstrap: str, stack: Stack, missing: set[str]) -> str:
    topics = stage_topics(stack) | {"enriched": stack.topic("articles.enriched")}
    lines = [f"trace of {len(missing)} missing articles: {sorted(missing)}"]
    async with _group_consumer(bootstrap, stack) as consumer:
        for stage, topic in topics.items():
            tps = _partitions(stack, topic)
            ends = await compat.true_end_offsets(consumer, tps)
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            found: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
            while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                batches = await consumer.getmany(timeout_ms=1000)
                for tp, records in batches.items():
                    for record in records:
                        article_id = _article_id(stage, record.key, record.value)
                        if article_id in missing:
                            found[article_id].append((tp.partition, record.offset))
            for tp in tps:
                committed = await consumer.committed(tp)
                lines.append(
                    f"{stage} {topic}[{tp.partition}]: committed {committed}, end {ends[tp]}"
                )
            for article_id in sorted(missing):
                lines.append(f"  {stage} {article_id}: {found.get(article_id, [])}")
    return "\n".join(lines)


@contextlib.asynccontextmanager
async def _group_consumer(bootstrap: str, stack: Stack) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer that reads the workers' group's committed offsets without joining it."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=stack.env["NEWSSTREAM_APP_ID"],
        enable_auto_commit=False,
    )
    compat.adapt_consumer(consumer)
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


def _partitions(stack: Stack, topic: str) -> list[TopicPartition]:
    # The story input has one partition (streams.app.agents.stories); the others the deployment's.
    story_input = story_input_topic(stack.env["NEWSSTREAM_APP_ID"])
    count = 1 if topic == story_input else int(stack.env["NEWSSTREAM_PARTITIONS"])
    return [TopicPartition(topic, p) for p in range(count)]


def _article_id(stage: str, key: bytes | None, value: bytes | None) -> str | None:
    if stage == "raw":
        try:
            return str(orjson.loads(value or b"")["article_id"])
        except (ValueError, KeyError, TypeError):
            return None
    return key.decode("utf-8", "replace") if key is not None else None
