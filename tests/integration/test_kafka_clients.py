"""Other Kafka clients against the embedded broker (Tansu): which ones work, and how.

The README's "Tansu and Apache Kafka" section says this; these tests keep it true. kcat is
Debian's (``./dev test`` installs it): Debian 12 ships kcat 1.7.1 on librdkafka 2.0.2, which
cannot read Tansu's ApiVersions v3 answer. That answer ends with four tagged fields, and
librdkafka before 2.2.0 skips each tagged field one byte short ("Read underflow"); 2.2.0 and
newer read it. With the version query off (``api.version.request=false``, fallback 0.9.0) kcat
gets metadata and reads from absolute offsets, but it cannot produce (Tansu drops the legacy
message format) nor resolve "beginning"/"end" (Tansu's ListOffsets v0 answer lacks its offsets
array). librdkafka 2.2+ works for all of it: confluent-kafka's wheel carries one, which also
serves Debian's kcat through ``LD_PRELOAD``.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import confluent_kafka
import pytest

from schemas.codec import decode, encode
from schemas.events import ArticleIngested
from streams.kafka.admin import TopicSpec, ensure_topics
from streams.kafka.client import KafkaConnection, started_producer
from streams.kafka.tansu import EmbeddedBroker

pytestmark = pytest.mark.integration

ARTICLES = 12
PARTITIONS = 3
# What makes Debian 12's kcat read from Tansu (README, "Tansu and Apache Kafka").
LEGACY = ["-X", "api.version.request=false", "-X", "broker.version.fallback=0.9.0"]
# Tansu answers a group join after about half the session timeout: librdkafka's default (45 s)
# makes that 23 s, 6 s makes it 3 s (README).
SESSION_TIMEOUT_MS = 6000


def kcat() -> str:
    found = shutil.which("kcat")
    assert found, "kcat is missing: ./dev test installs it (apt-get install kcat)"
    return found


def librdkafka_version(env: dict[str, str] | None = None) -> tuple[int, ...]:
    """The librdkafka that kcat runs on (``kcat -V``), e.g. (2, 0, 2)."""
    shown = subprocess.run([kcat(), "-V"], capture_output=True, text=True, env=env, check=True)
    found = re.search(r"librdkafka (\d+)\.(\d+)\.(\d+)", shown.stdout)
    assert found, shown.stdout
    return tuple(int(part) for part in found.groups())


def newer_librdkafka() -> Path:
    """The librdkafka (2.2 or newer) inside confluent-kafka's wheel."""
    libs = Path(confluent_kafka.__file__).resolve().parent.parent / "confluent_kafka.libs"
    (library,) = libs.glob("librdkafka*.so*")
    return library


def run_kcat(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kcat(), *args], input=stdin, capture_output=True, text=True, env=env, timeout=60
    )


def articles(prefix: str) -> list[ArticleIngested]:
    return [
        ArticleIngested(
            article_id=f"{prefix}a{i}",
            source_id=f"nieuws-{i}",
            source_path=f"nieuws-{i}.txt",
            content_format="txt",
            content_sha256=f"{i:064x}",
            title=f"Bericht {i}",
            body=f"Bericht {i}: de Verenigde Naties vergaderen in Genève.",
            ingested_at=datetime(2026, 12, 5, 12, 0, i, tzinfo=UTC),
        )
        for i in range(ARTICLES)
    ]


def publish(broker: EmbeddedBroker, topic: str, events: list[ArticleIngested]) -> None:
    """The events on ``topic`` (PARTITIONS partitions), keyed by article id, as newsstream's
    own producer sends them."""

    async def send() -> None:
        conn = KafkaConnection(broker.bootstrap, is_tansu=True)
        await ensure_topics(conn, {topic: TopicSpec(partitions=PARTITIONS)})
        async with started_producer(conn) as producer:
            for event in events:
                await producer.send(topic, key=event.article_id.encode(), value=encode(event))
            await producer.flush()

    asyncio.run(send())


