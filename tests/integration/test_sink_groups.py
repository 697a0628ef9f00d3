"""``newsstream sink`` on the real broker: each destination its own consumer group, progress in
the log, dead letters kept in a file.

No worker runs: the tests publish enriched events (and junk) themselves, as a worker would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from schemas import DeadLetter, encode
from streams.kafka.client import KafkaConnection, new_consumer, new_producer
from streams.kafka.tansu import EmbeddedBroker
from tests.support.processes import Stack, new_stack, wait_until
from tests.support.sink_contract import T0, make_event

pytestmark = [pytest.mark.integration]

# A sink's start: the broker's topics, then the group join (Tansu holds a JoinGroup ~5 s).
SECONDS = 90.0
STARTED = "in consumer group "


async def publish(stack: Stack, suffix: str, *values: tuple[bytes, bytes]) -> None:
    """Send (key, value) records to the stack's topic ``suffix`` and wait for the broker."""
    conn = KafkaConnection(bootstrap_servers=stack.env["NEWSSTREAM_BROKER"], is_tansu=True)
    producer = new_producer(conn)
    await producer.start()
    try:
        for key, value in values:
            await (await producer.send(stack.topic(suffix), value, key=key))
    finally:
        await producer.stop()


def articles(*numbers: int) -> list[tuple[bytes, bytes]]:
    events = [make_event(f"nos-{n:04d}") for n in numbers]
    return [(e.article_id.encode(), encode(e)) for e in events]


def lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


def started(stack: Stack, name: str, *args: str) -> str:
    """Start ``newsstream sink ARGS`` as ``name``; once it reads its topic, its group."""
    stack.start(name, "sink", *args)
    log = wait_until(lambda: stack.log(name), lambda text: STARTED in text, SECONDS, stack)
    return log.rsplit(STARTED, 1)[1].split()[0]


def stop(stack: Stack, name: str) -> None:
    popen = stack.processes.pop(name)
    stack.started.stop([p for p in stack.started.procs if p.popen is popen])
    assert popen.returncode == 0, stack.log(name)[-3000:]


def count_lines(path: Path, expected: int, stack: Stack) -> None:
    wait_until(lambda: len(lines(path)), lambda n: n >= expected, SECONDS, stack)
    assert len(lines(path)) == expected


@pytest.fixture
def stack(broker: EmbeddedBroker, tmp_path: Path) -> Iterator[Stack]:
    running = new_stack(broker.bootstrap, tmp_path / "data")
    try:
        yield running
    finally:
        running.stop_all()


async def test_a_second_jsonl_sink_with_another_path_gets_every_article(
    stack: Stack, tmp_path: Path
) -> None:
    first_file = stack.data_dir / "articles.jsonl"
    other_file = tmp_path / "other.jsonl"
    first_group = started(stack, "sink-first", "jsonl")
    await publish(stack, "articles.enriched", *articles(*range(9)))
    count_lines(first_file, 9, stack)

    other_group = started(stack, "sink-other", "jsonl", "--path", str(other_file))
    assert other_group != first_group
    await publish(stack, "articles.enriched", *articles(*range(9, 13)))
    count_lines(first_file, 13, stack)
    count_lines(other_file, 13, stack)
    # The same articles (in another order: partitions are read in parallel).
    assert sorted(str(line["article_id"]) for line in lines(other_file)) == sorted(
        str(line["article_id"]) for line in lines(first_file)
    )
    # Working sinks say what they do, a line per batch or interval, not per record.
    pattern = r"jsonl sink: wrote (\d+) articles? \((\d+) new\), lag \d+"
    log = wait_until(
        lambda: stack.log("sink-other"), lambda text: re.search(pattern, text), SECONDS, stack
    )
    assert sum(int(written) for written, _ in re.findall(pattern, log)) <= 13

    # Restarted, the same destination keeps its group: it resumes after what it stored.
    stop(stack, "sink-other")
    before = len(stack.log("sink-other"))
    assert started(stack, "sink-other", "jsonl", "--path", str(other_file)) == other_group
    await publish(stack, "articles.enriched", *articles(13))
    count_lines(other_file, 14, stack)
    count_lines(first_file, 14, stack)
    after_restart = wait_until(
        lambda: stack.log("sink-other")[before:],
        lambda text: "jsonl sink: wrote 1 article (1 new), lag 0" in text,
        SECONDS,
        stack,
    )
    assert re.findall(r"wrote \d+ articles?", after_restart) == ["wrote 1 article"]


async def test_dead_letters_are_kept_once_in_the_data_dir(stack: Stack) -> None:
    kept = stack.data_dir / "deadletters.jsonl"
    started(stack, "sink-jsonl", "jsonl")
    started(stack, "sink-deadletters", "deadletters")
    letter = DeadLetter.model_validate(
        {
            "event_id": "watch-bad-file",
            "stage": "watch",
            "reason": "invalid-json",
            "origin": {"kind": "file", "path": "broken.json"},
            "occurred_at": T0,
        }
    )
    await publish(stack, "articles.enriched", (b"junk", b"\xff not json"))
    await publish(stack, "deadletter", (b"a", encode(letter)), (b"a", encode(letter)))
    await publish(stack, "deadletter", (b"b", b"not a dead letter"))
    count_lines(kept, 3, stack)

    by_origin = {
        (str(line["origin"]["kind"]), str(line["origin"].get("topic", ""))): line  # type: ignore[index, union-attr]
        for line in lines(kept)
    }
    assert by_origin[("file", "")]["event_id"] == "watch-bad-file"
    refused = by_origin[("topic", stack.topic("articles.enriched"))]
    assert (refused["stage"], refused["reason"]) == ("decode", "invalid-json")
    # What is on the dead-letter topic but no dead letter is kept too, as its own dead letter.
    wrapped = by_origin[("topic", stack.topic("deadletter"))]
    assert (wrapped["stage"], wrapped["reason"]) == ("decode", "invalid-json")

    # Restarted, it resumes in its group; nothing is kept twice.
    stop(stack, "sink-deadletters")
    started(stack, "sink-deadletters", "deadletters")
    await publish(stack, "deadletter", (b"a", encode(letter)))
    await publish(stack, "articles.enriched", *articles(1))
    count_lines(stack.data_dir / "articles.jsonl", 1, stack)
    wait_until(
        lambda: stack.log("sink-deadletters"),
        lambda text: "deadletters sink: wrote 1 dead letter (0 new), lag 0" in text,
        SECONDS,
        stack,
    )
    assert len(lines(kept)) == 3


async def broker_topics(stack: Stack) -> set[str]:
    conn = KafkaConnection(bootstrap_servers=stack.env["NEWSSTREAM_BROKER"], is_tansu=True)
    consumer = new_consumer(conn, group_id=None)
    await consumer.start()
    try:
        return set(await consumer.topics())
    finally:
        await consumer.stop()


async def test_an_unknown_topic_is_refused_and_not_created(stack: Stack, tmp_path: Path) -> None:
    result = stack.cli(
        "sink", "jsonl", "--topic", "bogus.v2", "--path", str(tmp_path / "x.jsonl"), check=False
    )
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines()[-1] == (
        "Error: topic 'bogus.v2' does not exist on the broker"
    )
    assert stack.topic("articles.enriched") in await broker_topics(stack)
    assert "bogus.v2" not in await broker_topics(stack)
