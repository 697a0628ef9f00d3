"""The loop between the enriched topic and a sink: what is stored, dead-lettered, or kept."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka.structs import ConsumerRecord

from schemas import ArticleEnriched, DeadLetter, encode
from schemas.deadletters import Record
from streams.sinks.base import WriteResult
from streams.sinks.deadletters import DeadLetterSink
from streams.sinks.runner import SinkRunner, SinkRunnerConfig
from streams.sinks.sqlite import SqliteSink
from tests.support.sink_contract import T0, make_event

FAST = SinkRunnerConfig(retry_initial_seconds=0.01, retry_max_seconds=0.02)


class RefusingSink(SqliteSink):
    """A real SQLite sink with a fault injected: it refuses batches holding one article, and
    can be taken down altogether (like a database that is restarting)."""

    def __init__(self, path: Path, refused: str | None = None) -> None:
        super().__init__(path)
        self.refused = refused
        self.down = False

    def write(self, batch: Sequence[ArticleEnriched]) -> WriteResult:
        if self.down:
            raise ConnectionError("database is restarting")
        if any(e.article_id == self.refused for e in batch):
            raise ValueError(f"cannot store {self.refused}")
        return super().write(batch)

    def count(self) -> int:
        if self.down:
            raise ConnectionError("database is restarting")
        return super().count()


def rec(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="news.articles.enriched",
        partition=1,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value),
        headers=[],
    )


class Letters:
    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []

    async def __call__(self, letters: Sequence[DeadLetter]) -> None:
        self.sent.extend(letters)


class Feed:
    """The runner's ``RecordFeed``: serves the given batches, then sets ``stop``; records what
    the sink and the dead letters held when each commit came."""

    def __init__(
        self, *batches: list[ConsumerRecord[bytes, bytes]], stop_when_done: bool = True
    ) -> None:
        self.batches = list(batches)
        self.stop_when_done = stop_when_done
        self.stop = asyncio.Event()
        self.sink: SqliteSink | None = None
        self.letters: Letters | None = None
        self.commits: list[tuple[list[int], int, int]] = []

    async def next_batch(
        self, max_records: int, timeout_seconds: float
    ) -> list[ConsumerRecord[bytes, bytes]]:
        if not self.batches:
            if self.stop_when_done:
                self.stop.set()
            return []
        return self.batches.pop(0)

    async def commit(self, records: Sequence[Record]) -> None:
        assert self.sink is not None
        assert self.letters is not None
        self.commits.append(
            ([r.offset for r in records], self.sink.count(), len(self.letters.sent))
        )

    async def lag(self) -> int | None:
        """The records still to serve, as the broker would count them."""
        return sum(len(batch) for batch in self.batches)


async def test_a_batch_is_committed_once_stored_and_dead_lettered(tmp_path: Path) -> None:
    feed = Feed(
        [rec(1, encode(make_event("a"))), rec(2, b"not json")],
        [rec(3, encode(make_event("b")))],
    )
    feed.sink = sink = RefusingSink(tmp_path / "a.sqlite3")
    feed.letters = letters = Letters()
    with sink:
        await asyncio.wait_for(
            SinkRunner(ArticleEnriched, sink, feed, letters, FAST).run(feed.stop), 5
        )
    assert feed.commits == [([1, 2], 1, 1), ([3], 2, 1)]


async def test_undecodable_and_refused_events_are_dead_lettered_the_rest_stored(
    tmp_path: Path,
) -> None:
    sink = RefusingSink(tmp_path / "a.sqlite3", refused="bad-article")
    letters = Letters()
    with sink:
        runner = SinkRunner(ArticleEnriched, sink, Feed(), letters, FAST)
        await runner.handle(
            [
                rec(1, encode(make_event("good-1"))),
                rec(2, b"not json"),
                rec(3, encode(make_event("bad-article"))),
                rec(4, encode(make_event("good-2"))),
            ]
        )
        assert sink.count() == 2
        assert sink.get("bad-article") is None
    stages = {(d.stage.value, d.reason, d.origin.offset) for d in letters.sent}  # type: ignore[union-attr]
    assert stages == {("decode", "invalid-json", 2), ("sink", "sink-rejected", 3)}
    refused = next(d for d in letters.sent if d.stage.value == "sink")
    assert "cannot store bad-article" in refused.detail


async def test_a_sink_that_is_down_keeps_the_batch_until_it_is_back(tmp_path: Path) -> None:
    sink = RefusingSink(tmp_path / "a.sqlite3")
    letters = Letters()
    with sink:
        sink.down = True
        runner = SinkRunner(ArticleEnriched, sink, Feed(), letters, FAST)
        task = asyncio.create_task(runner.handle([rec(1, encode(make_event("kept")))]))
        await asyncio.sleep(0.3)
        assert not task.done()  # nothing given up, nothing dead-lettered
        assert letters.sent == []
        sink.down = False
        await asyncio.wait_for(task, 2)
        assert sink.get("kept") is not None
    assert letters.sent == []


async def test_progress_is_logged_per_interval_not_per_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    newer = make_event("a", version="2.0", enriched_at=T0 + timedelta(hours=1))
    feed = Feed(
        [rec(1, encode(make_event("a"))), rec(2, b"not json")],
        [rec(3, encode(make_event("b")))],
        [rec(4, encode(newer)), rec(5, encode(make_event("b")))],
    )
    feed.sink = sink = RefusingSink(tmp_path / "a.sqlite3")
    feed.letters = letters = Letters()
    hourly = SinkRunnerConfig(retry_initial_seconds=0.01, report_seconds=3600)
    with sink, caplog.at_level(logging.INFO, logger="streams.sinks.runner"):
        runner = SinkRunner(ArticleEnriched, sink, feed, letters, hourly)
        await asyncio.wait_for(runner.run(feed.stop), 5)
    # The first batch at once (with the records still to come as its lag), the rest together.
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        "sqlite sink: wrote 1 article (1 new), 1 dead-lettered, lag 3",
        "sqlite sink: wrote 3 articles (1 new, 1 updated), stopping",
    ]


async def test_a_finishing_runner_returns_once_it_stored_everything(tmp_path: Path) -> None:
    feed = Feed(
        [rec(1, encode(make_event("a")))],
        [],  # a fetch that came back empty while records remain: not done yet
        [rec(2, encode(make_event("b")))],
        stop_when_done=False,
    )
    feed.sink = sink = RefusingSink(tmp_path / "a.sqlite3")
    feed.letters = letters = Letters()
    finish = asyncio.Event()
    finish.set()
    with sink:
        runner = SinkRunner(ArticleEnriched, sink, feed, letters, FAST)
        await asyncio.wait_for(runner.run(feed.stop, finish), 5)
        assert sink.count() == 2
    assert not feed.stop.is_set()
    assert [offsets for offsets, _, _ in feed.commits] == [[1], [2]]


async def test_dead_letters_are_stored_and_what_is_none_is_handed_on(tmp_path: Path) -> None:
    letter = DeadLetter.model_validate(
        {
            "event_id": "d1",
            "stage": "enrich",
            "reason": "enricher-failed",
            "origin": {"kind": "topic", "topic": "news.articles.raw", "partition": 0, "offset": 7},
            "occurred_at": T0,
        }
    )
    letters = Letters()
    with DeadLetterSink(tmp_path / "deadletters.jsonl") as sink:
        runner = SinkRunner(DeadLetter, sink, Feed(), letters, FAST)
        await runner.handle([rec(1, encode(letter)), rec(2, encode(make_event("a")))])
        assert sink.count() == 1
    [handed_on] = letters.sent
    assert (handed_on.stage.value, handed_on.reason) == ("decode", "wrong-event-type")
    assert handed_on.detail.startswith("deadletters sink: ")