def test_kcat_on_librdkafka_before_2_2_cannot_talk_to_tansu(broker: EmbeddedBroker) -> None:
    """The failure users see with Debian 12's kcat; with a librdkafka 2.2+ the same call works."""
    listed = run_kcat("-b", broker.bootstrap, "-m", "3", "-L")
    if librdkafka_version() < (2, 2, 0):
        assert listed.returncode != 0
        assert "ApiVersionRequest failed: Local: Read underflow" in listed.stderr
    else:
        assert listed.returncode == 0, listed.stderr


def test_kcat_reads_newsstream_events_with_the_version_query_off(
    broker: EmbeddedBroker, topic_prefix: str
) -> None:
    topic = topic_prefix + "articles.raw"
    sent = articles(topic_prefix)
    publish(broker, topic, sent)

    read = run_kcat("-b", broker.bootstrap, *LEGACY, "-C", "-t", topic, "-o", "0", "-e", "-J")
    assert read.returncode == 0, read.stderr
    records = [json.loads(line) for line in read.stdout.splitlines()]
    assert len({r["partition"] for r in records}) > 1, "spread over the partitions"
    got = {r["key"]: decode(r["payload"], ArticleIngested) for r in records}
    assert got == {event.article_id: event for event in sent}

    # What does not work that way: "beginning" (a ListOffsets v0 lookup) and producing.
    beginning = run_kcat("-b", broker.bootstrap, *LEGACY, "-C", "-t", topic, "-o", "beginning")
    assert beginning.returncode != 0
    assert "Failed to query logical offset" in beginning.stderr
    produced = run_kcat("-b", broker.bootstrap, *LEGACY, "-P", "-t", topic, stdin="one\n")
    assert produced.returncode != 0
    again = run_kcat("-b", broker.bootstrap, *LEGACY, "-C", "-t", topic, "-o", "0", "-e", "-J")
    assert len(again.stdout.splitlines()) == ARTICLES, "nothing was added"


def test_kcat_on_a_newer_librdkafka_produces_and_consumes_in_a_group(
    broker: EmbeddedBroker, topic_prefix: str
) -> None:
    """Debian's kcat with confluent-kafka's librdkafka preloaded: everything works."""
    env = {"LD_PRELOAD": str(newer_librdkafka()), "PATH": "/usr/bin:/bin"}
    assert librdkafka_version(env) >= (2, 2, 0)
    topic = topic_prefix + "kcat"
    lines = [f"k{i}:v{i}" for i in range(6)]
    produced = run_kcat(
        "-b", broker.bootstrap, "-P", "-t", topic, "-K:", stdin="\n".join(lines) + "\n", env=env
    )
    assert produced.returncode == 0, produced.stderr

    consumed = run_kcat(
        "-b",
        broker.bootstrap,
        "-G",
        topic_prefix + "kcat-readers",
        "-X",
        "auto.offset.reset=earliest",
        "-X",
        f"session.timeout.ms={SESSION_TIMEOUT_MS}",
        "-e",
        "-f",
        "%k:%s\n",
        topic,
        env=env,
    )
    assert consumed.returncode == 0, consumed.stderr
    assert sorted(consumed.stdout.splitlines()) == sorted(lines)


def test_confluent_kafka_consumes_newsstream_events_in_a_group(
    broker: EmbeddedBroker, topic_prefix: str
) -> None:
    """confluent-kafka (librdkafka 2.2+): a consumer group reads every event and commits."""
    topic = topic_prefix + "articles.raw"
    sent = articles(topic_prefix)
    publish(broker, topic, sent)

    consumer = confluent_kafka.Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": topic_prefix + "readers",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": SESSION_TIMEOUT_MS,
        }
    )
    got: dict[str, ArticleIngested] = {}
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 60
        while len(got) < ARTICLES and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            value = message.value()
            assert value is not None
            event = decode(value, ArticleIngested)
            got[event.article_id] = event
            consumer.commit(message=message, asynchronous=False)
        assert got == {event.article_id: event for event in sent}
        committed = consumer.committed(
            [confluent_kafka.TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10
        )
        assert sum(max(tp.offset, 0) for tp in committed) == ARTICLES
    finally:
        consumer.close()
