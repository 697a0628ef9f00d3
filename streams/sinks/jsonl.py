"""A JSON Lines file sink: an append-only log of enriched articles, one event per line.

File format
-----------
Each line is the canonical encoding of one ``ArticleEnriched`` event (``schemas.encode``, UTF-8
JSON, no newline inside) followed by ``\\n``. The file is a log, not a table: when an article is
re-enriched into a newer derivation, a new line is appended and the old one stays. **Readers
take the last line per ``article_id``**; each appended line is newer (by the rule in
``streams.sinks.base``) than every earlier line of its article, so that is the newest derivation.

Idempotency and memory
----------------------
A line is appended only when its event changes what is stored for its article, so a redelivered
event never produces a second line, and a duplicate inside one batch is written once. The sink
keeps an in-memory index of one entry per article: the ``event_id`` and ``enriched_at`` of the
article's last line and where that line lies in the file (offset, length). It holds ids,
timestamps and offsets only, never titles or bodies (``get`` reads the line back from the
file). The index is rebuilt at ``open()`` by reading the file once, line by line.

The same ``event_id`` appears twice in the file only when an article's derivations go
A -> B -> A with a later ``enriched_at`` for the second A (enrichers rolled back and the
article re-enriched): that line is needed so that readers taking the last line see A again.

Durability and crashes
----------------------
A batch's lines are written with one ``write`` and ``os.fsync``-ed before ``write`` returns
(and the directory is fsynced when the file is created). A crash in the middle of a batch can
leave a *torn* last line: bytes without the final ``\\n``. Such bytes were never acknowledged
(the ``\\n`` is written together with the line, and only an fsynced batch is acknowledged), so
``open()`` truncates them away, logging a warning, and the event comes again with the Kafka
redelivery. Truncating, rather than skipping, keeps the next append from being glued onto the
fragment. A complete line that is not a valid event is not guessed about: ``open()`` raises
SinkCorruptError naming the line.

One process writes a file at a time: ``open()`` takes an exclusive ``flock`` on it, released by
``close()``. Within the process, calls are serialised by a lock, so any thread may call.

The file handling (lock, torn-line truncation, append and cut-back) is ``streams.sinks.appendlog``,
shared with the dead-letter sink.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import ClassVar, NamedTuple

import orjson

from schemas import ArticleEnriched, DecodeError, decode, encode
from streams.sinks.appendlog import AppendLog
from streams.sinks.base import (
    Sink,
    SinkCorruptError,
    SinkStateError,
    WriteResult,
    newer,
)

log = logging.getLogger(__name__)


class _Entry(NamedTuple):
    """Where an article's last line is, and the key that orders its derivations."""

    enriched_at: datetime
    event_id: str
    offset: int
    length: int


class JsonlSink(Sink):
    """Appends enriched articles to a JSON Lines file; see the module docstring for the format."""

    name: ClassVar[str] = "jsonl"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file = AppendLog(self.path, log)
        self._index: dict[str, _Entry] = {}

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.path)!r})"

    def open(self) -> None:
        """Create the file (and its directory) if missing, lock it, and rebuild the index.

        A torn last line is truncated away (see the module docstring). Raises SinkError when
        another process holds the file, SinkCorruptError when a complete line is not a valid
        event, SinkStateError when already open.
        """
        with self._lock:
            if self._file.is_open:
                raise SinkStateError(f"{self!r} is already open")
            index: dict[str, _Entry] = {}

            def read_line(line: bytes, lineno: int, offset: int) -> None:
                article_id, event_id, enriched_at = _key_of_line(line, self.path, lineno)
                index[article_id] = _Entry(enriched_at, event_id, offset, len(line))

            self._file.open(read_line)
            self._index = index

    def write(self, batch: Sequence[ArticleEnriched]) -> WriteResult:
        """Append the batch's new derivations as lines and fsync them before returning.

        Events that change nothing append nothing; a batch that changes nothing neither writes
        nor fsyncs. On failure the file is truncated back to its size before the call, so the
        retry starts clean; if even that fails, the next ``write`` truncates first and raises
        again while it cannot (nothing is appended after bytes that were never acknowledged).
        """
        with self._lock:
            self._require_open()
            staged: dict[str, _Entry] = {}
            lines: list[bytes] = []
            inserted = updated = unchanged = 0
            offset = self._file.size
            for event in batch:
                current = staged.get(event.article_id)
                if current is None:
                    current = self._index.get(event.article_id)
                if current is None:
                    inserted += 1
                elif newer(
                    (event.enriched_at, event.event_id), (current.enriched_at, current.event_id)
                ):
                    updated += 1
                else:
                    unchanged += 1
                    continue
                line = encode(event) + b"\n"
                staged[event.article_id] = _Entry(
                    event.enriched_at, event.event_id, offset, len(line)
                )
                lines.append(line)
                offset += len(line)
            if lines:
                self._file.append(b"".join(lines))
                # Only now, durable, may the index say these events are stored: a failed
                # batch must not make its redelivery look like a duplicate.
                self._index.update(staged)
            return WriteResult(inserted, updated, unchanged)

    def close(self) -> None:
        """Close the file, releasing its lock; lines were fsynced by each ``write`` already."""
        with self._lock:
            self._file.close()
            self._index = {}

    def count(self) -> int:
        """Number of distinct articles in the file."""
        with self._lock:
            self._require_open()
            return len(self._index)

    def get(self, article_id: str) -> ArticleEnriched | None:
        """The article's last line, decoded, or None."""
        with self._lock:
            self._require_open()
            entry = self._index.get(article_id)
            if entry is None:
                return None
            data = self._file.read(entry.offset, entry.length)
        if len(data) != entry.length:
            raise SinkCorruptError(f"{self.path} shrank under the sink (offset {entry.offset})")
        return decode(data, ArticleEnriched)

    def _require_open(self) -> None:
        if not self._file.is_open:
            raise SinkStateError(f"{self!r} is not open")


def _key_of_line(line: bytes, path: Path, lineno: int) -> tuple[str, str, datetime]:
    """The article id, event id and enriched_at of one line.

    Only these fields are read (not a full validation) so that rebuilding the index of a large
    file stays fast; every line was validated as an event when it was written.
    """
    try:
        raw = orjson.loads(line)
        if not isinstance(raw, dict) or raw.get("event_type") != "ArticleEnriched":
            raise DecodeError("wrong-event-type", "not an ArticleEnriched object")
        article_id, event_id, enriched_at = raw["article_id"], raw["event_id"], raw["enriched_at"]
        if not (
            isinstance(article_id, str)
            and isinstance(event_id, str)
            and isinstance(enriched_at, str)
        ):
            raise DecodeError("invalid-event", "article_id, event_id, enriched_at must be strings")
        when = datetime.fromisoformat(enriched_at)
        if when.tzinfo is None:
            raise DecodeError("invalid-event", "enriched_at has no UTC offset")
    except (KeyError, ValueError) as exc:  # JSONDecodeError and DecodeError are ValueErrors
        raise SinkCorruptError(
            f"{path}:{lineno}: not a valid ArticleEnriched line: {exc}"
        ) from None
    return article_id, event_id, when
