"""``KafkaPublisher`` on the ``Producer`` the Kafka layer hands in, here a recording one: what
goes to which topic with which key, and that a publish returns only once all are acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import pytest

from schemas import ArticleIngested, DeadLetter, DeadLetterStage, FileOrigin, decode
from schemas.events import utc_now
from streams.config import Topics
from streams.sources.publisher import KafkaPublisher

TOPICS = Topics("t.")


class RecordingProducer:
    """Keeps each send; its acknowledgement is a future the test resolves (or fails)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.acks: list[asyncio.Future[None]] = []

    async def send(self, topic: str, value: bytes, *, key: bytes) -> Awaitable[object]:
        self.sent.append((topic, key, value))
        self.acks.append(asyncio.get_running_loop().create_future())
        return self.acks[-1]


def article(article_id: str) -> ArticleIngested:
    return ArticleIngested(
        article_id=article_id,
        source_id=article_id,
        source_path=f"{article_id}.txt",
        content_format="txt",
        content_sha256="0" * 64,
        body="Body.",
        ingested_at=utc_now(),
    )


def deadletter(event_id: str) -> DeadLetter:
    return DeadLetter(
        event_id=event_id,
        stage=DeadLetterStage.WATCH,
        reason="empty-file",
        origin=FileOrigin(path="x.txt"),
        occurred_at=utc_now(),
    )


def publisher(
    producer: RecordingProducer, found: frozenset[bytes] = frozenset()
) -> tuple[KafkaPublisher, list[tuple[str, set[bytes]]]]:
    """A publisher on ``producer`` whose topics hold the keys ``found``; and the key lookups
    it makes."""
    asked: list[tuple[str, set[bytes]]] = []

    async def raw_log_size() -> int:
        return 0

    async def find_keys(topic: str, keys: set[bytes]) -> set[bytes]:
        asked.append((topic, keys))
        return keys & found

    return KafkaPublisher(producer, TOPICS, raw_log_size, find_keys), asked


async def test_articles_go_to_raw_by_article_id_dead_letters_by_event_id() -> None:
    producer = RecordingProducer()
    publishing = asyncio.create_task(
        publisher(producer)[0].publish([article("a1"), article("a2")], [deadletter("d1")])
    )
    await asyncio.sleep(0.01)  # every send is queued; none is acknowledged yet
    assert not publishing.done()
    assert [(topic, key) for topic, key, _ in producer.sent] == [
        (TOPICS.raw, b"a1"),
        (TOPICS.raw, b"a2"),
        (TOPICS.deadletter, b"d1"),
    ]
    assert decode(producer.sent[0][2], ArticleIngested).article_id == "a1"
    for ack in producer.acks[:2]:
        ack.set_result(None)
    await asyncio.sleep(0.01)
    assert not publishing.done()  # one acknowledgement still missing
    producer.acks[2].set_result(None)
    await asyncio.wait_for(publishing, 1)


async def test_a_failed_delivery_fails_the_publish() -> None:
    producer = RecordingProducer()
    publishing = asyncio.create_task(publisher(producer)[0].publish([article("a1")], []))
    await asyncio.sleep(0.01)
    producer.acks[0].set_exception(ConnectionError("broker gone"))
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(publishing, 1)


async def test_held_keys_asks_each_topic_only_for_its_own_keys() -> None:
    made, asked = publisher(RecordingProducer(), found=frozenset({b"a1", b"d1"}))
    assert await made.held_keys({"a1", "a2"}, set()) == {"a1"}
    assert await made.held_keys(set(), {"d1"}) == {"d1"}
    assert asked == [(TOPICS.raw, {b"a1", b"a2"}), (TOPICS.deadletter, {b"d1"})]
    assert await made.raw_log_is_empty()
