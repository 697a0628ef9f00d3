"""What a user sees when the broker or the topic named is not there: one line, exit status 1,
and nothing created on the broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from streams.kafka.admin import TopicSpec, ensure_topics
from streams.kafka.client import KafkaConnection
from streams.kafka.reads import topic_names
from streams.kafka.tansu import EmbeddedBroker
from streams.subprocesses import free_port
from tests.support.processes import SAMPLES, cli_argv

pytestmark = [pytest.mark.integration]


def newsstream(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSTREAM_")}
    return subprocess.run(
        cli_argv(*args),
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed (on stderr), after checking it was only that."""
    everything = result.stdout + result.stderr
    assert result.returncode == 1, everything
    assert result.stdout == "", everything
    lines = result.stderr.splitlines()
    assert len(lines) == 1, everything
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["subscribe", "articles.enriched"],
        ["watch", str(SAMPLES)],
        ["replay", "--from-beginning"],
        ["sink", "jsonl"],
        ["worker"],
    ],
    ids=lambda command: command[0],
)
def test_an_unreachable_broker_is_one_line_and_exit_1(command: list[str], tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    result = newsstream(
        *command,
        NEWSSTREAM_BROKER=f"127.0.0.1:{port}",
        NEWSSTREAM_BROKER_WAIT_SECONDS="1",
        NEWSSTREAM_DATA_DIR=str(tmp_path / "data"),
    )
    line = one_error_line(result)
    expected = f"Error: no Kafka broker answered at 127.0.0.1:{port} within 1 s ("
    assert line.startswith(expected), line


def subscribe(broker: EmbeddedBroker, prefix: str, topic: str) -> subprocess.CompletedProcess[str]:
    return newsstream(
        "subscribe",
        topic,
        "--from-beginning",
        "--timeout",
        "1",
        NEWSSTREAM_BROKER=broker.bootstrap,
        NEWSSTREAM_TANSU="true",
        NEWSSTREAM_TOPIC_PREFIX=prefix,
    )


@pytest.mark.parametrize("topic", ["bogus", "articles.enriched.v2"])
def test_an_unknown_topic_is_one_line_and_exit_1_and_is_not_created(
    broker: EmbeddedBroker, topic_prefix: str, topic: str
) -> None:
    line = one_error_line(subscribe(broker, topic_prefix, topic))
    # A public short name with a suffix resolves to one name; any other is tried both ways.
    tried = f"{topic!r} nor " if topic == "bogus" else ""
    assert line == (
        f"Error: no topic {tried}'{topic_prefix}{topic}' on the broker at "
        f"{broker.bootstrap} (subscribe never creates topics)"
    )
    existing = asyncio.run(topic_names(KafkaConnection(broker.bootstrap, is_tansu=True)))
    assert topic not in existing
    assert f"{topic_prefix}{topic}" not in existing


def test_a_topic_named_without_its_prefix_is_found(
    broker: EmbeddedBroker, topic_prefix: str
) -> None:
    """E.g. the enriched topic of a ``replay --to-suffix v2``: ``articles.enriched.v2``."""
    conn = KafkaConnection(broker.bootstrap, is_tansu=True)
    asyncio.run(ensure_topics(conn, {f"{topic_prefix}articles.enriched.v2": TopicSpec()}))
    result = subscribe(broker, topic_prefix, "articles.enriched.v2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
