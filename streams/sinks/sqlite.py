"""A SQLite sink: one row per article (its newest derivation) and its entities, queryable.

Schema (version 1, see ``MIGRATIONS``)
--------------------------------------
``articles``: one row per ``article_id`` with the event's fields flattened for queries, plus
``provenance`` (JSON array of ``{"name", "version"}``) and ``event`` (the canonical encoding of
the whole event, which ``get`` decodes, so reads return exactly what was written).
``published``, ``enriched_at`` and ``ingested_at`` are stored in UTC as fixed-width
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` text, so comparing and sorting the text compares instants.
``entity_count`` is the number of distinct entities (rows in ``entities``) of the article.

``entities``: one row per (article, canonical name, label) with the number of ``mentions`` and
the first mention (smallest start): ``first_start``, ``first_end``, ``first_text``. The rows of
an article are replaced together with the article, in the same transaction.

``schema_version``: one row per applied migration (``version``, ``applied_at``). ``open()``
applies missing migrations in one transaction and refuses a database of a newer version.

Durability, idempotency, threads
--------------------------------
WAL journal with ``synchronous=FULL``: a committed transaction survives power loss (the
default ``NORMAL`` would not guarantee that in WAL mode). Each ``write`` is one transaction;
each event is an upsert whose ``ON CONFLICT ... DO UPDATE ... WHERE`` clause is the ordering
rule of ``streams.sinks.base`` (a different ``event_id`` with a later ``enriched_at``, or the
same instant and a greater ``event_id``), so the database itself decides what replaces what.
All SQL is parameterised.

The connection is made with ``check_same_thread=False`` because the consumer loop calls the
sink from worker threads (``asyncio.to_thread``); every use of it is under the sink's lock, so
it is only ever used by one thread at a time.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Final

from schemas import ArticleEnriched, Entity
from streams.sinks.base import SinkError, WriteResult
from streams.sinks.database import DatabaseSink, article_columns

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # v1
    (
        """
        CREATE TABLE articles (
            article_id TEXT PRIMARY KEY NOT NULL,
            event_id TEXT NOT NULL,
            source_id TEXT NOT NULL,
            source_path TEXT NOT NULL,
            title TEXT,
            body TEXT NOT NULL,
            published TEXT,
            published_precision TEXT,
            url TEXT,
            source TEXT,
            language TEXT NOT NULL,
            language_confidence REAL NOT NULL,
            sentiment_label TEXT NOT NULL,
            sentiment_score REAL NOT NULL,
            entity_count INTEGER NOT NULL,
            provenance TEXT NOT NULL,
            enriched_at TEXT NOT NULL,
            ingested_at TEXT NOT NULL,
            event TEXT NOT NULL
        )
        """,
        "CREATE INDEX articles_published ON articles (published)",
        "CREATE INDEX articles_source_id ON articles (source_id)",
        """
        CREATE TABLE entities (
            article_id TEXT NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
            canonical TEXT NOT NULL,
            label TEXT NOT NULL,
            mentions INTEGER NOT NULL,
            first_start INTEGER NOT NULL,
            first_end INTEGER NOT NULL,
            first_text TEXT NOT NULL,
            PRIMARY KEY (article_id, canonical, label)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX entities_canonical ON entities (canonical, label)",
    ),
)
"""Schema migrations: statements of version ``i + 1`` at index ``i``. Append, never edit."""

SCHEMA_VERSION: Final[int] = len(MIGRATIONS)

_UPSERT_ARTICLE: Final = """
INSERT INTO articles (
    article_id, event_id, source_id, source_path, title, body, published, published_precision,
    url, source, language, language_confidence, sentiment_label, sentiment_score, entity_count,
    provenance, enriched_at, ingested_at, event
) VALUES (
    :article_id, :event_id, :source_id, :source_path, :title, :body, :published,
    :published_precision, :url, :source, :language, :language_confidence, :sentiment_label,
    :sentiment_score, :entity_count, :provenance, :enriched_at, :ingested_at, :event
)
ON CONFLICT (article_id) DO UPDATE SET
    event_id = excluded.event_id,
    source_id = excluded.source_id,
    source_path = excluded.source_path,
    title = excluded.title,
    body = excluded.body,
    published = excluded.published,
    published_precision = excluded.published_precision,
    url = excluded.url,
    source = excluded.source,
    language = excluded.language,
    language_confidence = excluded.language_confidence,
    sentiment_label = excluded.sentiment_label,
    sentiment_score = excluded.sentiment_score,
    entity_count = excluded.entity_count,
    provenance = excluded.provenance,
    enriched_at = excluded.enriched_at,
    ingested_at = excluded.ingested_at,
    event = excluded.event
WHERE excluded.event_id <> articles.event_id
    AND (
        excluded.enriched_at > articles.enriched_at
        OR (excluded.enriched_at = articles.enriched_at AND excluded.event_id > articles.event_id)
    )
"""

