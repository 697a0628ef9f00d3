"""``streams.kafka.feed``: a sink's batches in partition order, and commits past each batch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition  # type: ignore[import-untyped, unused-ignore]

from streams.kafka import feed as feed_module
from streams.kafka.feed import GroupFeed

TOPIC = "news.articles.enriched"


def rec(partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=TOPIC,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=b"v",
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=1,
        headers=[],
    )


class GroupConsumer:
    """Answers ``getmany`` from a script and records what was asked and committed."""

    def __init__(self, *answers: dict[TopicPartition, list[Any]]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[int, int]] = []
        self.commits: list[dict[TopicPartition, int]] = []
        self.positions: dict[TopicPartition, int] = {}
        self.ends: dict[TopicPartition, int] = {}
        self.answers_offsets = True

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def end_offsets(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        if not self.answers_offsets:
            await asyncio.sleep(3600)  # a broker that does not answer
        return {tp: self.ends[tp] for tp in tps}

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Any]]:
        self.asked.append((timeout_ms, max_records))
        return self.answers.pop(0) if self.answers else {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


async def test_a_batch_comes_in_partition_then_offset_order() -> None:
    consumer = GroupConsumer(
        {
            TopicPartition(TOPIC, 2): [rec(2, 7), rec(2, 8)],
            TopicPartition(TOPIC, 0): [rec(0, 3)],
        }
    )
    batch = await GroupFeed(consumer).next_batch(max_records=500, timeout_seconds=0.5)
    assert [(r.partition, r.offset) for r in batch] == [(0, 3), (2, 7), (2, 8)]
    assert consumer.asked == [(500, 500)]


async def test_no_records_give_an_empty_batch() -> None:
    assert await GroupFeed(GroupConsumer()).next_batch(10, 0.01) == []


async def test_commit_resumes_after_the_last_record_of_each_partition() -> None:
    consumer = GroupConsumer()
    await GroupFeed(consumer).commit([rec(0, 3), rec(2, 7), rec(2, 8)])
    assert consumer.commits == [{TopicPartition(TOPIC, 0): 4, TopicPartition(TOPIC, 2): 9}]


async def test_an_empty_commit_asks_nothing_of_the_broker() -> None:
    consumer = GroupConsumer()
    await GroupFeed(consumer).commit([])
    assert consumer.commits == []


@pytest.fixture
def end_offsets_as_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker's end offsets taken as they come (what ``true_end_offsets`` gives on Kafka)."""

    async def as_reported(consumer: Any, tps: Iterable[TopicPartition]) -> dict[Any, int]:
        return dict(await consumer.end_offsets(list(tps)))

    monkeypatch.setattr(feed_module, "true_end_offsets", as_reported)


@pytest.mark.usefixtures("end_offsets_as_reported")
async def test_lag_counts_the_records_after_the_position_of_each_assigned_partition() -> None:
    consumer = GroupConsumer()
    assert await GroupFeed(consumer).lag() is None  # nothing assigned yet
    consumer.positions = {TopicPartition(TOPIC, 0): 4, TopicPartition(TOPIC, 1): 9}
    consumer.ends = {TopicPartition(TOPIC, 0): 7, TopicPartition(TOPIC, 1): 9}
    assert await GroupFeed(consumer).lag() == 3


@pytest.mark.usefixtures("end_offsets_as_reported")
async def test_no_lag_when_the_broker_does_not_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feed_module, "LAG_TIMEOUT_SECONDS", 0.05)
    consumer = GroupConsumer()
    consumer.positions = {TopicPartition(TOPIC, 0): 4}
    consumer.answers_offsets = False
    assert await asyncio.wait_for(GroupFeed(consumer).lag(), 2) is None
