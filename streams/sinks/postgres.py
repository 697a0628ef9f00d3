"""A PostgreSQL sink: articles with full-text search, entity mentions and entity totals.

Needs psycopg 3 (``pip install 'newsstream[postgres]'``), imported only when this sink is used.

Schema (in its own PostgreSQL schema, ``newsstream`` by default; versioned migrations)
---------------------------------------------------------------------------------------
``articles``: one row per article (its newest derivation), with the event's fields as columns
(``story_id``: its story; ``supersedes``: the article_id of the earlier version of the same
source file it replaces), ``provenance`` and the whole ``event`` as JSONB, and ``search``: a
tsvector of title and body in the article's language (Dutch configuration unless the article is
English), GIN-indexed.

``current_articles`` (a view): the articles no other stored article supersedes, the current
version of each source file; computed when read, so the arrival order of versions does not
matter.

``entity_mentions``: one row per mention (article, ``entity_id``, canonical name, label, surface
text, offsets, ``sentence_sentiment``: the score of the sentence it stands in, ``display_name``:
the name shown for the id in the article's language, from the entity linker, NULL without one,
and ``sentiment_label``/``sentiment_score``: the sentiment toward the entity in that mention,
``Entity.sentiment``, NULL for events without it: before schema version 4 or without an
entity-sentiment enricher), replaced with its article. The sentiment toward an entity in a
stored article is ``coalesce(sentiment_score, sentence_sentiment)`` where old rows must count
too.

``entities``: one row per ``entity_id`` ("Michael P" and "Michael P.", "Verenigde Naties" and
"United Nations" are one row when the linker gives them one id), with the name and label most
mentioned under it (ties: the first in alphabetical order; the name is the mentions' display
name where they have one, so "VS" never names loc/united-states; across languages the name
of the language most mentioned), first/last seen (the articles'
``published``, else ``ingested_at``), the number of mentions and of articles. Mentions without
an id (enriched without the linker) count as one entity per (canonical name, label), with
``entity_id`` NULL. Recomputed for the entities a batch touched, inside the batch's transaction,
so it is always exactly the sum of ``entity_mentions`` (a redelivery cannot count twice).

``quotes``: one row per quote of an article (``position`` in the event's ``quotes``, ``text``,
offsets, ``speaker``, ``speaker_id``), replaced with its article.

``schema_migrations``: one row per applied migration. Version 2 upgrades a version-1 schema in
place, filling what it adds from the ``event`` column of the stored articles; version 3 adds
``entity_mentions.display_name`` the same way and renames the stored entities by it; version 4
adds ``entity_mentions.sentiment_label`` and ``sentiment_score`` (NULL in the rows stored before,
whose events have no entity sentiment).

Durability and idempotency: each ``write`` is one transaction, committed before it returns
(the connection is in autocommit mode otherwise, so reads hold no snapshot between calls);
upserts follow the ordering rule of ``streams.sinks.base`` in SQL (the ``WHERE`` of ``ON
CONFLICT DO UPDATE``). All SQL is parameterised; identifiers (the schema name) are quoted
with ``psycopg.sql.Identifier``. The DSN is a secret: it never appears in ``repr`` or logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from pydantic import SecretStr

from schemas import ArticleEnriched, SentenceSentiment
from streams.sinks.base import SinkError, WriteResult
from streams.sinks.database import (
    DatabaseSink,
    EntityKey,
    article_columns,
    entity_key,
    quote_rows,
    stored_entity_key,
)
from streams.sinks.postgres_migrations import MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    import psycopg

INSTALL_HINT: Final = (
    "the PostgreSQL sink needs psycopg 3: pip install 'newsstream[postgres]' "
    "(or pip install 'psycopg[binary]')"
)


_UPSERT_ARTICLE: Final = """
    INSERT INTO articles (
        article_id, event_id, source_id, source_path, source, url, title, body, published,
        published_precision, language, language_confidence, sentiment_label, sentiment_score,
        provenance, event, ingested_at, enriched_at, story_id, supersedes
    ) VALUES (
        %(article_id)s, %(event_id)s, %(source_id)s, %(source_path)s, %(source)s, %(url)s,
        %(title)s, %(body)s, %(published)s, %(published_precision)s, %(language)s,
        %(language_confidence)s, %(sentiment_label)s, %(sentiment_score)s, %(provenance)s,
        %(event)s, %(ingested_at)s, %(enriched_at)s, %(story_id)s, %(supersedes)s
    )
    ON CONFLICT (article_id) DO UPDATE SET
        event_id = excluded.event_id, source_id = excluded.source_id,
        source_path = excluded.source_path, source = excluded.source, url = excluded.url,
        title = excluded.title, body = excluded.body, published = excluded.published,
        published_precision = excluded.published_precision, language = excluded.language,
        language_confidence = excluded.language_confidence,
        sentiment_label = excluded.sentiment_label, sentiment_score = excluded.sentiment_score,
        provenance = excluded.provenance, event = excluded.event,
        ingested_at = excluded.ingested_at, enriched_at = excluded.enriched_at,
        story_id = excluded.story_id, supersedes = excluded.supersedes
    WHERE excluded.event_id <> articles.event_id
      AND (excluded.enriched_at, excluded.event_id) > (articles.enriched_at, articles.event_id)
    RETURNING (xmax = 0) AS inserted
