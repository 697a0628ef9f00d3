"""``streams.kafka.feed``: a sink's batches in partition order, and commits past each batch."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord, TopicPartition  # type: ignore[import-untyped, unused-ignore]

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
