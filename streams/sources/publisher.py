"""The watcher's Kafka side: publishes its events through a producer the Kafka layer hands in
(``streams.kafka.client.started_producer``: acks=all, idempotent)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from schemas import ArticleIngested, DeadLetter, encode
from streams.config import Topics


class Producer(Protocol):
    """A started Kafka producer (acks=all, idempotent), owned and stopped by the caller."""

    async def send(self, topic: str, value: bytes, *, key: bytes) -> Awaitable[object]:
        """Called once per event, in order: queues it and returns an awaitable that completes
        once the broker acknowledged it, and raises if it could not be delivered."""
        ...


class KafkaPublisher:
    """Implements the watcher's ``Publisher`` on a started ``producer``.

    ``raw_log_size`` returns the number of records the raw topic holds (sum of end offsets minus
    start offsets, measured correctly on every broker: see ``streams.kafka.compat``).
    ``find_keys(topic, keys)`` returns which of ``keys`` occur as record keys in ``topic``.
    """

    def __init__(
        self,
        producer: Producer,
        topics: Topics,
        raw_log_size: Callable[[], Awaitable[int]],
        find_keys: Callable[[str, set[bytes]], Awaitable[set[bytes]]],
    ) -> None:
        self._producer = producer
        self._topics = topics
        self._raw_log_size = raw_log_size
        self._find_keys = find_keys

    async def publish(
        self, articles: Sequence[ArticleIngested], deadletters: Sequence[DeadLetter]
    ) -> None:
        """Send every event and return once the broker acknowledged all of them.

        Articles are keyed by article id (one partition per article, in order); dead letters by
        their event id. If any send fails the exception propagates and nothing is recorded in
        the ledger, so the files are tried again.
        """
        deliveries = [
            await self._producer.send(self._topics.raw, encode(a), key=a.article_id.encode())
            for a in articles
        ]
        deliveries += [
            await self._producer.send(self._topics.deadletter, encode(d), key=d.event_id.encode())
            for d in deadletters
        ]
        await asyncio.gather(*deliveries)

    async def raw_log_is_empty(self) -> bool:
        return await self._raw_log_size() == 0

    async def held_keys(self, article_keys: set[str], deadletter_keys: set[str]) -> set[str]:
        held: set[str] = set()
        for topic, keys in (
            (self._topics.raw, article_keys),
            (self._topics.deadletter, deadletter_keys),
        ):
            if keys:
                found = await self._find_keys(topic, {k.encode() for k in keys})
                held.update(k.decode() for k in found)
        return held
