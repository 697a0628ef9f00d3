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
``flock`` on the file, so one process writes it at a time.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import orjson

from schemas import DeadLetter, encode
from streams.resources import Resource
from streams.sinks.base import SinkCorruptError, SinkError, SinkStateError, WriteResult

log = logging.getLogger(__name__)


class DeadLetterSink(Resource):
    """Appends dead letters to a JSON Lines file, once per ``event_id``; see the module
    docstring. Any thread may call its methods: a lock serialises them."""

    name: ClassVar[str] = "deadletters"
    """The kind of sink, for logs and for the ``consumer`` of its own dead letters."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._ids: set[str] = set()
        # Bytes of acknowledged lines; a failed write is cut back to it before the next one.
        self._size = 0

    def __repr__(self) -> str:
        return f"DeadLetterSink({str(self.path)!r})"

    def open(self) -> None:
        """Called once before the first ``write``: create the file (and its directory) if
        missing, lock it, drop a torn last line, and read the stored event ids.

        Raises SinkError when another process holds the file, SinkCorruptError when a complete
        line is not a dead letter, SinkStateError when already open.
        """
        with self._lock:
            if self._fd is not None:
                raise SinkStateError(f"{self!r} is already open")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise SinkError(f"{self.path} is open in another writer") from None
                ids, good_size = self._scan()
                file_size = os.fstat(fd).st_size
                if good_size < file_size:
                    log.warning(
                        "%s: truncating a torn last line (%d bytes) left by an interrupted write",
                        self.path,
                        file_size - good_size,
                    )
                    os.ftruncate(fd, good_size)
                    os.fsync(fd)
                if created:
                    _fsync_directory(self.path.parent)
            except BaseException:
                os.close(fd)
                raise
            self._fd, self._ids, self._size = fd, ids, good_size

    def _scan(self) -> tuple[set[str], int]:
        ids: set[str] = set()
        size = 0
        with self.path.open("rb") as file:
            for lineno, line in enumerate(file, start=1):
                if not line.endswith(b"\n"):
                    break  # torn: only the last line can lack its newline
                ids.add(_event_id_of_line(line, self.path, lineno))
                size += len(line)
        return ids, size

    def write(self, batch: Sequence[DeadLetter]) -> WriteResult:
        """Called with each batch of dead letters, in topic order: append those whose event id
        the file does not hold, fsynced before returning (durable on return).

        Returns ``inserted`` (appended) and ``unchanged`` (held already, or twice in the batch).
        If it raises, nothing of the batch counts as stored: the file is cut back to its
        acknowledged lines, and a retry appends them as if the failed call had not happened.
        """
        with self._lock:
            fd = self._require_open()
            if os.fstat(fd).st_size != self._size:
                # Left by a failed write: never acknowledged, so not kept.
                os.ftruncate(fd, self._size)
            fresh: dict[str, bytes] = {}
            for letter in batch:
                if letter.event_id not in self._ids and letter.event_id not in fresh:
                    fresh[letter.event_id] = encode(letter) + b"\n"
            if fresh:
                data = b"".join(fresh.values())
                try:
                    _write_all(fd, data)
                    os.fsync(fd)
                except BaseException:
                    try:
                        os.ftruncate(fd, self._size)
                    except OSError:
                        log.exception("%s: could not undo a failed write", self.path)
                    raise
                self._size += len(data)
                self._ids.update(fresh)
            return WriteResult(inserted=len(fresh), unchanged=len(batch) - len(fresh))

    def close(self) -> None:
        """Called once when the consumer stops: release the file and its lock (every returned
        ``write`` is durable already). Calling it again, or before ``open``, does nothing."""
        with self._lock:
            if self._fd is None:
                return
            fd, self._fd = self._fd, None
            self._ids = set()
            os.close(fd)

    def count(self) -> int:
        """Number of dead letters (distinct event ids) in the file."""
        with self._lock:
            self._require_open()
            return len(self._ids)

    def _require_open(self) -> int:
        if self._fd is None:
            raise SinkStateError(f"{self!r} is not open")
        return self._fd


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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_directory(directory: Path) -> None:
    """Make a newly created file's directory entry durable (fsync of the file alone is not)."""
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
