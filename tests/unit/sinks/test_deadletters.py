"""The dead-letter sink: each dead letter once in a JSON Lines file, durable, whatever the
redeliveries, crashes and second writers."""

from __future__ import annotations

import base64
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from schemas import DeadLetter, DeadLetterStage, decode, encode
from schemas.events import FileOrigin, TopicOrigin
from streams.sinks.base import SinkCorruptError, SinkError, SinkStateError, WriteResult
from streams.sinks.deadletters import DeadLetterSink

T0 = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)


def letter(n: int, *, later: int = 0) -> DeadLetter:
    """Dead letter ``n``; ``later`` makes the copy a redelivery would give (same id)."""
    return DeadLetter(
        event_id=f"letter-{n:03d}",
        stage=DeadLetterStage.DECODE,
        reason="invalid-json",
        detail=f"record {n} is not JSON",
        origin=TopicOrigin(topic="news.articles.enriched", partition=0, offset=n, key="k"),
        payload_b64=base64.b64encode(b"\xff not json").decode(),
        occurred_at=T0 + timedelta(seconds=later),
    )


def stored(path: Path) -> list[DeadLetter]:
    return [decode(line, DeadLetter) for line in path.read_bytes().splitlines()]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "deadletters.jsonl"


def test_each_dead_letter_is_kept_once_whatever_the_redeliveries(path: Path) -> None:
    with DeadLetterSink(path) as sink:
        assert sink.write([letter(1), letter(2), letter(1)]) == WriteResult(inserted=2, unchanged=1)
        assert sink.write([letter(2, later=5), letter(3)]) == WriteResult(inserted=1, unchanged=1)
        assert sink.count() == 3
    # Reopened (a restart), the redelivered batch adds nothing: the first copy stays.
    with DeadLetterSink(path) as again:
        assert again.write([letter(1, later=9), letter(3, later=9)]) == WriteResult(unchanged=2)
    assert stored(path) == [letter(1), letter(2), letter(3)]


def test_file_dead_letters_and_their_bytes_survive_as_written(path: Path) -> None:
    file_letter = DeadLetter(
        event_id="watch-1",
        stage=DeadLetterStage.WATCH,
        reason="unsupported-extension",
        detail="only .txt and .json",
        origin=FileOrigin(path="notes.docx", size=3, sha256="a" * 64),
        payload_b64=base64.b64encode(b"abc").decode(),
        occurred_at=T0,
    )
    with DeadLetterSink(path) as sink:
        sink.write([file_letter])
    assert path.read_bytes() == encode(file_letter) + b"\n"


def test_an_empty_batch_changes_nothing(path: Path) -> None:
    with DeadLetterSink(path) as sink:
        assert sink.write([]) == WriteResult()
    assert path.read_bytes() == b""


def test_a_torn_last_line_is_dropped_and_redelivered(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with DeadLetterSink(path) as sink:
        sink.write([letter(1)])
    acknowledged = path.read_bytes()
    with path.open("ab") as file:
        file.write(encode(letter(2))[:40])
    with caplog.at_level(logging.WARNING, logger="streams.sinks.deadletters"):
        recovered = DeadLetterSink(path)
        recovered.open()
    try:
        assert path.read_bytes() == acknowledged
        assert "torn last line" in caplog.text
        assert recovered.write([letter(1), letter(2)]) == WriteResult(inserted=1, unchanged=1)
    finally:
        recovered.close()
    assert stored(path) == [letter(1), letter(2)]


@pytest.mark.parametrize(
    "line",
    [b"not json\n", b"[1]\n", b'{"event_type": "ArticleEnriched", "event_id": "x"}\n'],
)
def test_a_complete_line_that_is_no_dead_letter_is_refused(path: Path, line: bytes) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(encode(letter(1)) + b"\n" + line)
    damaged = DeadLetterSink(path)
    with pytest.raises(SinkCorruptError, match=r"deadletters\.jsonl:2"):
        damaged.open()
    with pytest.raises(SinkStateError):
        damaged.count()


def test_one_writer_at_a_time(path: Path) -> None:
    with DeadLetterSink(path), pytest.raises(SinkError, match="another writer"):
        DeadLetterSink(path).open()


def test_a_failed_write_leaves_nothing_and_the_retry_stores_the_batch(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with DeadLetterSink(path) as sink:
        sink.write([letter(1)])

        def no_space(fd: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fsync", no_space)
        with pytest.raises(OSError, match="No space"):
            sink.write([letter(2)])
        monkeypatch.undo()
        assert [orjson.loads(x)["event_id"] for x in path.read_bytes().splitlines()] == [
            "letter-001"
        ]
        assert sink.write([letter(2)]) == WriteResult(inserted=1)
    assert stored(path) == [letter(1), letter(2)]
