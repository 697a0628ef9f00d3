"""Kafka helpers of the benchmarks: filling topics, waiting for counts, reading timestamps,
and the raw aiokafka baseline (consume A, produce B) as a careful aiokafka user writes it.

All clients come from ``streams.kafka.client`` (``new_producer``/``new_consumer``), so they
carry the Tansu workarounds per client and newsstream's delivery settings (acks=all,
idempotent producer, explicit commits).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition  # type: ignore[import-untyped, unused-ignore]

from streams.config import Topics
from streams.kafka.admin import TopicSpec, ensure_topics
from streams.kafka.client import KafkaConnection, new_consumer, new_producer
from streams.kafka.compat import true_end_offsets

#: Producer settings of the baseline and of the fills: batches of up to 1 MB, 10 ms linger.
BATCH_BYTES = 1024 * 1024
LINGER_MS = 10


async def create_topics(conn: KafkaConnection, names: Iterable[str], partitions: int) -> None:
    await ensure_topics(conn, {name: TopicSpec(partitions=partitions) for name in names})


async def fill(
    conn: KafkaConnection,
    topic: str,
    pairs: Sequence[tuple[bytes, bytes]],
    partitions: Sequence[int],
) -> float:
    """Produce ``pairs`` (key, value) to ``topic``, the i-th to ``partitions[i]``.

    Returns the seconds from the first append to the last acknowledgement (acks=all).
    """
    producer = new_producer(conn, linger_ms=LINGER_MS, max_batch_size=BATCH_BYTES)
    await producer.start()
    try:
        began = time.perf_counter()
        futures: list[asyncio.Future[Any]] = []
        batches: dict[int, Any] = {}
        for (key, value), partition in zip(pairs, partitions, strict=True):
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[partition] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)
        for partition, batch in batches.items():
            if batch.record_count():
                futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)
        return time.perf_counter() - began
    finally:
        await producer.stop()


class EndOffsets:
    """Counts a topic's records, correctly on Tansu, with one long-lived consumer."""

    def __init__(self, conn: KafkaConnection, topic: str) -> None:
        self._conn = conn
        self._topic = topic
        self._consumer: Any = None
        self._tps: list[Any] = []

    async def __aenter__(self) -> EndOffsets:
        self._consumer = new_consumer(self._conn, group_id=None)
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._consumer.stop()

    async def count(self) -> int:
        if not self._tps:
            parts = self._consumer.partitions_for_topic(self._topic)
            if not parts:
                await self._consumer._client.force_metadata_update()
                return 0
            self._tps = [TopicPartition(self._topic, p) for p in sorted(parts)]
        ends = await true_end_offsets(self._consumer, self._tps)
        return int(sum(ends.values()))

    async def wait_for(
        self,
        target: int,
        timeout: float,  # noqa: ASYNC109 - a deadline with a clear error message
        check: Callable[[], None] = lambda: None,
        interval: float = 0.25,
    ) -> int:
        """Poll until the topic holds ``target`` records; ``check`` raises if a process died."""
        deadline = time.monotonic() + timeout
        while True:
            count = await self.count()
            if count >= target:
                return count
            check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self._topic}: {count} of {target} records after {timeout} s")
            await asyncio.sleep(interval)


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes | None
    timestamp_ms: int
    partition: int
    offset: int
    size: int