"""

_INSERT_MENTION: Final = """
    INSERT INTO entity_mentions (
        article_id, entity_id, canonical, label, text, start_offset, end_offset,
        sentence_sentiment, display_name, sentiment_label, sentiment_score
    ) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT DO NOTHING
"""

_INSERT_QUOTE: Final = """
    INSERT INTO quotes (article_id, position, text, start_offset, end_offset, speaker, speaker_id)
    VALUES (%s, %s, %s, %s, %s, %s, %s)
"""

_DELETE_TOUCHED_ENTITIES: Final = """
    WITH touched AS (
        -- The entity keys (database.EntityKey: an id, or a name and label) a batch touched.
        SELECT DISTINCT entity_id, canonical AS key_canonical, label AS key_label
        FROM unnest(%(ids)s::text[], %(canonicals)s::text[], %(labels)s::text[])
             AS t(entity_id, canonical, label)
    )
    DELETE FROM entities e USING touched t
    WHERE e.entity_id IS NOT DISTINCT FROM t.entity_id
      AND (t.entity_id IS NOT NULL OR (e.canonical = t.key_canonical AND e.label = t.key_label))
"""

_INSERT_TOUCHED_ENTITIES: Final = """
    WITH touched AS (
        -- The entity keys (database.EntityKey: an id, or a name and label) a batch touched.
        SELECT DISTINCT entity_id, canonical AS key_canonical, label AS key_label
        FROM unnest(%(ids)s::text[], %(canonicals)s::text[], %(labels)s::text[])
             AS t(entity_id, canonical, label)
    ), keyed AS (
        SELECT m.entity_id,
               CASE WHEN m.entity_id IS NULL THEN m.canonical END AS key_canonical,
               CASE WHEN m.entity_id IS NULL THEN m.label END AS key_label,
               coalesce(m.display_name, m.canonical) AS canonical, m.label, m.article_id,
               coalesce(a.published, a.ingested_at) AS seen
        FROM entity_mentions m
        JOIN articles a USING (article_id)
        JOIN touched t
          ON m.entity_id = t.entity_id
          OR (m.entity_id IS NULL AND t.entity_id IS NULL
              AND m.canonical = t.key_canonical AND m.label = t.key_label)
    ), named AS (
        SELECT DISTINCT ON (entity_id, key_canonical, key_label)
               entity_id, key_canonical, key_label, canonical, label
        FROM (
            SELECT entity_id, key_canonical, key_label, canonical, label, count(*) AS n
            FROM keyed GROUP BY entity_id, key_canonical, key_label, canonical, label
        ) names
        ORDER BY entity_id, key_canonical, key_label, n DESC, canonical, label
    ), totals AS (
        SELECT entity_id, key_canonical, key_label, min(seen) AS first_seen,
               max(seen) AS last_seen, count(*) AS mention_count,
               count(DISTINCT article_id) AS article_count
        FROM keyed GROUP BY entity_id, key_canonical, key_label
    )
    INSERT INTO entities (
        entity_id, canonical, label, first_seen, last_seen, mention_count, article_count
    )
    SELECT t.entity_id, n.canonical, n.label, t.first_seen, t.last_seen, t.mention_count,
           t.article_count
    FROM totals t JOIN named n
      ON n.entity_id IS NOT DISTINCT FROM t.entity_id
     AND n.key_canonical IS NOT DISTINCT FROM t.key_canonical
     AND n.key_label IS NOT DISTINCT FROM t.key_label
