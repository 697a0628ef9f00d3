"""PostgresSink against the real PostgreSQL (127.0.0.1:5432, database test): the sink and database
contracts, plus migrations, entity totals by entity id, full-text search in Dutch (and
``newsstream search``'s output), and parameterised SQL.

Each test works in schemas of its own, dropped afterwards. A missing server fails the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from schemas import ArticleEnriched, EntityLabel
from streams.cli.main import cli
from streams.sinks import Sink, SinkError, WriteResult
from streams.sinks.database import article_columns
from streams.sinks.postgres import PostgresSink, SearchEntity
from streams.sinks.postgres_migrations import MIGRATIONS, SCHEMA_VERSION
from tests.support.entity_sentiment import as_version_3, with_entity_sentiment
from tests.support.sink_contract import (
    ALIASES,
    DUTCH,
    T0,
    DatabaseSinkContract,
    SampleText,
    SinkFactory,
    make_event,
)

pytestmark = pytest.mark.integration

DSN = os.environ.get(
    "NEWSSTREAM_TEST_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
INJECTION = "'); DROP TABLE articles; --"


def _schema_for(directory: Path) -> str:
    return "t_" + hashlib.sha256(str(directory).encode()).hexdigest()[:16]


def _rows(schema: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        return list(conn.execute(query, params).fetchall())  # type: ignore[arg-type]


@pytest.fixture
def schemas_to_drop() -> Iterator[set[str]]:
    created: set[str] = set()
    yield created
    with psycopg.connect(DSN, autocommit=True) as conn:
        for schema in created:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def _write_version_1(schema: str, events: Sequence[ArticleEnriched]) -> None:
    """The schema the version-1 PostgresSink made of ``events`` (its tables, rows and totals)."""
    with psycopg.connect(DSN, autocommit=True) as conn, conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(
            "CREATE TABLE schema_migrations ("
            "version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        conn.execute(MIGRATIONS[0])
        conn.execute("INSERT INTO schema_migrations (version) VALUES (1)")
        for event in events:
            row = article_columns(event)
            del row["story_id"], row["supersedes"]  # not columns of version 1
            row |= {
                "published": event.published,
                "ingested_at": event.ingested_at,
                "enriched_at": event.enriched_at,
            }
            conn.execute(
                sql.SQL("INSERT INTO articles ({}) VALUES ({})").format(
                    sql.SQL(", ").join(map(sql.Identifier, row)),
                    sql.SQL(", ").join(map(sql.Placeholder, row)),
                ),
                row,
            )
            sentences = event.sentiment.sentences
            for e in event.entities:
                score = next((x.score for x in sentences if x.start <= e.start < x.end), None)
                conn.execute(
                    "INSERT INTO entity_mentions VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (event.article_id, e.canonical, e.label.value, e.text, e.start, e.end, score),
                )
        conn.execute(
            "INSERT INTO entities SELECT canonical, label,"
            " min(coalesce(a.published, a.ingested_at)), max(coalesce(a.published, a.ingested_at)),"
            " count(*), count(DISTINCT article_id)"
            " FROM entity_mentions JOIN articles a USING (article_id) GROUP BY canonical, label"
        )


class TestPostgresSink(DatabaseSinkContract):
    article_entities = (
        "SELECT entity_id, (array_agg(canonical ORDER BY start_offset))[1],"
        " (array_agg(label ORDER BY start_offset))[1], count(*) FROM entity_mentions"
        " WHERE article_id = ? GROUP BY entity_id ORDER BY min(start_offset)"
    )

    @pytest.fixture(autouse=True)
    def _drop_afterwards(self, schemas_to_drop: set[str]) -> None:
        self._schemas = schemas_to_drop

    def _schema(self, directory: Path) -> str:
        schema = _schema_for(directory)
        self._schemas.add(schema)
        return schema

    @pytest.fixture
    def make_sink(self) -> SinkFactory:
        return lambda directory: PostgresSink(DSN, schema=self._schema(directory))

    def stored_state(self, sink: Sink) -> object:
        assert isinstance(sink, PostgresSink)
        return (
            _rows(sink.schema, "SELECT * FROM articles ORDER BY article_id"),
            _rows(
                sink.schema,
                "SELECT * FROM entity_mentions ORDER BY article_id, start_offset, end_offset",
            ),
            _rows(sink.schema, "SELECT * FROM entities ORDER BY entity_id, canonical, label"),
            _rows(sink.schema, "SELECT * FROM quotes ORDER BY article_id, position"),
        )

    def rows(self, sink: Sink, query: str, *params: object) -> list[tuple[Any, ...]]:
        assert isinstance(sink, PostgresSink)
        return _rows(sink.schema, query.replace("?", "%s"), *params)

    def write_version_1(self, directory: Path, events: Sequence[ArticleEnriched]) -> None:
        _write_version_1(self._schema(directory), events)

    @pytest.fixture
    def pg_sink(self, sink: Sink) -> PostgresSink:
        assert isinstance(sink, PostgresSink)
        return sink

    def test_migrations_are_recorded_once(
        self, make_sink: SinkFactory, tmp_path: Path, pg_sink: PostgresSink
    ) -> None:
        again = make_sink(tmp_path)
        with again:
            pass
        versions = _rows(pg_sink.schema, "SELECT version FROM schema_migrations ORDER BY 1")
        assert versions == [(1,), (2,), (3,), (4,)] == [(v,) for v in range(1, SCHEMA_VERSION + 1)]

    def test_a_newer_schema_is_refused(self, make_sink: SinkFactory, tmp_path: Path) -> None:
        sink = make_sink(tmp_path)
        with sink:
            pass
        assert isinstance(sink, PostgresSink)
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("INSERT INTO {}.schema_migrations (version) VALUES (99)").format(
                    sql.Identifier(sink.schema)
                )
            )
        with pytest.raises(SinkError, match="newer than this newsstream knows"):
            make_sink(tmp_path).open()

    def test_entity_totals_follow_the_mentions_and_never_double(
        self, pg_sink: PostgresSink
    ) -> None:
        first = make_event("a1")
        second = make_event("a2")
        pg_sink.write([first, second])
        pg_sink.write([first, second])  # a redelivery
        totals = {
            (entity_id, c, label): (mentions, articles)
            for entity_id, c, label, mentions, articles in _rows(
                pg_sink.schema,
                "SELECT entity_id, canonical, label, mention_count, article_count FROM entities",
            )
        }
        expected: dict[tuple[str | None, str, str], list[int]] = {}
        for event in (first, second):
            for entity in event.entities:
                key = (entity.entity_id, entity.canonical, entity.label.value)
                counts = expected.setdefault(key, [0, 0])
                counts[0] += 1
        for key in expected:
            expected[key][1] = sum(
                any((e.entity_id, e.canonical, e.label.value) == key for e in ev.entities)
                for ev in (first, second)
            )
        assert totals == {k: tuple(v) for k, v in expected.items()}

    def test_a_newer_derivation_replaces_the_mentions_and_totals(
        self, pg_sink: PostgresSink
    ) -> None:
        old = make_event("a1", version="1.0")
        new = make_event(
            "a1",
            version="2.0",
            enriched_at=T0.replace(hour=T0.hour + 1),
            text=SampleText(DUTCH.body, [("Rutte", EntityLabel.PER, "Mark Rutte")]),
        )
        pg_sink.write([old])
        pg_sink.write([new])
        mentions = _rows(pg_sink.schema, "SELECT DISTINCT canonical FROM entity_mentions")
        assert mentions == [("Mark Rutte",)]
        assert _rows(pg_sink.schema, "SELECT canonical FROM entities") == [("Mark Rutte",)]

    def test_dutch_full_text_search_finds_inflected_words_ranked(
        self, pg_sink: PostgresSink
    ) -> None:
        pg_sink.write(
            [
                make_event(
                    "nuke",
                    text=SampleText(
                        "Noord-Korea wil zijn kernwapens niet opgeven, zei Kim Jong-un in Hanoi.",
                        [
                            ("Kim Jong-un", EntityLabel.PER, "Kim Jong-un"),
                            ("Hanoi", EntityLabel.LOC, "Hanoi"),
                        ],
                    ),
                    title="Geen akkoord over kernwapen",
                ),
                make_event("other"),
            ]
        )
        hits = pg_sink.search("kernwapen")
        assert [h.article_id for h in hits] == ["nuke"]
        assert SearchEntity("per/kim-jong-un", "Kim Jong-un", "PER", 1) in hits[0].entities
        assert "kernwapens" in hits[0].snippet.lower()
        assert pg_sink.search("tulpenbollen") == []

    def test_entities_are_one_row_per_entity_id_across_articles(
        self, pg_sink: PostgresSink
    ) -> None:
        # "Michael P." is the most mentioned spelling of per/michael-p over both articles.
        pg_sink.write([make_event("un", text=ALIASES), make_event("un2", text=ALIASES)])
        pg_sink.write([make_event("un", text=ALIASES)])  # a redelivery counts nothing twice

        assert _rows(
            pg_sink.schema,
            "SELECT entity_id, canonical, label, mention_count, article_count FROM entities"
            " ORDER BY entity_id",
        ) == [
            ("loc/new-york", "New York", "LOC", 2, 2),
            ("org/united-nations", "United Nations", "ORG", 4, 2),
            ("per/michael-p", "Michael P.", "PER", 6, 2),
        ]

    def test_entities_without_an_id_are_one_row_per_name_and_label(
        self, pg_sink: PostgresSink
    ) -> None:
        linked = make_event("un", text=ALIASES)
        unlinked = make_event("un2", text=ALIASES, linked=False)
        pg_sink.write([linked, unlinked])
        rows = _rows(
            pg_sink.schema,
            "SELECT entity_id, canonical, mention_count FROM entities WHERE entity_id IS NULL"
            " ORDER BY canonical",
        )
        assert rows == [
            (None, "Michael P", 1),
            (None, "Michael P.", 2),
            (None, "New York", 1),
            (None, "United Nations", 1),
            (None, "Verenigde Naties", 1),
        ]
        pg_sink.write([make_event("un2", version="2.0", enriched_at=T0 + timedelta(hours=1))])
        assert _rows(pg_sink.schema, "SELECT count(*) FROM entities WHERE entity_id IS NULL") == [
            (0,)
        ]

    def test_search_prints_current_articles_with_story_and_entity_ids(
        self, pg_sink: PostgresSink
    ) -> None:
        body = "Michael P. sprak over kernwapens met de Verenigde Naties. Michael P zei niets."
        text = SampleText(body, ALIASES.names, ALIASES.ids)
        first = make_event("v1", text=text, story_id="story-9")
        edited = make_event(
            "v2",
            text=SampleText(body + " Bijgewerkt.", text.names, text.ids),
            story_id="story-9",
            supersedes="v1",
        )
        pg_sink.write([edited, first])  # the edit may arrive first

        result = CliRunner().invoke(
            cli,
            ["search", "kernwapen"],
            env={"NEWSSTREAM_POSTGRES_DSN": DSN, "NEWSSTREAM_POSTGRES_SCHEMA": pg_sink.schema},
        )

        assert result.exit_code == 0, result.output
        hits = [json.loads(line) for line in result.output.splitlines()]
        assert [(h["article_id"], h["story_id"]) for h in hits] == [("v2", "story-9")]
        assert hits[0]["entities"] == [
            {"entity_id": "per/michael-p", "name": "Michael P.", "label": "PER", "mentions": 2},
            {
                "entity_id": "org/united-nations",
                "name": "Verenigde Naties",
                "label": "ORG",
                "mentions": 1,
            },
        ]

    def test_entities_and_search_show_the_display_name(self, pg_sink: PostgresSink) -> None:
        # Without display names "United Nations" and "Verenigde Naties" tie (one mention each)
        # and the first in alphabetical order, the English one, named the entity.
        pg_sink.write([_shown(make_event("un", text=ALIASES))])

        assert _rows(
            pg_sink.schema,
            "SELECT canonical, mention_count FROM entities WHERE entity_id = 'org/united-nations'",
        ) == [("Verenigde Naties", 2)]
        assert _rows(
            pg_sink.schema,
            "SELECT canonical, display_name FROM entity_mentions"
            " WHERE entity_id = 'org/united-nations' ORDER BY start_offset",
        ) == [("Verenigde Naties", "Verenigde Naties"), ("United Nations", "Verenigde Naties")]
        hits = pg_sink.search("reageerden")
        assert {e.entity_id: e.name for e in hits[0].entities} == {
            "per/michael-p": "Michael P.",
            "loc/new-york": "New York",
            "org/united-nations": "Verenigde Naties",
        }

    def test_a_version_2_database_gets_the_display_names_of_its_events(
        self, make_sink: SinkFactory, tmp_path: Path, pg_sink: PostgresSink
    ) -> None:
        pg_sink.write([_shown(make_event("un", text=ALIASES))])
        pg_sink.close()
        with psycopg.connect(DSN, autocommit=True) as conn, conn.transaction():
            # What the version-2 sink had stored of the same event.
            conn.execute(
                sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(pg_sink.schema))
            )
            conn.execute(
                "ALTER TABLE entity_mentions DROP COLUMN display_name,"
                " DROP COLUMN sentiment_label, DROP COLUMN sentiment_score"
            )
            conn.execute("UPDATE entities SET canonical = 'United Nations' WHERE label = 'ORG'")
            conn.execute("DELETE FROM schema_migrations WHERE version >= 3")

        with make_sink(tmp_path):
            pass

        assert _rows(
            pg_sink.schema,
            "SELECT entity_id, canonical FROM entities ORDER BY entity_id",
        ) == [
            ("loc/new-york", "New York"),
            ("org/united-nations", "Verenigde Naties"),
            ("per/michael-p", "Michael P."),
        ]
        assert _rows(
            pg_sink.schema,
            "SELECT count(display_name), count(*) FROM entity_mentions",
        ) == [(6, 6)]

    def test_mentions_keep_their_own_sentiment_beside_their_sentence_s(
        self, pg_sink: PostgresSink
    ) -> None:
        """Ajax praised and Feyenoord blamed in a mildly positive article: each mention row has
        its own sentiment, the sentence's score stays beside it, and a redelivery or an older
        derivation changes nothing."""
        event = with_entity_sentiment("m1", document_score=0.25)
        pg_sink.write([event])
        pg_sink.write([event])  # a redelivery
        query = (
            "SELECT text, start_offset, sentence_sentiment, sentiment_label, sentiment_score"
            " FROM entity_mentions WHERE article_id = %s ORDER BY start_offset"
        )
        expected = [
            (e.text, e.start, 0.25, e.sentiment.label.value, e.sentiment.score)
            for e in event.entities
            if e.sentiment is not None
        ]
        assert len(expected) == 4
        assert _rows(pg_sink.schema, query, "m1") == expected
        assert {r[0]: r[3] for r in expected} == {"Ajax": "positive", "Feyenoord": "negative"}
        before = _rows(pg_sink.schema, "SELECT * FROM entity_mentions ORDER BY start_offset")

        # Another derivation (later) of the same article, written by a version-3 enricher:
        # its mentions replace the others, without sentiment; the sentence score stays.
        old = as_version_3(with_entity_sentiment("m1", document_score=-0.5)).model_copy(
            update={"event_id": "e-m1-v3", "enriched_at": event.enriched_at + timedelta(hours=1)}
        )
        assert pg_sink.write([old]) == WriteResult(updated=1)
        assert _rows(pg_sink.schema, query, "m1") == [
            (e.text, e.start, -0.5, None, None) for e in event.entities
        ]
        # The first derivation again: older, so nothing changes.
        assert pg_sink.write([event]) == WriteResult(unchanged=1)
        assert _rows(pg_sink.schema, query, "m1")[0][3:] == (None, None)
        newest = event.model_copy(
            update={"event_id": "e-m1-v4", "enriched_at": event.enriched_at + timedelta(hours=2)}
        )
        pg_sink.write([newest])
        assert _rows(pg_sink.schema, "SELECT * FROM entity_mentions ORDER BY start_offset") == (
            before
        )

    def test_a_version_3_database_gets_the_entity_sentiment_columns(
        self, make_sink: SinkFactory, tmp_path: Path, pg_sink: PostgresSink
    ) -> None:
        pg_sink.write([make_event("a1")])
        pg_sink.close()
        with psycopg.connect(DSN, autocommit=True) as conn, conn.transaction():
            # What the version-3 sink had stored of the same event.
            conn.execute(
                sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(pg_sink.schema))
            )
            conn.execute(
                "ALTER TABLE entity_mentions DROP COLUMN sentiment_label,"
                " DROP COLUMN sentiment_score"
            )
            conn.execute("DELETE FROM schema_migrations WHERE version = 4")

        with make_sink(tmp_path) as upgraded:
            assert _rows(
                pg_sink.schema,
                "SELECT count(*), count(sentiment_label), count(sentiment_score),"
                " count(sentence_sentiment) FROM entity_mentions",
            ) == [(6, 0, 0, 6)]
            upgraded.write([with_entity_sentiment("m1")])
            assert _rows(
                pg_sink.schema,
                "SELECT DISTINCT text, sentiment_label FROM entity_mentions"
                " WHERE article_id = 'm1' ORDER BY 1",
            ) == [("Ajax", "positive"), ("Feyenoord", "negative")]

    def test_sql_is_parameterised(self, pg_sink: PostgresSink) -> None:
        event = make_event("evil", title=INJECTION)
        pg_sink.write([event])
        assert pg_sink.get("evil") == event
        pg_sink.search(INJECTION)  # searched for as words, never run as SQL
        assert pg_sink.count() == 1
        assert _rows(pg_sink.schema, "SELECT title FROM articles") == [(INJECTION,)]

    def test_the_dsn_never_shows(self) -> None:
        sink = PostgresSink("host=127.0.0.1 user=postgres password=s3cret dbname=test")
        assert "s3cret" not in repr(sink)
        broken = PostgresSink("host=127.0.0.1 port=1 user=x password=s3cret dbname=nope")
        with pytest.raises(SinkError) as info:
            broken.open()
        assert "s3cret" not in str(info.value)


def _shown(event: ArticleEnriched) -> ArticleEnriched:
    """``event`` as the entity linker leaves a Dutch article: each linked entity with the
    name shown for its id (the curated Dutch name, else the article's fullest name)."""
    shown = {"org/united-nations": "Verenigde Naties", "per/michael-p": "Michael P."}
    return event.model_copy(
        update={
            "entities": tuple(
                e.model_copy(update={"display_name": shown.get(e.entity_id or "", e.canonical)})
                for e in event.entities
            )
        }
    )
