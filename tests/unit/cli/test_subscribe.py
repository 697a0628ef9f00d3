"""``newsstream subscribe``: the topic it reads, given a full name or a public short name."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.cli.runtime import resolve_topic
from streams.config import Topics
from streams.kafka import admin, reads
from streams.kafka.client import KafkaConnection

# Written out here, not derived from Topics: the short names are the public interface.
PUBLIC = {
    "articles.raw": "raw",
    "articles.enriched": "enriched",
    "entities": "entities",
    "quotes": "quotes",
    "deadletter": "deadletter",
    "entities.trending": "trending",
    "stories": "stories",
}


@pytest.mark.parametrize(("short", "attribute"), PUBLIC.items())
def test_each_public_short_name_resolves_to_its_topic(short: str, attribute: str) -> None:
    topics = Topics("p.")
    assert resolve_topic(short, topics) == getattr(topics, attribute) == f"p.{short}"


def test_the_short_names_cover_every_public_topic() -> None:
    topics = Topics("p.")
    assert sorted(resolve_topic(short, topics) for short in PUBLIC) == sorted(topics.all())


def test_full_and_unknown_names_are_used_as_given() -> None:
    topics = Topics("p.")
    assert resolve_topic("p.quotes", topics) == "p.quotes"
    assert resolve_topic("someone-elses-topic", topics) == "someone-elses-topic"


ON_THE_BROKER = {*Topics("news.").all(), "news.articles.enriched.v2", "someone.elses"}


@pytest.fixture
def broker_topics(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """A broker that answers at once and holds ``ON_THE_BROKER``."""
    monkeypatch.delenv("NEWSSTREAM_TOPIC_PREFIX", raising=False)

    async def answers(conn: KafkaConnection, timeout: float) -> None:  # noqa: ASYNC109
        pass

    async def topic_names(conn: KafkaConnection) -> set[str]:
        return set(ON_THE_BROKER)

    monkeypatch.setattr(admin, "wait_for_broker", answers)
    monkeypatch.setattr(reads, "topic_names", topic_names)
    return ON_THE_BROKER


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("articles.enriched", "news.articles.enriched"),
        ("news.quotes", "news.quotes"),
        ("stories", "news.stories"),
        ("articles.enriched.v2", "news.articles.enriched.v2"),
        ("news.articles.enriched.v2", "news.articles.enriched.v2"),
        ("someone.elses", "someone.elses"),
    ],
)
@pytest.mark.usefixtures("broker_topics")
def test_the_subscribe_command_reads_the_named_topic(
    monkeypatch: pytest.MonkeyPatch, argument: str, expected: str
) -> None:
    read: list[str] = []

    async def subscribe(conn: KafkaConnection, topic: str, *args: Any) -> int:
        """``reads.subscribe`` that reads ``topic`` and shows one value; the last argument
        is ``emit``."""
        read.append(topic)
        args[-1](b'{"n": 1}')
        return 1

    monkeypatch.setattr(reads, "subscribe", subscribe)
    monkeypatch.setattr(main, "setup_logging", lambda *args, **kwargs: None)
    result = CliRunner().invoke(
        main.cli, ["subscribe", argument, "--broker", "127.0.0.1:9092", "--limit", "1"]
    )
    assert result.exit_code == 0, result.output
    assert read == [expected]
    assert result.output == '{"n": 1}\n'


@pytest.mark.parametrize(
    ("argument", "tried"),
    [
        ("bogus", "'bogus' nor 'news.bogus'"),
        # A public short name with a suffix resolves to one name: only that one is looked for.
        ("articles.enriched.v3", "'news.articles.enriched.v3'"),
    ],
)
@pytest.mark.usefixtures("broker_topics")
def test_an_unknown_topic_is_one_line_and_exit_1_without_subscribing(
    monkeypatch: pytest.MonkeyPatch, argument: str, tried: str
) -> None:
    async def subscribe(*args: Any) -> int:
        raise AssertionError("subscribed to a topic that does not exist")

    monkeypatch.setattr(reads, "subscribe", subscribe)
    monkeypatch.setattr(main, "setup_logging", lambda *args, **kwargs: None)
    result = CliRunner().invoke(main.cli, ["subscribe", argument, "--broker", "127.0.0.1:9092"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: no topic {tried} on the broker at 127.0.0.1:9092 "
        "(subscribe never creates topics)\n"
    )