"""
"""Delete, then insert: the touched entities' rows recomputed from ``entity_mentions`` (an
entity no longer mentioned anywhere has no row). Two statements, because a row deleted and
inserted again under one unique key in a single statement could collide with itself.

Migrations v2 and v3 (``postgres_migrations``) hold frozen copies of this computation, over all
mentions, so that it fills ``entities`` the same way whatever this SQL becomes: change this one
freely, never those copies; a change to what an ``entities`` row holds needs a new migration that
recomputes the stored rows."""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise SinkError(INSTALL_HINT) from exc
    return psycopg


class PostgresSink(DatabaseSink["psycopg.Connection[Any]"]):
    """Upserts enriched articles into PostgreSQL; see the module docstring for the schema."""

    name: ClassVar[str] = "postgres"
    _SELECT_EVENT: ClassVar[str] = "SELECT event::text FROM articles WHERE article_id = %s"

    def __init__(self, dsn: SecretStr | str, *, schema: str = "newsstream") -> None:
        super().__init__()
        self._dsn = dsn if isinstance(dsn, SecretStr) else SecretStr(dsn)
        self.schema = schema

    def __repr__(self) -> str:
        return f"PostgresSink(dsn='**********', schema={self.schema!r})"

    def _connect(self) -> psycopg.Connection[Any]:
        """Connect, create the schema if needed and apply missing migrations.

        Raises SinkError when psycopg is missing, the server is unreachable, or the schema is
        of a newer version than this code knows.
        """
        psycopg = _psycopg()
        try:
            conn = psycopg.connect(self._dsn.get_secret_value(), autocommit=True)
        except psycopg.Error as exc:
            # The message of a connection error can quote the DSN; keep only its class.
            raise SinkError(f"cannot connect to PostgreSQL ({type(exc).__name__})") from None
        try:
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn  # type: ignore[no-any-return]

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        sql = _psycopg().sql
        with conn.transaction():
            # Concurrent sinks opening at once: one migrates, the others wait and see it done.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(self.schema)))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
            current = int(row[0]) if row else 0
            if current > SCHEMA_VERSION:
                raise SinkError(
                    f"schema {self.schema!r} is at version {current}, newer than this "
                    f"newsstream knows ({SCHEMA_VERSION}): upgrade newsstream"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                conn.execute(MIGRATIONS[version - 1])
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))

    def _write(
        self, conn: psycopg.Connection[Any], batch: Sequence[ArticleEnriched]
    ) -> WriteResult:
        """Upsert the batch and refresh the touched entities in one transaction, committed
        before returning; on any error nothing of the batch is stored."""
        inserted = updated = unchanged = 0
        touched: set[EntityKey] = set()
        with conn.transaction():
            for event in batch:
                row = conn.execute(_UPSERT_ARTICLE, _article_row(event)).fetchone()
                if row is None:
                    unchanged += 1  # the WHERE clause kept the stored derivation
                    continue
                if row[0]:
                    inserted += 1
                else:
                    updated += 1
                    old = conn.execute(
                        "DELETE FROM entity_mentions WHERE article_id = %s"
                        " RETURNING entity_id, canonical, label",
                        (event.article_id,),
                    ).fetchall()
                    touched.update(stored_entity_key(*r) for r in old)
                    conn.execute("DELETE FROM quotes WHERE article_id = %s", (event.article_id,))
                with conn.cursor() as cursor:
                    cursor.executemany(_INSERT_MENTION, _mention_rows(event))
                    cursor.executemany(_INSERT_QUOTE, quote_rows(event))
                touched.update(entity_key(e) for e in event.entities)
            if touched:
                keys = {
                    "ids": [k[0] for k in touched],
                    "canonicals": [k[1] for k in touched],
                    "labels": [k[2] for k in touched],
                }
                conn.execute(_DELETE_TOUCHED_ENTITIES, keys)
                conn.execute(_INSERT_TOUCHED_ENTITIES, keys)
        return WriteResult(inserted, updated, unchanged)

    def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        """Current articles (``current_articles``: no superseded versions) matching ``query``
        (web-search syntax: words, "phrases", -not, or), best first, each with its story and
        its most mentioned entities."""
        with self._lock:
            conn = self._require_open()
            rows = conn.execute(_SEARCH, {"query": query, "limit": limit}).fetchall()
        return [
            SearchHit(
                article_id=r[0],
                title=r[1],
                published=r[2].isoformat() if r[2] else None,
                rank=float(r[3]),
                snippet=r[4],
                story_id=r[5],
                entities=[
                    SearchEntity(
                        entity_id=e["entity_id"],
                        name=e["name"],
                        label=e["label"],
                        mentions=e["mentions"],
                    )
                    for e in r[6] or []
                ],
            )
            for r in rows
        ]


_SEARCH: Final = """
    WITH q AS (
        SELECT websearch_to_tsquery('dutch', %(query)s)
               || websearch_to_tsquery('english', %(query)s) AS query
    )
    SELECT a.article_id, a.title, a.published, ts_rank_cd(a.search, q.query) AS rank,
           ts_headline(
               CASE WHEN a.language = 'en' THEN 'english'::regconfig ELSE 'dutch'::regconfig END,
               a.body, q.query, 'MaxFragments=1, MaxWords=25, MinWords=10'
           ) AS snippet,
           a.story_id,
           (SELECT json_agg(
                       json_build_object(
                           'entity_id', entity_id, 'name', name, 'label', label, 'mentions', n
                       ) ORDER BY n DESC, name
                   )
              FROM (SELECT m.entity_id,
                           (array_agg(coalesce(m.display_name, m.canonical)
                                      ORDER BY m.start_offset))[1] AS name,
                           (array_agg(m.label ORDER BY m.start_offset))[1] AS label,
                           count(*) AS n
                      FROM entity_mentions m
                     WHERE m.article_id = a.article_id
                     GROUP BY m.entity_id,
                              CASE WHEN m.entity_id IS NULL THEN m.canonical END,
                              CASE WHEN m.entity_id IS NULL THEN m.label END
                     ORDER BY n DESC, name LIMIT 5) top) AS entities
    FROM current_articles a, q
    WHERE a.search @@ q.query
    ORDER BY rank DESC, a.published DESC NULLS LAST, a.article_id
    LIMIT %(limit)s
