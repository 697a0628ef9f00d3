"""A sink's feed of records: one topic read in the sink's own consumer group, committed by hand.

``streams.sinks.runner.SinkRunner`` reads through :class:`GroupFeed` (its ``RecordFeed``), so
the sink side never touches aiokafka: it takes batches and commits those it made durable.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from aiokafka import (  # type: ignore[import-untyped, unused-ignore]
    AIOKafkaConsumer,
    ConsumerRecord,
    TopicPartition,
)

from streams.kafka.client import KafkaConnection, new_consumer, stop_consumer


class GroupFeed:
    """Batches of one topic's records for a consumer group that commits only by hand.

    Built by :func:`group_feed`, which starts and stops its consumer.
    """

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer

    async def next_batch(
        self, max_records: int, timeout_seconds: float
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Up to ``max_records`` records, in (topic, partition, offset) order, waiting at most
        ``timeout_seconds`` for the first; empty when none arrived."""
        batches = await self._consumer.getmany(
            timeout_ms=int(timeout_seconds * 1000), max_records=max_records
        )
        return [r for tp in sorted(batches, key=_tp_order) for r in batches[tp]]

    async def commit(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Commit past the last of ``records`` in each partition; the group resumes there."""
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        if offsets:
            await self._consumer.commit(offsets)


@contextlib.asynccontextmanager
async def group_feed(conn: KafkaConnection, group_id: str, topic: str) -> AsyncIterator[GroupFeed]:
    """A :class:`GroupFeed` of ``topic`` in ``group_id`` (auto-commit off), stopped on exit."""
    consumer = new_consumer(conn, group_id=group_id)
    await consumer.start()
    try:
        consumer.subscribe([topic])
        yield GroupFeed(consumer)
    finally:
        await stop_consumer(consumer)


def _tp_order(tp: TopicPartition) -> tuple[str, int]:
    return (tp.topic, tp.partition)
