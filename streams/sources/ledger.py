"""The watcher's durable position: which inbox files were already handled, and how.

A file is recorded only after the broker acknowledged its event (acks=all), so after a crash
nothing is skipped; a file that is recorded is never published again, so nothing is doubled.
Every article id ever published from the inbox is kept too, so the same content under another
name, or an earlier version of an edited file, is recognised as a duplicate.

Versions: for each path the ledger keeps the article last published from it. When the file is
edited and its new content is published, the new article *supersedes* that one
(``last_published``), unless another file of the inbox still holds the same content.

The crash window between the broker's acknowledgement and the record is closed with *intents*:
before publishing, the watcher writes an intent per file (what it is about to publish and under
which Kafka key); the record that follows the acknowledgement deletes it in the same
transaction. Intents left over at start mean the watcher died in between: the watcher asks the
broker which of their keys the topics already hold (``FileWatcher.reconcile_with_broker``),
records those files as handled without publishing them again, and drops the other intents (those
files are handled again from scratch).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum, auto
from pathlib import Path
from typing import Any, Final

SCHEMA_VERSION: Final = 2
"""1: files and intents. 2: ``files.last_published`` and ``published_articles`` (edited files
supersede their earlier version); a version-1 ledger is upgraded in place at open."""


class Outcome(StrEnum):
    """What the watcher did with a file; the value (as stored) is the lower-case name."""

    PUBLISHED = auto()
    """Its article was published (its ``article_id`` counts for later duplicates)."""
    DUPLICATE = auto()
    """Its content was published already, from another file or earlier in its batch."""
    DEADLETTER = auto()
    """It was published as a dead letter (unreadable, unparseable, too large, a link ...)."""


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One version (size, mtime) of an inbox file, its content hash and what became of it."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    article_id: str | None
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Intent:
    """A file about to be published: its record-to-be and the Kafka key of its event."""

    record: FileRecord
    key: str


class Ledger:
    """SQLite ledger of one inbox; safe to call from several threads (one lock, short calls)."""

    def __init__(self, db_path: Path, inbox: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._inbox = str(inbox.resolve())
        self._lock = threading.Lock()
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._migrate()

    def _migrate(self) -> None:
        """Create the tables, or upgrade a ledger written by an earlier version, in one
        transaction (a crash half-way leaves the old ledger as it was)."""
        with self._transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            row = db.execute(
                "SELECT value FROM ledger_meta WHERE key = 'schema_version'"
            ).fetchone()
            version = 0 if row is None else int(row[0])
            db.execute(
                f"""CREATE TABLE IF NOT EXISTS files (
                    {_RECORD_COLUMNS}
                    recorded_at REAL NOT NULL,
                    PRIMARY KEY (inbox, path)
                )"""
            )
            db.execute(
                "CREATE INDEX IF NOT EXISTS files_article ON files (inbox, article_id, outcome)"
            )
            db.execute(
                f"""CREATE TABLE IF NOT EXISTS intents (
                    {_RECORD_COLUMNS}
                    kafka_key TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (inbox, path)
                )"""
            )
            if version < 2:
                # The article last published from each path, kept while later versions of the
                # file are duplicates or dead letters: what the next new version supersedes.
                columns = {r[1] for r in db.execute("PRAGMA table_info(files)")}
                if "last_published" not in columns:
                    db.execute("ALTER TABLE files ADD COLUMN last_published TEXT")
                db.execute(
                    """CREATE TABLE IF NOT EXISTS published_articles (
                        inbox TEXT NOT NULL,
                        article_id TEXT NOT NULL,
                        path TEXT NOT NULL,
                        recorded_at REAL NOT NULL,
                        PRIMARY KEY (inbox, article_id)
                    )"""
                )
                # Version 1 knew only each path's current version: that is all there is to keep.
                db.execute(
                    "UPDATE files SET last_published = article_id WHERE outcome = ?",
                    (Outcome.PUBLISHED.value,),
                )
                db.execute(
                    "INSERT OR IGNORE INTO published_articles"
                    " (inbox, article_id, path, recorded_at)"
                    " SELECT inbox, article_id, path, recorded_at FROM files WHERE outcome = ?",
                    (Outcome.PUBLISHED.value,),
                )
                db.execute(
                    "INSERT INTO ledger_meta (key, value) VALUES ('schema_version', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(SCHEMA_VERSION),),
                )

    def is_handled(self, path: str, size: int, mtime_ns: int) -> bool:
        """True when this exact version of the file (same size and mtime) was already handled."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM files WHERE inbox = ? AND path = ? AND size = ? AND mtime_ns = ?",
                (self._inbox, path, size, mtime_ns),
            ).fetchone()
        return row is not None

    def is_published(self, article_id: str) -> bool:
        """True when an article with this content id was ever published from this inbox (also
        from a file that was edited since)."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM published_articles WHERE inbox = ? AND article_id = ?",
                (self._inbox, article_id),
            ).fetchone()
        return row is not None

    def last_published(self, path: str) -> str | None:
        """The article id last published from ``path`` (its current version on the broker,
        whatever later versions of the file were: duplicates, dead letters); None if none."""
        with self._lock:
            row = self._db.execute(
                "SELECT last_published FROM files WHERE inbox = ? AND path = ?",
                (self._inbox, path),
            ).fetchone()
        return None if row is None else row[0]

    def holders(self, article_id: str, *, besides: str) -> list[FileRecord]:
        """The recorded files other than ``besides`` whose content (as recorded) is this
        article, published from them or found to be a duplicate; the caller checks that they
        are still there, unchanged."""
        with self._lock:
            rows = self._db.execute(
                "SELECT path, size, mtime_ns, sha256, article_id, outcome FROM files"
                " WHERE inbox = ? AND article_id = ? AND outcome IN (?, ?) AND path != ?",
                (
                    self._inbox,
                    article_id,
                    Outcome.PUBLISHED.value,
                    Outcome.DUPLICATE.value,
                    besides,
                ),
            ).fetchall()
        return [
            FileRecord(path, size, mtime, sha, article, Outcome(outcome))
            for path, size, mtime, sha, article, outcome in rows
        ]

    def record_intents(self, intents: Iterable[Intent]) -> None:
        """Durably note files about to be published, before the send (one fsynced transaction).

        Called by the watcher right before it publishes a batch; ``record`` deletes them.
        """
        now = time.time()
        rows = [(*self._row(i.record), i.key, now) for i in intents]
        if rows:
            with self._transaction() as db:
                db.executemany(_UPSERT_INTENT, rows)

    def intents(self) -> list[Intent]:
        """Intents left by a watcher that stopped between publishing and recording."""
        with self._lock:
            rows = self._db.execute(
                "SELECT path, size, mtime_ns, sha256, article_id, outcome, kafka_key"
                " FROM intents WHERE inbox = ? ORDER BY path",
                (self._inbox,),
            ).fetchall()
        return [
            Intent(FileRecord(path, size, mtime, sha, article, Outcome(outcome)), key)
            for path, size, mtime, sha, article, outcome, key in rows
        ]

    def drop_intents(self) -> int:
        """Forget every intent of this inbox (their files will be handled again); how many."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM intents WHERE inbox = ?", (self._inbox,))
        return cursor.rowcount

    def record(self, records: Iterable[FileRecord]) -> None:
        """Durably record handled files and delete their intents, all or none (one transaction,
        fsynced). A published file's article becomes its path's ``last_published`` and counts
        as published for good (``is_published``)."""
        now = time.time()
        rows = [(*self._row(r), now) for r in records]
        if rows:
            published = [
                (row[0], row[5], row[1], now) for row in rows if row[6] == Outcome.PUBLISHED.value
            ]
            with self._transaction() as db:
                db.executemany(
                    "DELETE FROM intents WHERE inbox = ? AND path = ?",
                    [(row[0], row[1]) for row in rows],
                )
                db.executemany(_UPSERT_FILE, rows)
                db.executemany(
                    "UPDATE files SET last_published = ? WHERE inbox = ? AND path = ?",
                    [(article, inbox, path) for inbox, article, path, _ in published],
                )
                db.executemany(
                    "INSERT OR IGNORE INTO published_articles (inbox, article_id, path,"
                    " recorded_at) VALUES (?, ?, ?, ?)",
                    published,
                )

    def count(self, outcome: Outcome | None = None) -> int:
        with self._lock:
            if outcome is None:
                row = self._db.execute(
                    "SELECT COUNT(*) FROM files WHERE inbox = ?", (self._inbox,)
                ).fetchone()
            else:
                row = self._db.execute(
                    "SELECT COUNT(*) FROM files WHERE inbox = ? AND outcome = ?",
                    (self._inbox, outcome.value),
                ).fetchone()
        return int(row[0])

    def forget_all(self) -> int:
        """Drop every record of this inbox (the broker lost its log); returns how many."""
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM files WHERE inbox = ?", (self._inbox,))
            db.execute("DELETE FROM intents WHERE inbox = ?", (self._inbox,))
            db.execute("DELETE FROM published_articles WHERE inbox = ?", (self._inbox,))
        return cursor.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _row(self, record: FileRecord) -> tuple[Any, ...]:
        """The leading columns of ``record``'s row, in ``_RECORD_COLUMNS``' order."""
        return (
            self._inbox,
            record.path,
            record.size,
            record.mtime_ns,
            record.sha256,
            record.article_id,
            record.outcome.value,
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, under the lock: committed (fsynced) if the block returns,
        rolled back if it raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")


_RECORD_COLUMNS: Final = """inbox TEXT NOT NULL,
                    path TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    mtime_ns INTEGER NOT NULL,
                    sha256 TEXT NOT NULL,
                    article_id TEXT,
                    outcome TEXT NOT NULL,"""
"""The columns ``files`` and ``intents`` share: a ``FileRecord`` of one inbox (``_row``)."""


def _upsert(table: str, *columns: str) -> str:
    """Insert a row of ``table`` (a record's columns, then ``columns``), or replace the row of
    the same inbox and path."""
    names = ("inbox", "path", "size", "mtime_ns", "sha256", "article_id", "outcome", *columns)
    # Only this module's table and column names go into the text; values are bound parameters.
    insert = f"INSERT INTO {table} ({', '.join(names)})"
    values = ", ".join("?" * len(names))
    updates = ", ".join(f"{name} = excluded.{name}" for name in names[2:])
    return f"{insert} VALUES ({values}) ON CONFLICT (inbox, path) DO UPDATE SET {updates}"


_UPSERT_INTENT: Final = _upsert("intents", "kafka_key", "created_at")
_UPSERT_FILE: Final = _upsert("files", "recorded_at")
