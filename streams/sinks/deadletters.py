"""The dead-letter sink: every ``DeadLetter`` of ``news.deadletter`` kept in a JSON Lines file.

Dead letters are the failures a user has to look at (a bad file, an article an enricher or a
sink refused). The topic keeps them only as long as the broker does (the embedded broker: until
it stops), so ``newsstream up`` and ``newsstream sink deadletters`` keep them in the data dir
(``deadletters.jsonl``), fed by the same ``SinkRunner`` as the article sinks.

File format
-----------
Each line is the canonical encoding of one ``DeadLetter`` event (``schemas.encode``) followed by
``\\n``, in the order the sink received them. A dead letter is never updated: the file holds
each ``event_id`` once, the first copy received (a redelivered record is dead-lettered again
with the same ``event_id`` and a later ``occurred_at``; that copy adds nothing).

Idempotency, durability, crashes
--------------------------------
The sink keeps the set of the event ids in the file (rebuilt at ``open()`` by reading it once);
``write`` appends only events whose id is not in it, with one ``write`` and an ``os.fsync``
before it returns (the directory is fsynced when the file is created). A crash mid-batch can
leave a torn last line (bytes without their ``\\n``): never acknowledged, so ``open()``
truncates it away and the records come again with the Kafka redelivery. A complete line that
is not a ``DeadLetter`` raises ``SinkCorruptError`` naming it. ``open()`` takes an exclusive
``flock`` on the file, so one process writes it at a time. The file handling is
``streams.sinks.appendlog``, as for the JSON Lines article sink.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import orjson

from schemas import DeadLetter, encode
from streams.resources import Resource
from streams.sinks.appendlog import AppendLog
from streams.sinks.base import SinkCorruptError, SinkStateError, WriteResult

log = logging.getLogger(__name__)


class DeadLetterSink(Resource):
    """Appends dead letters to a JSON Lines file, once per ``event_id``; see the module
    docstring. Any thread may call its methods: a lock serialises them."""

    name: ClassVar[str] = "deadletters"
    """The kind of sink, for logs and for the ``consumer`` of its own dead letters."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file = AppendLog(self.path, log)
        self._ids: set[str] = set()

    def __repr__(self) -> str:
        return f"DeadLetterSink({str(self.path)!r})"

    def open(self) -> None:
        """Called once before the first ``write``: create the file (and its directory) if
        missing, lock it, drop a torn last line, and read the stored event ids.

        Raises SinkError when another process holds the file, SinkCorruptError when a complete
        line is not a dead letter, SinkStateError when already open.
        """
        with self._lock:
            if self._file.is_open:
                raise SinkStateError(f"{self!r} is already open")
            ids: set[str] = set()

            def read_line(line: bytes, lineno: int, offset: int) -> None:
                ids.add(_event_id_of_line(line, self.path, lineno))

            self._file.open(read_line)
            self._ids = ids

    def write(self, batch: Sequence[DeadLetter]) -> WriteResult:
        """Called with each batch of dead letters, in topic order: append those whose event id
        the file does not hold, fsynced before returning (durable on return).

        Returns ``inserted`` (appended) and ``unchanged`` (held already, or twice in the batch).
        If it raises, nothing of the batch counts as stored: the file is cut back to its
        acknowledged lines, and a retry appends them as if the failed call had not happened.
        """
        with self._lock:
            self._require_open()
            fresh: dict[str, bytes] = {}
            for letter in batch:
                if letter.event_id not in self._ids and letter.event_id not in fresh:
                    fresh[letter.event_id] = encode(letter) + b"\n"
            if fresh:
                self._file.append(b"".join(fresh.values()))
                self._ids.update(fresh)
            return WriteResult(inserted=len(fresh), unchanged=len(batch) - len(fresh))

    def close(self) -> None:
        """Called once when the consumer stops: release the file and its lock (every returned
        ``write`` is durable already). Calling it again, or before ``open``, does nothing."""
        with self._lock:
            self._file.close()
            self._ids = set()

    def count(self) -> int:
        """Number of dead letters (distinct event ids) in the file."""
        with self._lock:
            self._require_open()
            return len(self._ids)

    def _require_open(self) -> None:
        if not self._file.is_open:
            raise SinkStateError(f"{self!r} is not open")


def _event_id_of_line(line: bytes, path: Path, lineno: int) -> str:
    """The event id of one stored line (only the fields needed; lines were validated when
    they were written)."""
    try:
        raw = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise SinkCorruptError(f"{path}:{lineno}: not JSON: {exc}") from None
    if not isinstance(raw, dict) or raw.get("event_type") != "DeadLetter":
        raise SinkCorruptError(f"{path}:{lineno}: not a DeadLetter line")
    event_id = raw.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise SinkCorruptError(f"{path}:{lineno}: not a DeadLetter line")
    return event_id
