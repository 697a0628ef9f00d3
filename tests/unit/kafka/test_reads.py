"""``streams.kafka.reads``: a topic's log read up to the end measured at the start, and the key
search the watcher's recovery uses, against a scripted consumer (the broker is tested in
tests/integration/test_tansu.py)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition  # type: ignore[import-untyped, unused-ignore]

from streams.kafka import reads
from streams.kafka.client import KafkaConnection

TOPIC = "news.articles.raw"
CONN = KafkaConnection("127.0.0.1:9092")


class LogConsumer:
    """A topic whose partitions hold ``logs``; ``ends`` is the log end measured at the start
    (records beyond it were produced later). Serves ``per_fetch`` records per partition."""

    def __init__(
        self, logs: dict[int, list[bytes]], ends: dict[int, int] | None = None, per_fetch: int = 2
    ) -> None:
        self.logs = logs
        self.ends = ends or {p: len(keys) for p, keys in logs.items()}
        self.per_fetch = per_fetch
        self.positions: dict[TopicPartition, int] = {}
        self.fetches = 0
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(self.logs) if topic == TOPIC and self.logs else None

    def assign(self, tps: list[TopicPartition]) -> None:
        self.positions = dict.fromkeys(tps, 0)

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(tps, 0)

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.ends[tp.partition] for tp in tps}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(
        self, *tps: TopicPartition, timeout_ms: int, max_records: int | None = None
    ) -> dict[TopicPartition, list[Any]]:
        self.fetches += 1
        out: dict[TopicPartition, list[Any]] = {}
        for tp in tps:
            start = self.positions[tp]
            keys = self.logs[tp.partition][start : start + self.per_fetch]
            out[tp] = [_record(tp.partition, start + i, key) for i, key in enumerate(keys)]
            self.positions[tp] = start + len(keys)
        return out


def _record(partition: int, offset: int, key: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=TOPIC,
        partition=partition,
        offset=offset,
        timestamp=offset,
        timestamp_type=0,
        key=key,
        value=b"v-" + key,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(key) + 2,
        headers=[],
    )


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make ``reads`` use the given consumer (end offsets as it reports them)."""

    def use(consumer: LogConsumer) -> LogConsumer:
        monkeypatch.setattr(reads, "new_consumer", lambda conn, **kwargs: consumer)

        async def true_end_offsets(consumer: Any, tps: Any) -> dict[Any, int]:
            return dict(await consumer.end_offsets(list(tps)))

        monkeypatch.setattr(reads, "true_end_offsets", true_end_offsets)
        return consumer

    return use


async def test_read_log_stops_at_the_end_measured_when_it_began(serve: Any) -> None:
    consumer = serve(LogConsumer({0: [b"a", b"b", b"c", b"late"], 1: [b"d"]}, ends={0: 3, 1: 1}))
    keys = [r.key async for batch in reads.read_log(CONN, TOPIC) for r in batch]
    assert sorted(keys) == [b"a", b"b", b"c", b"d"]
    assert consumer.stopped


async def test_read_log_of_a_missing_topic_raises_and_stops_its_consumer(serve: Any) -> None:
    consumer = serve(LogConsumer({}))
    with pytest.raises(reads.TopicNotFoundError, match=TOPIC):
        async for _ in reads.read_log(CONN, TOPIC):
            pass
    assert consumer.stopped


async def test_read_log_closed_early_stops_its_consumer(serve: Any) -> None:
    consumer = serve(LogConsumer({0: [b"a", b"b", b"c", b"d"]}, per_fetch=1))
    async with contextlib.aclosing(reads.read_log(CONN, TOPIC)) as batches:
        async for _ in batches:
            break
    assert consumer.stopped
    assert consumer.fetches == 1


async def test_find_keys_stops_reading_once_every_key_was_found(serve: Any) -> None:
    consumer = serve(LogConsumer({0: [b"a", b"b", b"c", b"d", b"e", b"f"]}, per_fetch=2))
    assert await reads.find_keys(CONN, TOPIC, {b"b", b"c"}) == {b"b", b"c"}
    assert consumer.fetches == 2
    assert consumer.stopped


async def test_find_keys_ignores_records_produced_after_it_began(serve: Any) -> None:
    serve(LogConsumer({0: [b"a", b"late"]}, ends={0: 1}))
    assert await reads.find_keys(CONN, TOPIC, {b"a", b"late"}) == {b"a"}


async def test_find_keys_in_a_missing_topic_finds_none(serve: Any) -> None:
    serve(LogConsumer({}))
    assert await reads.find_keys(CONN, TOPIC, {b"a"}) == set()
