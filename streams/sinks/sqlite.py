"""A SQLite sink: one row per article (its newest derivation) and its entities, queryable.

Schema (version 3, see ``MIGRATIONS``)
--------------------------------------
``articles``: one row per ``article_id`` with the event's fields flattened for queries, plus
``provenance`` (JSON array of ``{"name", "version"}``) and ``event`` (the canonical encoding of
the whole event, which ``get`` decodes, so reads return exactly what was written).
``published``, ``enriched_at`` and ``ingested_at`` are stored in UTC as fixed-width
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` text, so comparing and sorting the text compares instants.
``story_id`` is the article's story (``news.stories``), ``supersedes`` the article_id of the
earlier version of the same source file that this article replaces. ``entity_count`` is the
number of distinct entities (rows in ``entities``) of the article.

``entities``: one row per (article, ``entity_id``) with the number of ``mentions`` and the first
mention (smallest start): ``first_start``, ``first_end``, ``first_text``, and its ``canonical``
name and ``label``. Mentions the linker gave one id ("Michael P", "Michael P.") are one row. An
entity without an id (enriched without the linker) has ``entity_id`` NULL and is one row per
(canonical name, label), as in version 1. For an entity with an id, ``canonical`` is the name
shown for the id in the article's language (``Entity.display_name``: "Verenigde Staten" in a
Dutch article that writes "VS"), where the event has one (schema version 3; rows of articles
stored before keep the first mention's name until the article is written again, e.g. by
``newsstream replay``). ``sentiment_label`` and ``sentiment_score``: the sentiment toward the
entity in the article, the aggregate of its mentions' ``Entity.sentiment`` by the rule of
``streams.entity_sentiment`` (as ``EntityMentioned.sentiment``, over the mentions of this row);
NULL where no mention has one (events before schema version 4, no entity-sentiment enricher),
where the article's ``sentiment_score`` is what is known.

``quotes``: one row per quote of an article: ``position`` (its index in the event's ``quotes``,
which are in text order), ``text``, ``start_offset``, ``end_offset``, ``speaker`` (canonical
name, NULL when the text names nobody) and ``speaker_id`` (the speaker's entity id).

The rows of ``entities`` and ``quotes`` of an article are replaced together with the article,
in the same transaction.

``current_articles`` (a view): the articles no other stored article supersedes, i.e. the
current version of each source file. It is computed when read, so it does not matter whether
an edit's event arrived before or after the version it supersedes.

``schema_version``: one row per applied migration (``version``, ``applied_at``). ``open()``
applies missing migrations in one transaction and refuses a database of a newer version.
Version 2 upgrades a version-1 database in place: its new columns and tables are filled from
the ``event`` column of the rows already stored. Version 3 adds the entities' sentiment
columns, NULL in the rows stored before (their events have no entity sentiment).

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

from schemas import ArticleEnriched, Entity, EntitySentiment
from streams.entity_sentiment import entity_sentiment
from streams.sinks.base import SinkError, WriteResult
from streams.sinks.database import (
    DatabaseSink,
    EntityKey,
    article_columns,
    entity_key,
    quote_rows,
)

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
    # v2: story_id, supersedes and current_articles; entities keyed by entity_id; quotes.
    # Everything new is filled from the stored events, in SQL, so this migration does what it
    # did whatever later code does. Its quotes table repeats the PostgreSQL sink's v2 on
    # purpose: each database's migrations are its own, frozen, and are not shared.
    (
        "ALTER TABLE articles ADD COLUMN story_id TEXT",
        "ALTER TABLE articles ADD COLUMN supersedes TEXT",
        """
        UPDATE articles SET
            story_id = json_extract(event, '$.story_id'),
            supersedes = json_extract(event, '$.supersedes')
        """,
        "CREATE INDEX articles_story_id ON articles (story_id)",
        "CREATE INDEX articles_supersedes ON articles (supersedes)",
        # An article that names itself (an edit back to an earlier text) does not hide itself.
        """
        CREATE VIEW current_articles AS
        SELECT * FROM articles a
        WHERE NOT EXISTS (
            SELECT 1 FROM articles s
            WHERE s.supersedes = a.article_id AND s.article_id <> a.article_id
        )
        """,
        "DROP TABLE entities",
        """
        CREATE TABLE entities (
            article_id TEXT NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
            entity_id TEXT,
            canonical TEXT NOT NULL,
            label TEXT NOT NULL,
            mentions INTEGER NOT NULL,
            first_start INTEGER NOT NULL,
            first_end INTEGER NOT NULL,
            first_text TEXT NOT NULL
        )
        """,
        """
        CREATE UNIQUE INDEX entities_article_entity ON entities (article_id, entity_id)
        WHERE entity_id IS NOT NULL
        """,
        """
        CREATE UNIQUE INDEX entities_article_unlinked ON entities (article_id, canonical, label)
        WHERE entity_id IS NULL
        """,
        "CREATE INDEX entities_entity_id ON entities (entity_id)",
        "CREATE INDEX entities_canonical ON entities (canonical, label)",
        """
        INSERT INTO entities (
            article_id, entity_id, canonical, label, mentions, first_start, first_end, first_text
        )
        SELECT article_id, entity_id, canonical, label, mentions, e_start, e_end, e_text
        FROM (
            SELECT a.article_id,
                   json_extract(e.value, '$.entity_id') AS entity_id,
                   json_extract(e.value, '$.canonical') AS canonical,
                   json_extract(e.value, '$.label') AS label,
                   json_extract(e.value, '$.start') AS e_start,
                   json_extract(e.value, '$.end') AS e_end,
                   json_extract(e.value, '$.text') AS e_text,
                   row_number() OVER (mention ORDER BY
                       json_extract(e.value, '$.start'), json_extract(e.value, '$.end'), e.key
                   ) AS n,
                   count(*) OVER mention AS mentions
            FROM articles a, json_each(a.event, '$.entities') e
            WINDOW mention AS (
                PARTITION BY a.article_id,
                    json_extract(e.value, '$.entity_id'),
                    CASE WHEN json_extract(e.value, '$.entity_id') IS NULL
                         THEN json_extract(e.value, '$.canonical') END,
                    CASE WHEN json_extract(e.value, '$.entity_id') IS NULL
                         THEN json_extract(e.value, '$.label') END
            )
        )
        WHERE n = 1
        """,
        """
        UPDATE articles SET entity_count = (
            SELECT count(*) FROM entities e WHERE e.article_id = articles.article_id
        )
        """,
        """
        CREATE TABLE quotes (
            article_id TEXT NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            text TEXT NOT NULL,
            start_offset INTEGER NOT NULL,
            end_offset INTEGER NOT NULL,
            speaker TEXT,
            speaker_id TEXT,
            PRIMARY KEY (article_id, position)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX quotes_speaker_id ON quotes (speaker_id)",
        """
        INSERT INTO quotes (
            article_id, position, text, start_offset, end_offset, speaker, speaker_id
        )
        SELECT a.article_id, q.key,
               json_extract(q.value, '$.text'), json_extract(q.value, '$.start'),
               json_extract(q.value, '$.end'), json_extract(q.value, '$.speaker'),
               json_extract(q.value, '$.speaker_id')
        FROM articles a, json_each(a.event, '$.quotes') q
        """,
    ),
    # v3: the sentiment toward each entity of an article (schema-4 events). Nothing to fill:
    # the stored events are of schema version 3 or older (code before this migration refuses
    # version-4 events), so they have none and the columns stay NULL.
    (
        "ALTER TABLE entities ADD COLUMN sentiment_label TEXT",
        "ALTER TABLE entities ADD COLUMN sentiment_score REAL",
    ),
)
"""Schema migrations: statements of version ``i + 1`` at index ``i``. Append, never edit."""

