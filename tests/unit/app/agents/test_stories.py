"""The ``stories`` agent as the factory wires it, fed without a broker.

The agent's own function runs over a stand-in for Faust's stream; what it hands to the producer
is recorded instead of sent.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest

from schemas import DeadLetter, DeadLetterStage, decode
from streams.app.factory import AppConfig, NewsApp, create_app
from streams.config import Topics
from streams.enrich.base import Document, Enricher
from streams.enrich.pipeline import Pipeline
from streams.kafka.client import FaustBrokerSettings
from streams.processing.story_input import story_input_topic
from tests.unit.app.agents.fakes import Message, Stream, StreamEvent

TOPICS = Topics("news.")
APP_ID = "stories-test"


class Unchanged(Enricher):
    name = "unchanged"
    version = "1"

    def enrich(self, doc: Document) -> Document:
        return doc


def _app(tmp_path: Path, **config: Any) -> NewsApp:
    broker = FaustBrokerSettings("kafka://127.0.0.1:1", "PLAINTEXT", None, None, None, None, False)
    return create_app(
        AppConfig(
            app_id=APP_ID,
            broker=broker,
            topics=TOPICS,
            datadir=tmp_path,
            web_enabled=False,
            **config,
        ),
        Pipeline([Unchanged()]),
    )


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes, bytes]]:
    """The records the app's agents hand to the producer; each is acknowledged at once."""
    records: list[tuple[str, bytes, bytes]] = []

    async def send(topic: str, key: bytes, value: bytes, **_: Any) -> asyncio.Future[None]:
        records.append((topic, key, value))
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged

    monkeypatch.setattr("streams.app.factory._handoff", lambda app, t, k, v: send(t, k, v))
    return records


def _run_stories(app: NewsApp, events: list[StreamEvent]) -> None:
    asyncio.run(app.agents["stories"].fun(Stream(events)))


def test_a_record_that_is_not_an_enriched_event_is_dead_lettered_with_the_configured_limit(
    tmp_path: Path, sent: list[tuple[str, bytes, bytes]]
) -> None:
    app = _app(tmp_path, max_deadletter_payload_bytes=16)
    value = b"not an enriched event, " * 4
    message = Message(story_input_topic(APP_ID), 0, 5, b"a1", value)

    _run_stories(app, [StreamEvent(message)])

    [(topic, key, data)] = sent
    assert (topic, key) == (TOPICS.deadletter, b"a1")
    letter = decode(data, DeadLetter)
    assert letter.stage is DeadLetterStage.DECODE
    assert letter.reason == "invalid-event"
    assert base64.b64decode(letter.payload_b64 or "") == value[:16]
    assert letter.payload_truncated
