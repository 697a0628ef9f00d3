"""The PostgreSQL sink's schema migrations (see ``streams.sinks.postgres`` for the schema).

``MIGRATIONS[i]`` is the SQL of version ``i + 1``, run in one transaction with the sink's schema
as ``search_path``. Append, never edit: a database records the versions it applied.
"""

from __future__ import annotations

from typing import Final

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
    # v2: story_id, supersedes and current_articles; entity ids in entity_mentions and entities
    # keyed by them; quotes. Filled from the stored events, in SQL of its own, so this
    # migration does what it did whatever later code does. Two parts are deliberate frozen
    # copies, not to be shared: the entities recomputation (WITH keyed ... INSERT INTO entities)
    # is the runtime postgres._INSERT_TOUCHED_ENTITIES as of v2, over all mentions instead of a
    # batch's touched keys; the quotes table is the one the SQLite sink's v2 creates, in
    # PostgreSQL. Either may change later; this must not.
    """
    ALTER TABLE articles ADD COLUMN story_id TEXT, ADD COLUMN supersedes TEXT;
    UPDATE articles SET story_id = event->>'story_id', supersedes = event->>'supersedes';
    CREATE INDEX articles_story_id ON articles (story_id);
    CREATE INDEX articles_supersedes ON articles (supersedes);
    -- PostgreSQL fixes a view's columns when it is created: a migration that adds columns to
    -- articles recreates this view (CREATE OR REPLACE VIEW) to show them.
    CREATE VIEW current_articles AS
        SELECT * FROM articles a
        WHERE NOT EXISTS (
            SELECT 1 FROM articles s
            WHERE s.supersedes = a.article_id AND s.article_id <> a.article_id
        );
    ALTER TABLE entity_mentions ADD COLUMN entity_id TEXT;
    UPDATE entity_mentions m SET entity_id = e->>'entity_id'
        FROM articles a, jsonb_array_elements(a.event->'entities') e
        WHERE a.article_id = m.article_id
          AND (e->>'start')::integer = m.start_offset AND (e->>'end')::integer = m.end_offset;
    CREATE INDEX entity_mentions_entity_id ON entity_mentions (entity_id);
    DROP TABLE entities;
    CREATE TABLE entities (
        entity_id TEXT,
        canonical TEXT NOT NULL,
        label TEXT NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL,
        last_seen TIMESTAMPTZ NOT NULL,
        mention_count INTEGER NOT NULL,
        article_count INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX entities_entity_id ON entities (entity_id) WHERE entity_id IS NOT NULL;
    CREATE UNIQUE INDEX entities_unlinked ON entities (canonical, label) WHERE entity_id IS NULL;
    WITH keyed AS (
        SELECT m.entity_id,
               CASE WHEN m.entity_id IS NULL THEN m.canonical END AS key_canonical,
               CASE WHEN m.entity_id IS NULL THEN m.label END AS key_label,
               m.canonical, m.label, m.article_id,
               coalesce(a.published, a.ingested_at) AS seen
        FROM entity_mentions m JOIN articles a USING (article_id)
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
     AND n.key_label IS NOT DISTINCT FROM t.key_label;
    CREATE TABLE quotes (
        article_id TEXT NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        start_offset INTEGER NOT NULL,
        end_offset INTEGER NOT NULL,
        speaker TEXT,
        speaker_id TEXT,
        PRIMARY KEY (article_id, position)
    );
    CREATE INDEX quotes_speaker_id ON quotes (speaker_id);
    INSERT INTO quotes (article_id, position, text, start_offset, end_offset, speaker, speaker_id)
    SELECT a.article_id, q.n - 1, q.quote->>'text', (q.quote->>'start')::integer,
           (q.quote->>'end')::integer, q.quote->>'speaker', q.quote->>'speaker_id'
    FROM articles a,
         jsonb_array_elements(coalesce(a.event->'quotes', '[]'::jsonb))
             WITH ORDINALITY AS q(quote, n);
    """,
    # v3: each mention's display name (Entity.display_name of schema-3 events, for linked
    # entities), and entities named by it: the display name most mentioned under the id, else
    # the canonical name as before. Filled from the stored events; the entities recomputation
    # is a frozen copy of the runtime postgres._INSERT_TOUCHED_ENTITIES as of v3, over all
    # mentions.
    """
    ALTER TABLE entity_mentions ADD COLUMN display_name TEXT;
    UPDATE entity_mentions m SET display_name = e->>'display_name'
        FROM articles a, jsonb_array_elements(a.event->'entities') e
        WHERE a.article_id = m.article_id AND m.entity_id IS NOT NULL
          AND e->>'display_name' IS NOT NULL AND e->>'entity_id' = m.entity_id
          AND (e->>'start')::integer = m.start_offset AND (e->>'end')::integer = m.end_offset;
    DELETE FROM entities;
    WITH keyed AS (
        SELECT m.entity_id,
               CASE WHEN m.entity_id IS NULL THEN m.canonical END AS key_canonical,
               CASE WHEN m.entity_id IS NULL THEN m.label END AS key_label,
               coalesce(m.display_name, m.canonical) AS canonical, m.label, m.article_id,
               coalesce(a.published, a.ingested_at) AS seen
        FROM entity_mentions m JOIN articles a USING (article_id)
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
     AND n.key_label IS NOT DISTINCT FROM t.key_label;
    """,
    # v4: each mention's own sentiment (Entity.sentiment of schema-4 events: how its sentence
    # portrays the entity), beside the score of the sentence it stands in. Nothing to fill:
    # the stored events are of schema version 3 or older (code before this migration refuses
    # version-4 events), so they have none and the columns stay NULL.
    """
    ALTER TABLE entity_mentions
        ADD COLUMN sentiment_label TEXT,
        ADD COLUMN sentiment_score DOUBLE PRECISION;
    """,
)
SCHEMA_VERSION: Final = len(MIGRATIONS)