SCHEMA_VERSION: Final[int] = len(MIGRATIONS)

_UPSERT_ARTICLE: Final = """
INSERT INTO articles (
    article_id, event_id, source_id, source_path, title, body, published, published_precision,
    url, source, language, language_confidence, sentiment_label, sentiment_score, entity_count,
    provenance, enriched_at, ingested_at, event, story_id, supersedes
) VALUES (
    :article_id, :event_id, :source_id, :source_path, :title, :body, :published,
    :published_precision, :url, :source, :language, :language_confidence, :sentiment_label,
    :sentiment_score, :entity_count, :provenance, :enriched_at, :ingested_at, :event, :story_id,
    :supersedes
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
    event = excluded.event,
    story_id = excluded.story_id,
    supersedes = excluded.supersedes
WHERE excluded.event_id <> articles.event_id
    AND (
        excluded.enriched_at > articles.enriched_at
        OR (excluded.enriched_at = articles.enriched_at AND excluded.event_id > articles.event_id)
    )
"""

_INSERT_ENTITY: Final = """
INSERT INTO entities (
    article_id, entity_id, canonical, label, mentions, first_start, first_end, first_text,
    sentiment_label, sentiment_score
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_INSERT_QUOTE: Final = """
INSERT INTO quotes (article_id, position, text, start_offset, end_offset, speaker, speaker_id)
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
                conn.execute("DELETE FROM quotes WHERE article_id = ?", (event.article_id,))
                conn.executemany(_INSERT_QUOTE, quote_rows(event))
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
        "entity_count": len({entity_key(e) for e in event.entities}),
        "enriched_at": utc_text(event.enriched_at),
        "ingested_at": utc_text(event.ingested_at),
    }


_EntityRow = tuple[str, str | None, str, str, int, int, int, str, str | None, float | None]


def _entity_rows(event: ArticleEnriched) -> list[_EntityRow]:
    """One row per entity (``entity_key``): its first mention, the number of mentions, its
    name (the display name for a linked entity that has one) and the sentiment toward it
    over its mentions (``streams.entity_sentiment``)."""
    first: dict[EntityKey, Entity] = {}
    mentions: Counter[EntityKey] = Counter()
    sentiments: dict[EntityKey, list[EntitySentiment | None]] = {}
    for entity in sorted(event.entities, key=lambda e: (e.start, e.end)):
        key = entity_key(entity)
        first.setdefault(key, entity)
        mentions[key] += 1
        sentiments.setdefault(key, []).append(entity.sentiment)
    rows: list[_EntityRow] = []
    for key, e in first.items():
        own = entity_sentiment(sentiments[key])
        rows.append(
            (
                event.article_id,
                e.entity_id,
                e.shown_name,
                e.label.value,
                mentions[key],
                e.start,
                e.end,
                e.text,
                None if own is None else own.label.value,
                None if own is None else own.score,
            )
        )
    return rows
