"""JsonlSink: the sink contract, plus the log format, crash recovery and fsync behaviour."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from schemas import ArticleEnriched, decode, encode
from streams.sinks import JsonlSink, Sink, SinkCorruptError, SinkError, SinkStateError, WriteResult
from tests.support.sink_contract import (
    T0,
    UNICODE,
    FileSinkContract,
    SinkFactory,
    make_event,
)


def _lines(path: Path) -> list[ArticleEnriched]:
    return [decode(line, ArticleEnriched) for line in path.read_bytes().splitlines(keepends=False)]


class TestJsonlSink(FileSinkContract):
    sink_type = JsonlSink
    file_name = "articles.jsonl"

    def stored_state(self, sink: Sink) -> object:
        assert isinstance(sink, JsonlSink)
        return sink.path.read_bytes()

    @pytest.fixture
    def sink(self, open_sink: Callable[..., Sink]) -> JsonlSink:
        sink = open_sink()
        assert isinstance(sink, JsonlSink)
        return sink

    @pytest.fixture
    def kept(self, sink: JsonlSink) -> ArticleEnriched:
        """An event written (and so acknowledged) before the test's own writes."""
        kept = make_event("nos-2024-0001")
        sink.write([kept])
        return kept

    # --- format ----------------------------------------------------------------------------

    def test_one_canonical_line_per_event(self, sink: JsonlSink) -> None:
        first = make_event("nos-2024-0001")
        second = make_event("nos-2024-0002", text=UNICODE)

        sink.write([first, second])

        # The body's newline and U+2028 stay inside their JSON string: still two lines.
        assert sink.path.read_bytes() == encode(first) + b"\n" + encode(second) + b"\n"

    def test_newer_derivation_appends_and_the_last_line_wins(self, sink: JsonlSink) -> None:
        old = make_event(version="1.0", enriched_at=T0)
        new = make_event(version="2.0", enriched_at=T0 + timedelta(hours=1))

        sink.write([old])
        sink.write([new, old])

        assert _lines(sink.path) == [old, new]
        assert sink.get(old.article_id) == new

    def test_directory_is_created(self, tmp_path: Path) -> None:
        with JsonlSink(tmp_path / "deep" / "er" / "articles.jsonl") as sink:
            sink.write([make_event()])
            assert sink.count() == 1

    # --- crashes ---------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "fragment",
        [
            pytest.param(lambda line: line[: len(line) // 2], id="half-a-line"),
            pytest.param(lambda line: line, id="whole-line-without-newline"),
            pytest.param(lambda line: b"\0" * len(line), id="unwritten-zeros"),
        ],
    )
    def test_torn_last_line_is_truncated_away(
        self,
        open_sink: Callable[..., Sink],
        path: Path,
        fragment: Callable[[bytes], bytes],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        kept = make_event("nos-2024-0001")
        torn = make_event("nos-2024-0002", text=UNICODE)
        sink = open_sink()
        sink.write([kept])
        sink.close()
        acknowledged = path.read_bytes()
        with path.open("ab") as file:
            file.write(fragment(encode(torn)))

        with caplog.at_level(logging.WARNING, logger="streams.sinks.jsonl"):
            recovered = open_sink()

        assert path.read_bytes() == acknowledged
        assert "torn last line" in caplog.text
        assert recovered.count() == 1
        assert recovered.get(torn.article_id) is None
        # Kafka redelivers the unacknowledged batch; it lands on a clean line boundary.
        assert recovered.write([kept, torn]) == WriteResult(inserted=1, unchanged=1)
        assert _lines(path) == [kept, torn]

    def test_a_damaged_complete_line_is_refused_not_guessed(
        self, make_sink: SinkFactory, tmp_path: Path, path: Path
    ) -> None:
        good = make_event("nos-2024-0001")
        with make_sink(tmp_path) as sink:
            sink.write([good])
        acknowledged = path.read_bytes()
        with path.open("ab") as file:
            file.write(b'{"event_type": "ArticleEnriched", "article_id": "x"}\n')
            file.write(encode(make_event("nos-2024-0002")) + b"\n")

        damaged = make_sink(tmp_path)
        with pytest.raises(SinkCorruptError, match=r"articles\.jsonl:2:"):
            damaged.open()
        with pytest.raises(SinkStateError):
            damaged.count()

        # The failed open released its lock and file: after a repair the file opens again.
        path.write_bytes(acknowledged)
        with make_sink(tmp_path) as repaired:
            assert repaired.get(good.article_id) == good

    @pytest.mark.parametrize("line", [b"\n", b"[1, 2]\n", b"not json\n"])
    def test_lines_that_are_no_event_are_damage(
        self, make_sink: SinkFactory, tmp_path: Path, path: Path, line: bytes
    ) -> None:
        path.write_bytes(encode(make_event()) + b"\n" + line)
        with pytest.raises(SinkCorruptError):
            make_sink(tmp_path).open()

    def test_a_second_writer_is_refused(self, sink: Sink, path: Path) -> None:
        other = JsonlSink(path)
        with pytest.raises(SinkError, match="another writer"):
            other.open()

        assert sink.write([make_event()]) == WriteResult(inserted=1)

    # --- durability ------------------------------------------------------------------------

    def test_each_changing_batch_is_fsynced_before_write_returns(
        self, sink: JsonlSink, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        synced: list[bytes] = []
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            synced.append(sink.path.read_bytes())
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        first = make_event("nos-2024-0001")
        second = make_event("nos-2024-0002")

        sink.write([first, second])
        sink.write([first])  # changes nothing: no write, no fsync
        sink.write([])

        assert synced == [encode(first) + b"\n" + encode(second) + b"\n"]

    def test_a_failed_fsync_leaves_nothing_behind(
        self, sink: JsonlSink, kept: ArticleEnriched, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        acknowledged = sink.path.read_bytes()
        real_fsync = os.fsync
        failures = [OSError(errno.EIO, "I/O error")]

        def fsync(fd: int) -> None:
            if failures:
                raise failures.pop()
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
        batch = [make_event("nos-2024-0002"), make_event("nos-2024-0003")]

        with pytest.raises(OSError, match="I/O error"):
            sink.write(batch)

        assert sink.path.read_bytes() == acknowledged
        assert sink.count() == 1
        # The retry is not mistaken for a redelivery of something stored.
        assert sink.write(batch) == WriteResult(inserted=2)
        assert _lines(sink.path) == [kept, *batch]

    def test_leftovers_of_a_failure_that_could_not_be_undone_are_removed_by_the_retry(
        self, sink: JsonlSink, kept: ArticleEnriched, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        acknowledged = sink.path.read_bytes()
        batch = [make_event("nos-2024-0002")]

        def fail(*args: object) -> None:
            raise OSError(errno.EIO, "I/O error")

        monkeypatch.setattr(os, "fsync", fail)
        monkeypatch.setattr(os, "ftruncate", fail)
        with pytest.raises(OSError, match="I/O error"):
            sink.write(batch)
        assert sink.path.read_bytes() == acknowledged + encode(batch[0]) + b"\n"
        assert sink.count() == 1
        # While the disk still fails, the retry fails too, before appending anything.
        with pytest.raises(OSError, match="I/O error"):
            sink.write(batch)
        monkeypatch.undo()

        assert sink.write(batch) == WriteResult(inserted=1)
        assert _lines(sink.path) == [kept, *batch]
