"""A sink's feed of records: one topic read in the sink's own consumer group, committed by hand.

``streams.sinks.runner.SinkRunner`` reads through :class:`GroupFeed` (its ``RecordFeed``), so
the sink side never touches aiokafka: it takes batches and commits those it made durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from aiokafka import (  # type: ignore[import-untyped, unused-ignore]
    AIOKafkaConsumer,
    ConsumerRecord,
    TopicPartition,
)

from streams.kafka.client import KafkaConnection
from streams.kafka.compat import true_end_offsets
from streams.kafka.reads import TopicNotFoundError, started_consumer

log = logging.getLogger(__name__)

LAG_TIMEOUT_SECONDS = 5.0


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

    async def lag(self) -> int | None:
        """Records of the assigned partitions after the consumer's position (the log end asked
        of the broker now, correct on Tansu too); None while no partition is assigned or when
        the broker did not answer within ``LAG_TIMEOUT_SECONDS``.

        After :meth:`commit` of every batch :meth:`next_batch` returned, the position is the
        committed offset, so 0 means every record so far is stored and committed.
        """
        tps = sorted(self._consumer.assignment(), key=_tp_order)
        if not tps:
            return None
        try:
            # Only a progress figure: a broker that does not answer must not hold up the sink.
            async with asyncio.timeout(LAG_TIMEOUT_SECONDS):
                ends = await true_end_offsets(self._consumer, tps)
                behind = 0
                for tp in tps:
                    behind += max(0, ends[tp] - await self._consumer.position(tp))
        except Exception as exc:  # a timeout, a Kafka error, a rebalance in between
            log.debug("no lag for %s: %r", tps, exc)
            return None
        return behind


@contextlib.asynccontextmanager
async def group_feed(conn: KafkaConnection, group_id: str, topic: str) -> AsyncIterator[GroupFeed]:
    """A :class:`GroupFeed` of ``topic`` in ``group_id`` (auto-commit off), stopped on exit.

    Raises :class:`TopicNotFoundError` when the broker does not know ``topic``: it is never
    subscribed to, so it is not created (a mistyped ``--topic`` would otherwise wait forever).
    """
    async with started_consumer(conn, group_id=group_id) as consumer:
        if not consumer.partitions_for_topic(topic):
            raise TopicNotFoundError(f"topic {topic!r} does not exist on the broker")
        consumer.subscribe([topic])
        yield GroupFeed(consumer)


def _tp_order(tp: TopicPartition) -> tuple[str, int]:
    return (tp.topic, tp.partition)