_INSERT_ENTITY: Final = """
INSERT INTO entities (article_id, canonical, label, mentions, first_start, first_end, first_text)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""


class SqliteSink(DatabaseSink[sqlite3.Connection]):
    """Upserts enriched articles into a SQLite database; see the module docstring for the schema."""

    name: ClassVar[str] = "sqlite"
    _SELECT_EVENT: ClassVar[str] = "SELECT event FROM articles WHERE article_id = ?"

    def __init__(self, path: Path | str, *, busy_timeout: float = 30.0) -> None:
        """``busy_timeout``: seconds to wait for another connection's write lock."""
        super().__init__()
        self.path = Path(path)
        self.busy_timeout = busy_timeout

    def __repr__(self) -> str:
        return f"SqliteSink({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        """Connect, switch to WAL, and apply missing migrations (creating the file if needed).

        Raises SinkError when the file is not a usable database or has a newer schema version
        than this code knows.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; write() and migrations say BEGIN.
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise SinkError(f"{self.path}: cannot use WAL journal mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            _migrate(conn, self.path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise SinkError(f"{self.path}: not a usable SQLite database: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _write(self, conn: sqlite3.Connection, batch: Sequence[ArticleEnriched]) -> WriteResult:
        """Upsert the batch in one transaction, committed (durably) before returning.

        If anything fails the transaction is rolled back: none of the batch is stored.
        """
        inserted = updated = unchanged = 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            for event in batch:
                existed = (
                    conn.execute(
                        "SELECT 1 FROM articles WHERE article_id = ?", (event.article_id,)
                    ).fetchone()
                    is not None
                )
                if conn.execute(_UPSERT_ARTICLE, _article_row(event)).rowcount == 0:
                    unchanged += 1  # the WHERE clause kept the stored derivation
                    continue
                conn.execute("DELETE FROM entities WHERE article_id = ?", (event.article_id,))
                conn.executemany(_INSERT_ENTITY, _entity_rows(event))
                if existed:
                    updated += 1
                else:
                    inserted += 1
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return WriteResult(inserted, updated, unchanged)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to SCHEMA_VERSION in one transaction (concurrent openers serialise)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY NOT NULL, applied_at TEXT NOT NULL)"
        )
        (current,) = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        if current > SCHEMA_VERSION:
            raise SinkError(
                f"{path}: schema version {current} is newer than this code's {SCHEMA_VERSION}"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (version, utc_text(datetime.now(UTC))),
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def utc_text(when: datetime) -> str:
    """An aware datetime as fixed-width UTC text whose string order is the order of instants."""
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _article_row(event: ArticleEnriched) -> dict[str, Any]:
    return {
        **article_columns(event),
        "published": None if event.published is None else utc_text(event.published),
        "entity_count": len({(e.canonical, e.label) for e in event.entities}),
        "enriched_at": utc_text(event.enriched_at),
        "ingested_at": utc_text(event.ingested_at),
    }


def _entity_rows(event: ArticleEnriched) -> list[tuple[str, str, str, int, int, int, str]]:
    """One row per (canonical, label): the number of mentions and the first mention."""
    first: dict[tuple[str, str], Entity] = {}
    mentions: Counter[tuple[str, str]] = Counter()
    for entity in sorted(event.entities, key=lambda e: (e.start, e.end)):
        key = (entity.canonical, entity.label.value)
        first.setdefault(key, entity)
        mentions[key] += 1
    return [
        (event.article_id, canonical, label, mentions[canonical, label], e.start, e.end, e.text)
        for (canonical, label), e in first.items()
    ]
