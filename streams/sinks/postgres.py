"""A PostgreSQL sink: articles with full-text search, entity mentions and entity totals.

Needs psycopg 3 (``pip install 'newsstream[postgres]'``), imported only when this sink is used.

Schema (in its own PostgreSQL schema, ``newsstream`` by default; versioned migrations)
---------------------------------------------------------------------------------------
``articles``: one row per article (its newest derivation), with the event's fields as columns,
``provenance`` and the whole ``event`` as JSONB, and ``search``: a tsvector of title and body in
the article's language (Dutch configuration unless the article is English), GIN-indexed.

``entity_mentions``: one row per mention (article, canonical name, label, surface text,
offsets, and the sentiment of the sentence it stands in), replaced with its article.

``entities``: one row per (canonical name, label) with first/last seen (the articles'
``published``, else ``ingested_at``), the number of mentions and of articles; recomputed for
the entities a batch touched, inside the batch's transaction, so it is always exactly the sum of
``entity_mentions`` (a redelivery cannot count twice).

``schema_migrations``: one row per applied migration.

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
from streams.sinks.database import DatabaseSink, article_columns

if TYPE_CHECKING:
    import psycopg

INSTALL_HINT: Final = (
    "the PostgreSQL sink needs psycopg 3: pip install 'newsstream[postgres]' "
    "(or pip install 'psycopg[binary]')"
)

MIGRATIONS: Final[tuple[str, ...]] = (
    # v1
    """
    CREATE TABLE articles (
        article_id TEXT PRIMARY KEY,
        event_id TEXT NOT NULL,
        source_id TEXT NOT NULL,
        source_path TEXT NOT NULL,
        source TEXT,
        url TEXT,
        title TEXT,
        body TEXT NOT NULL,
        published TIMESTAMPTZ,
        published_precision TEXT,
        language TEXT NOT NULL,
        language_confidence DOUBLE PRECISION NOT NULL,
        sentiment_label TEXT NOT NULL,
        sentiment_score DOUBLE PRECISION NOT NULL,
        provenance JSONB NOT NULL,
        event JSONB NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL,
        enriched_at TIMESTAMPTZ NOT NULL,
        search TSVECTOR GENERATED ALWAYS AS (
            to_tsvector(
                CASE WHEN language = 'en' THEN 'english'::regconfig ELSE 'dutch'::regconfig END,
                coalesce(title, '') || ' ' || body
            )
        ) STORED
    );
    CREATE INDEX articles_search ON articles USING GIN (search);
    CREATE INDEX articles_published ON articles (published);
    CREATE TABLE entity_mentions (
        article_id TEXT NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
        canonical TEXT NOT NULL,
        label TEXT NOT NULL,
        text TEXT NOT NULL,
        start_offset INTEGER NOT NULL,
        end_offset INTEGER NOT NULL,
        sentence_sentiment DOUBLE PRECISION,
        PRIMARY KEY (article_id, start_offset, end_offset)
    );
    CREATE INDEX entity_mentions_entity ON entity_mentions (canonical, label);
    CREATE TABLE entities (
        canonical TEXT NOT NULL,
        label TEXT NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL,
        last_seen TIMESTAMPTZ NOT NULL,
        mention_count INTEGER NOT NULL,
        article_count INTEGER NOT NULL,
        PRIMARY KEY (canonical, label)
    );
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)

_UPSERT_ARTICLE: Final = """
    INSERT INTO articles (
        article_id, event_id, source_id, source_path, source, url, title, body, published,
        published_precision, language, language_confidence, sentiment_label, sentiment_score,
        provenance, event, ingested_at, enriched_at
    ) VALUES (
        %(article_id)s, %(event_id)s, %(source_id)s, %(source_path)s, %(source)s, %(url)s,
        %(title)s, %(body)s, %(published)s, %(published_precision)s, %(language)s,
        %(language_confidence)s, %(sentiment_label)s, %(sentiment_score)s, %(provenance)s,
        %(event)s, %(ingested_at)s, %(enriched_at)s
    )
    ON CONFLICT (article_id) DO UPDATE SET
        event_id = excluded.event_id, source_id = excluded.source_id,
        source_path = excluded.source_path, source = excluded.source, url = excluded.url,
        title = excluded.title, body = excluded.body, published = excluded.published,
        published_precision = excluded.published_precision, language = excluded.language,
        language_confidence = excluded.language_confidence,
        sentiment_label = excluded.sentiment_label, sentiment_score = excluded.sentiment_score,
        provenance = excluded.provenance, event = excluded.event,
        ingested_at = excluded.ingested_at, enriched_at = excluded.enriched_at
    WHERE excluded.event_id <> articles.event_id
      AND (excluded.enriched_at, excluded.event_id) > (articles.enriched_at, articles.event_id)
    RETURNING (xmax = 0) AS inserted
"""