"""


@dataclass(frozen=True, slots=True)
class SearchEntity:
    """One of a hit's most mentioned entities: its id (None when enriched without the
    linker), its display name in the article (else the canonical name of its first mention
    there), label, mentions there."""

    entity_id: str | None
    name: str
    label: str
    mentions: int


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result (``newsstream search`` prints each as a JSON line)."""

    article_id: str
    title: str | None
    published: str | None
    rank: float
    snippet: str
    story_id: str | None
    entities: list[SearchEntity]


def _article_row(event: ArticleEnriched) -> dict[str, Any]:
    return {
        **article_columns(event),
        "published": event.published,
        "ingested_at": event.ingested_at,
        "enriched_at": event.enriched_at,
    }


_MentionRow = tuple[
    str, str | None, str, str, str, int, int, float | None, str | None, str | None, float | None
]


def _mention_rows(event: ArticleEnriched) -> list[_MentionRow]:
    sentences = event.sentiment.sentences
    return [
        (
            event.article_id,
            e.entity_id,
            e.canonical,
            e.label.value,
            e.text,
            e.start,
            e.end,
            _sentence_score(sentences, e.start),
            e.display_name if e.entity_id is not None else None,
            None if e.sentiment is None else e.sentiment.label.value,
            None if e.sentiment is None else e.sentiment.score,
        )
        for e in event.entities
    ]


def _sentence_score(sentences: Sequence[SentenceSentiment], offset: int) -> float | None:
    for sentence in sentences:
        if sentence.start <= offset < sentence.end:
            return sentence.score
    return None
