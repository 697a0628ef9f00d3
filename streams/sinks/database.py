"""What the SQL sinks share: one connection behind the sink's lock, and the article's columns.

``SqliteSink`` and ``PostgresSink`` differ in their SQL, their migrations and how a batch is
written; the life cycle around that is one: ``open`` makes the connection (the subclass's
``_connect``, which leaves nothing open when it raises), every call holds the sink's lock and
refuses to run unless the sink is open, ``write`` of an empty batch does nothing, ``close``
closes the connection once. Both store an article's fields in columns of the same names
(:func:`article_columns`), each adding the columns only it has, tell an article's entities
apart alike (:func:`entity_key`) and store its quotes in rows of one shape (:func:`quote_rows`).
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import orjson

from schemas import ArticleEnriched, Entity, decode, encode
from streams.sinks.base import Sink, SinkStateError, WriteResult


class _Cursor(Protocol):
    def fetchone(self) -> Any: ...


class Connection(Protocol):
    """The part of a DB-API connection (``sqlite3``, ``psycopg``) the shared code uses."""

    def execute(self, query: str, params: tuple[str] = ..., /) -> _Cursor: ...

    def close(self) -> None: ...


ConnectionT = TypeVar("ConnectionT", bound=Connection)


class DatabaseSink(Sink, Generic[ConnectionT]):
    """A sink over one database connection with an ``articles`` table (one row per article,
    the whole event in its ``event`` column)."""

    _SELECT_EVENT: ClassVar[str]
    """The ``event`` column of one article as text, the article id its one parameter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: ConnectionT | None = None

    @abstractmethod
    def _connect(self) -> ConnectionT:
        """A new connection to a database of this code's schema; called by ``open``, under the
        lock. Raises SinkError when that cannot be had, and then leaves nothing open."""

    @abstractmethod
    def _write(self, conn: ConnectionT, batch: Sequence[ArticleEnriched]) -> WriteResult:
        """Store a non-empty batch in one transaction, committed before returning; called by
        ``write``, under the lock. On any error nothing of the batch is stored."""

    def open(self) -> None:
        """Connect, and create or migrate the schema (see the subclass's ``_connect``).

        Raises SinkError when the database cannot be used, SinkStateError when already open.
        """
        with self._lock:
            if self._conn is not None:
                raise SinkStateError(f"{self!r} is already open")
            self._conn = self._connect()

    def write(self, batch: Sequence[ArticleEnriched]) -> WriteResult:
        """Upsert the batch in one transaction (see the subclass's ``_write``)."""
        with self._lock:
            conn = self._require_open()
            if not batch:
                return WriteResult()
            return self._write(conn, batch)

    def close(self) -> None:
        """Close the connection; nothing to do when it is not open."""
        with self._lock:
            if self._conn is None:
                return
            conn, self._conn = self._conn, None
            conn.close()

    def count(self) -> int:
        """Number of rows in ``articles``."""
        with self._lock:
            conn = self._require_open()
            row = conn.execute("SELECT count(*) FROM articles").fetchone()
            return int(row[0]) if row else 0

    def get(self, article_id: str) -> ArticleEnriched | None:
        """The stored event of the article (decoded from the ``event`` column), or None."""
        with self._lock:
            conn = self._require_open()
            row = conn.execute(self._SELECT_EVENT, (article_id,)).fetchone()
        return None if row is None else decode(row[0], ArticleEnriched)

    def _require_open(self) -> ConnectionT:
        if self._conn is None:
            raise SinkStateError(f"{self!r} is not open")
        return self._conn


def article_columns(event: ArticleEnriched) -> dict[str, Any]:
    """The ``articles`` columns both SQL sinks store alike, by name (query parameters).

    Not here: the instants (``published``, ``enriched_at``, ``ingested_at``), which each database
    stores its own way, and the columns only one sink has.
    """
    return {
        "article_id": event.article_id,
        "event_id": event.event_id,
        "source_id": event.source_id,
        "source_path": event.source_path,
        "source": event.source,
        "url": event.url,
        "title": event.title,
        "body": event.body,
        "published_precision": (
            None if event.published_precision is None else event.published_precision.value
        ),
        "language": event.language.code,
        "language_confidence": event.language.confidence,
        "sentiment_label": event.sentiment.label.value,
        "sentiment_score": event.sentiment.score,
        "provenance": orjson.dumps([p.model_dump(mode="json") for p in event.provenance]).decode(),
        "story_id": event.story_id,
        "supersedes": event.supersedes,
        "event": encode(event).decode(),
    }


EntityKey = tuple[str, None, None] | tuple[None, str, str]
"""How the SQL sinks tell an article's entities apart: by ``entity_id`` (so "Michael P" and
"Michael P." are one entity when the linker gives them one id), or, for an entity without an
id (enriched without the linker), by its canonical name and label."""


def entity_key(entity: Entity) -> EntityKey:
    """The key of ``entity`` among its article's entities (see ``EntityKey``)."""
    return stored_entity_key(entity.entity_id, entity.canonical, entity.label.value)


def stored_entity_key(entity_id: str | None, canonical: str, label: str) -> EntityKey:
    """The key of an entity as a row stores it (``entity_id``, ``canonical``, ``label``)."""
    if entity_id is not None:
        return (entity_id, None, None)
    return (None, canonical, label)


def quote_rows(
    event: ArticleEnriched,
) -> list[tuple[str, int, str, int, int, str | None, str | None]]:
    """The ``quotes`` rows of an article: (article_id, position, text, start_offset, end_offset,
    speaker, speaker_id), ``position`` being the quote's index in the event's ``quotes``."""
    return [
        (event.article_id, n, q.text, q.start, q.end, q.speaker, q.speaker_id)
        for n, q in enumerate(event.quotes)
    ]