async def read_all(conn: KafkaConnection, topic: str) -> list[Record]:
    """Every record of ``topic`` now (key, CreateTime timestamp, position, value size)."""
    consumer = new_consumer(
        conn, group_id=None, max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=16 << 20
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await true_end_offsets(consumer, tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        out: list[Record] = []
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                out.extend(
                    Record(r.key, r.timestamp, tp.partition, r.offset, len(r.value or b""))
                    for r in records
                )
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


def output_rate(records: Sequence[Record]) -> tuple[float, float]:
    """(records per second, seconds) between the first and the last output timestamp."""
    if len(records) < 2:
        return 0.0, 0.0
    first = min(r.timestamp_ms for r in records)
    last = max(r.timestamp_ms for r in records)
    seconds = max(0.001, (last - first) / 1000)
    return (len(records) - 1) / seconds, seconds


async def raw_copy(
    conn: KafkaConnection,
    source: str,
    sink: str,
    expected: int,
    group: str,
    timeout: float,  # noqa: ASYNC109 - a deadline with a clear error message
) -> float:
    """The baseline: consume ``source`` and produce every record to ``sink``, at-least-once.

    As a careful aiokafka user writes it: ``getmany`` for everything fetched, one producer
    batch per partition (``create_batch``/``send_batch``: no per-message await), 10 ms linger,
    the same delivery settings as newsstream (acks=all, idempotent), and the input offsets
    committed only after every output of the batch was acknowledged. The next fetch runs
    while the previous outputs are in flight (one batch of look-ahead). The consumer takes
    all partitions itself (``assign``) and commits to ``group``.

    Returns the seconds from the first non-empty fetch to the last commit (records appended
    in one burst share their CreateTime, so output timestamps would flatter this path).
    """
    consumer = new_consumer(
        conn,
        group_id=group,
        max_partition_fetch_bytes=1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    producer = new_producer(conn, linger_ms=LINGER_MS, max_batch_size=BATCH_BYTES)
    async with started_on(consumer, producer, source):
        pending: asyncio.Task[None] | None = None
        try:
            copied = 0
            first_fetch = 0.0
            deadline = time.monotonic() + timeout
            while copied < expected:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"raw copy: {copied} of {expected} after {timeout} s")
                batches = await consumer.getmany(timeout_ms=500)
                if pending is not None:
                    await pending
                    pending = None
                if not batches:
                    continue
                if not first_fetch:
                    first_fetch = time.perf_counter()
                futures = []
                for tp, records in batches.items():
                    batch = producer.create_batch()
                    for record in records:
                        if batch.append(key=record.key, value=record.value, timestamp=None) is None:
                            futures.append(
                                await producer.send_batch(batch, sink, partition=tp.partition)
                            )
                            batch = producer.create_batch()
                            batch.append(key=record.key, value=record.value, timestamp=None)
                    futures.append(await producer.send_batch(batch, sink, partition=tp.partition))
                    copied += len(records)
                offsets = {tp: records[-1].offset + 1 for tp, records in batches.items() if records}
                pending = asyncio.create_task(commit_after(consumer, futures, offsets))
            if pending is not None:
                await pending
            return time.perf_counter() - first_fetch
        finally:
            if pending is not None and not pending.done():
                pending.cancel()


async def _assign_all(consumer: Any, topic: str) -> None:
    """Take every partition of ``topic`` (offsets still committed to the consumer's group).

    One process owning all partitions needs no group join, which takes ~5 s on Tansu.
    """
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
    consumer.assign([TopicPartition(topic, p) for p in sorted(parts)])


@contextlib.asynccontextmanager
async def started_on(consumer: Any, producer: Any, source: str) -> AsyncIterator[None]:
    """``producer`` and ``consumer`` started, the consumer holding every partition of ``source``
    (``_assign_all``); both stopped when the block ends, the consumer first."""
    await producer.start()
    await consumer.start()
    try:
        await _assign_all(consumer, source)
        yield
    finally:
        await consumer.stop()
        await producer.stop()


async def commit_after(consumer: Any, futures: list[Any], offsets: dict[Any, int]) -> None:
    await asyncio.gather(*futures)
    await consumer.commit(offsets)


async def batch_process(
    conn: KafkaConnection,
    source: str,
    topics: Topics,
    expected: int,
    group: str,
    timeout: float,  # noqa: ASYNC109 - a deadline with a clear error message
    max_records: int = 500,
    linger_ms: int = 0,
) -> float:
    """What the worker's agent could be: ``getmany`` batches straight into ``BatchProcessor``.

    The same ``BatchProcessor`` as the Faust agent (decode, pipeline in a thread, encode,
    send, wait for every acknowledgement) with an identity pipeline, fed by a plain aiokafka
    consumer of the group (up to ``max_records`` per batch) instead of Faust's per-event
    stream and ``take_events``; offsets are committed after each batch. Returns the seconds
    from the first non-empty fetch to the last commit. A measured proposal, not the app.
    """
    from concurrent.futures import ThreadPoolExecutor

    from bench.worker import IdentityEnricher
    from streams.enrich.pipeline import Pipeline
    from streams.processing.batch import BatchProcessor, RawRecord

    consumer = new_consumer(conn, group_id=group, max_partition_fetch_bytes=1024 * 1024)
    # linger 0 like the Faust producer: the batch waits for its acknowledgements anyway.
    producer = new_producer(conn, linger_ms=linger_ms, max_batch_size=BATCH_BYTES)
    executor = ThreadPoolExecutor(1, thread_name_prefix="enrich")
    loop = asyncio.get_running_loop()

    async def send(topic: str, key: bytes, value: bytes) -> None:
        await (await producer.send(topic, value, key=key))

    processor = BatchProcessor(
        pipeline=Pipeline([IdentityEnricher()]),
        run_blocking=lambda fn, arg: loop.run_in_executor(executor, fn, arg),
        send=send,
        topics=topics,
        max_deadletter_payload_bytes=256 * 1024,
    )
    try:
        async with started_on(consumer, producer, source):
            done = 0
            first_fetch = 0.0
            deadline = time.monotonic() + timeout
            while done < expected:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"batch process: {done} of {expected} after {timeout} s")
                batches = await consumer.getmany(timeout_ms=500, max_records=max_records)
                if not batches:
                    continue
                if not first_fetch:
                    first_fetch = time.perf_counter()
                records = [
                    RawRecord(tp.topic, tp.partition, r.offset, r.key, r.value)
                    for tp, rs in batches.items()
                    for r in rs
                ]
                await processor.process(records)
                await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in batches.items() if rs})
                done += len(records)
            return time.perf_counter() - first_fetch
    finally:
        executor.shutdown()
