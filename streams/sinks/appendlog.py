"""An append-only file of lines that one process writes: the machinery of the JSON Lines sinks.

``JsonlSink`` (articles) and ``DeadLetterSink`` (dead letters) keep different things in their
files and decide differently what to append, but they store it the same way, which lives here:

* ``open()`` creates the file (and its directory), takes an exclusive ``flock`` so one process
  writes it at a time, reads its complete lines once (the sink builds its index from them),
  truncates a *torn* last line (bytes without their ``\\n``, left by a crash mid-append: never
  acknowledged, so dropped; truncating keeps the next append off the fragment), and fsyncs the
  directory when the file is new.
* ``append()`` writes bytes with ``O_APPEND`` and fsyncs them: durable when it returns. If it
  raises, the file is cut back to its acknowledged size, so nothing of the failed call counts
  and a retry appends as if it had not happened; if even the cut-back fails, the next
  ``append`` does it first (and raises while it cannot), so nothing is ever appended after
  bytes that were never acknowledged.

Not thread-safe by itself: each sink calls it under its own lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable
from pathlib import Path

from streams.sinks.base import SinkError, SinkStateError

LineReader = Callable[[bytes, int, int], None]
"""Called by ``AppendLog.open`` with each complete line (``\\n`` included), its number (from 1)
and its offset in the file; raises (``SinkCorruptError``) to refuse the file."""


class AppendLog:
    """The open file of an append-only log: its descriptor and lock, and the acknowledged size
    (the bytes of complete lines, every one fsynced)."""

    def __init__(self, path: Path, log: logging.Logger) -> None:
        self.path = path
        self._log = log  # the sink's logger, so its warnings name the sink
        self._fd: int | None = None
        self.size = 0
        """Bytes acknowledged: the file's size after ``open`` and after each ``append``."""
        # Set while bytes of a failed append may remain past ``size``: the consumer loop
        # retries ``write`` without reopening the sink, so the next append removes them first.
        self._dirty = False

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self, read_line: LineReader) -> None:
        """Called by the sink's ``open()``: create, lock and read the file (``read_line`` for
        each complete line), truncate a torn last line (logging a warning) and, for a new file,
        fsync its directory. On return the file holds exactly ``size`` acknowledged bytes.

        Raises SinkError when another process holds the file, and whatever ``read_line``
        raises; on any error the file is closed and its lock released.
        """
        if self._fd is not None:
            raise SinkStateError(f"{self.path} is already open")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        # O_APPEND: every write lands at the end even if the size we track were stale.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SinkError(f"{self.path} is open in another writer") from None
            good_size = self._scan(read_line)
            file_size = os.fstat(fd).st_size
            if good_size < file_size:
                self._log.warning(
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
        self._fd, self.size, self._dirty = fd, good_size, False

    def _scan(self, read_line: LineReader) -> int:
        """Pass each complete line to ``read_line``; returns the size of those lines."""
        offset = 0
        with self.path.open("rb") as file:
            for lineno, line in enumerate(file, start=1):
                if not line.endswith(b"\n"):
                    break  # torn: only the last line can lack its newline
                read_line(line, lineno, offset)
                offset += len(line)
        return offset

    def append(self, data: bytes) -> None:
        """Called by the sink's ``write`` with a batch's lines: append and fsync them, durable
        on return (``size`` then counts them). If it raises, ``size`` is unchanged and the
        file is cut back to it (or will be, first thing in the next ``append``)."""
        fd = self._require_open()
        if self._dirty:
            self._cut_back(fd)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except BaseException:
            self._dirty = True
            try:
                self._cut_back(fd)
            except OSError:
                self._log.exception("%s: could not undo a failed write", self.path)
            raise
        self.size += len(data)

    def _cut_back(self, fd: int) -> None:
        """Remove what a failed append may have left past the acknowledged lines."""
        os.ftruncate(fd, self.size)
        os.fsync(fd)
        self._dirty = False

    def read(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer only if the file shrank under us)."""
        return os.pread(self._require_open(), length, offset)

    def close(self) -> None:
        """Called by the sink's ``close()``: close the file, releasing its lock (each returned
        ``append`` was durable already). Does nothing when not open."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.close(fd)

    def _require_open(self) -> int:
        if self._fd is None:
            raise SinkStateError(f"{self.path} is not open")
        return self._fd


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