_INSERT_MENTION: Final = """
    INSERT INTO entity_mentions (
        article_id, canonical, label, text, start_offset, end_offset, sentence_sentiment
    ) VALUES (%s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT DO NOTHING
"""

_REFRESH_ENTITIES: Final = """
    WITH touched AS (
        SELECT DISTINCT canonical, label
        FROM unnest(%(canonicals)s::text[], %(labels)s::text[]) AS t(canonical, label)
    ), totals AS (
        SELECT m.canonical, m.label,
               min(coalesce(a.published, a.ingested_at)) AS first_seen,
               max(coalesce(a.published, a.ingested_at)) AS last_seen,
               count(*) AS mention_count,
               count(DISTINCT m.article_id) AS article_count
        FROM entity_mentions m
        JOIN touched USING (canonical, label)
        JOIN articles a USING (article_id)
        GROUP BY m.canonical, m.label
    ), removed AS (
        DELETE FROM entities e USING touched t
        WHERE e.canonical = t.canonical AND e.label = t.label
          AND NOT EXISTS (
              SELECT 1 FROM totals x WHERE x.canonical = t.canonical AND x.label = t.label
          )
    )
    INSERT INTO entities (canonical, label, first_seen, last_seen, mention_count, article_count)
    SELECT canonical, label, first_seen, last_seen, mention_count, article_count FROM totals
    ON CONFLICT (canonical, label) DO UPDATE SET
        first_seen = excluded.first_seen, last_seen = excluded.last_seen,
        mention_count = excluded.mention_count, article_count = excluded.article_count
"""


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
        canonicals: list[str] = []
        labels: list[str] = []
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
                        " RETURNING canonical, label",
                        (event.article_id,),
                    ).fetchall()
                    canonicals += [r[0] for r in old]
                    labels += [r[1] for r in old]
                mentions = _mention_rows(event)
                with conn.cursor() as cursor:
                    cursor.executemany(_INSERT_MENTION, mentions)
                canonicals += [m[1] for m in mentions]
                labels += [m[2] for m in mentions]
            if canonicals:
                conn.execute(_REFRESH_ENTITIES, {"canonicals": canonicals, "labels": labels})
        return WriteResult(inserted, updated, unchanged)

    def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        """Articles matching ``query`` (web-search syntax: words, "phrases", -not, or), best
        first, with their most mentioned entities."""
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
                entities=list(r[5] or []),
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
           (SELECT array_agg(canonical || ' (' || label || ')' ORDER BY n DESC, canonical)
              FROM (SELECT canonical, label, count(*) AS n FROM entity_mentions m
                     WHERE m.article_id = a.article_id GROUP BY canonical, label
                     ORDER BY n DESC, canonical LIMIT 5) top) AS entities
    FROM articles a, q
    WHERE a.search @@ q.query
    ORDER BY rank DESC, a.published DESC NULLS LAST, a.article_id
    LIMIT %(limit)s
"""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result."""

    article_id: str
    title: str | None
    published: str | None
    rank: float
    snippet: str
    entities: list[str]


def _article_row(event: ArticleEnriched) -> dict[str, Any]:
    return {
        **article_columns(event),
        "published": event.published,
        "ingested_at": event.ingested_at,
        "enriched_at": event.enriched_at,
    }


def _mention_rows(
    event: ArticleEnriched,
) -> list[tuple[str, str, str, str, int, int, float | None]]:
    sentences = event.sentiment.sentences
    return [
        (
            event.article_id,
            e.canonical,
            e.label.value,
            e.text,
            e.start,
            e.end,
            _sentence_score(sentences, e.start),
        )
        for e in event.entities
    ]


def _sentence_score(sentences: Sequence[SentenceSentiment], offset: int) -> float | None:
    for sentence in sentences:
        if sentence.start <= offset < sentence.end:
            return sentence.score
    return None
