"""Reads of a topic without a consumer group: its size, its log up to now, which keys it holds,
its values live.

Every function takes a :class:`KafkaConnection`, starts its own consumer and always stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from aiokafka import (  # type: ignore[import-untyped, unused-ignore]
    AIOKafkaConsumer,
    ConsumerRecord,
    TopicPartition,
)

from streams.kafka.client import KafkaConnection, new_consumer, stop_consumer
from streams.kafka.compat import true_end_offsets


@contextlib.asynccontextmanager
async def started_consumer(
    conn: KafkaConnection, *, group_id: str | None, **overrides: Any
) -> AsyncIterator[AIOKafkaConsumer]:
    """A started consumer (:func:`~streams.kafka.client.new_consumer`), always stopped on exit
    (:func:`~streams.kafka.client.stop_consumer`)."""
    consumer = new_consumer(conn, group_id=group_id, **overrides)
    await consumer.start()
    try:
        yield consumer
    finally:
        await stop_consumer(consumer)


async def topic_record_count(conn: KafkaConnection, topic: str) -> int:
    """How many records ``topic`` holds (0 if it does not exist), correct on Tansu too."""
    async with started_consumer(conn, group_id=None) as consumer:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return 0
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        starts = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)


class TopicNotFoundError(LookupError):
    """The topic does not exist on the broker."""


async def topic_names(conn: KafkaConnection) -> set[str]:
    """The names of every topic on the broker now (internal ones included).

    Read from the cluster metadata that a consumer fetches at start: asking for every topic
    names none, so no broker creates one for the asking.
    """
    async with started_consumer(conn, group_id=None) as consumer:
        return set(await consumer.topics())


async def read_log(
    conn: KafkaConnection, topic: str, max_records: int | None = None
) -> AsyncGenerator[list[ConsumerRecord[bytes, bytes]], None]:
    """Batches of every partition of ``topic`` from its beginning up to the log end measured at
    the call (correct on Tansu too): records produced later are not read.

    Raises :class:`TopicNotFoundError` when the topic does not exist. To stop early, close it
    (``contextlib.aclosing``): that stops its consumer. Batches are never empty; a partition's
    records come in offset order.
    """
    async with started_consumer(conn, group_id=None, enable_auto_commit=False) as consumer:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            raise TopicNotFoundError(f"topic {topic!r} does not exist on the broker")
        consumer.assign(tps)
        starts = await consumer.beginning_offsets(tps)
        ends = await true_end_offsets(consumer, tps)
        for tp in tps:
            consumer.seek(tp, starts[tp])
        remaining = {tp for tp in tps if ends[tp] > starts[tp]}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=max_records)
            records = [
                record
                for tp, fetched in batches.items()
                for record in fetched
                if record.offset < ends[tp]
            ]
            if records:
                yield records
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)


async def find_keys(conn: KafkaConnection, topic: str, keys: set[bytes]) -> set[bytes]:
    """Which of ``keys`` occur as record keys in ``topic``, read from the start to its end now.

    Used by the watcher after a crash between a publish and its ledger record. Reads the
    topic with :func:`read_log` and stops early once every key was found; values are fetched
    with the keys, so its cost is one read of the topic.
    """
    wanted = set(keys)
    found: set[bytes] = set()
    if not wanted:
        return found
    try:
        async with contextlib.aclosing(read_log(conn, topic)) as batches:
            async for records in batches:
                found.update(r.key for r in records if r.key in wanted)
                if not wanted - found:
                    break
    except TopicNotFoundError:  # no topic, no keys
        pass
    return found


async def subscribe(
    conn: KafkaConnection,
    topic: str,
    from_beginning: bool,
    limit: int | None,
    idle_seconds: float | None,
    emit: Callable[[bytes], None],
) -> int:
    """Print the values of ``topic`` (all partitions, no consumer group); returns how many.

    Without ``from_beginning`` only events that arrive from now on are shown. Stops after
    ``limit`` events or ``idle_seconds`` without a new event, if given. Raises
    :class:`TopicNotFoundError` when ``topic`` does not exist: subscribing to it would make a
    broker that auto-creates topics (Tansu, Kafka's default) create it.
    """
    reset = "earliest" if from_beginning else "latest"
    async with started_consumer(conn, group_id=None, auto_offset_reset=reset) as consumer:
        if topic not in await consumer.topics():
            raise TopicNotFoundError(f"topic {topic!r} does not exist on the broker")
        consumer.subscribe([topic])
        await _wait_for_assignment(consumer, topic, idle_seconds)
        count = 0
        while limit is None or count < limit:
            batches = await consumer.getmany(
                timeout_ms=int((idle_seconds if idle_seconds is not None else 1.0) * 1000),
                max_records=None if limit is None else limit - count,
            )
            if not batches:
                if idle_seconds is not None:
                    break
                continue
            for tp in sorted(batches, key=lambda t: t.partition):
                for record in batches[tp]:
                    if limit is not None and count >= limit:
                        break
                    emit(record.value or b"")
                    count += 1
        return count


async def _wait_for_assignment(
    consumer: AIOKafkaConsumer, topic: str, idle_seconds: float | None
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(idle_seconds or 0.0, 10.0)
    while not consumer.assignment():
        if loop.time() > deadline:
            raise LookupError(f"topic {topic!r} does not exist on the broker")
        await asyncio.sleep(0.1)
