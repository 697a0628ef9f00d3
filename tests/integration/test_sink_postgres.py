"""PostgresSink against the real PostgreSQL (127.0.0.1:5432, database test): the sink contract,
plus migrations, entity totals, full-text search in Dutch, and parameterised SQL.

Each test works in schemas of its own, dropped afterwards. A missing server fails the tests.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from schemas import EntityLabel
from streams.sinks import Sink, SinkError
from streams.sinks.postgres import SCHEMA_VERSION, PostgresSink
from tests.support.sink_contract import (
    DUTCH,
    T0,
    SampleText,
    SinkContract,
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


class TestPostgresSink(SinkContract):
    @pytest.fixture
    def make_sink(self, schemas_to_drop: set[str]) -> SinkFactory:
        def make(directory: Path) -> Sink:
            schema = _schema_for(directory)
            schemas_to_drop.add(schema)
            return PostgresSink(DSN, schema=schema)

        return make

    def stored_state(self, sink: Sink) -> object:
        assert isinstance(sink, PostgresSink)
        return (
            _rows(sink.schema, "SELECT * FROM articles ORDER BY article_id"),
            _rows(
                sink.schema,
                "SELECT * FROM entity_mentions ORDER BY article_id, start_offset, end_offset",
            ),
            _rows(sink.schema, "SELECT * FROM entities ORDER BY canonical, label"),
        )

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
        versions = _rows(pg_sink.schema, "SELECT version FROM schema_migrations")
        assert versions == [(SCHEMA_VERSION,)]

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
            (c, label): (mentions, articles)
            for c, label, mentions, articles in _rows(
                pg_sink.schema,
                "SELECT canonical, label, mention_count, article_count FROM entities",
            )
        }
        expected: dict[tuple[str, str], list[int]] = {}
        for event in (first, second):
            for entity in event.entities:
                counts = expected.setdefault((entity.canonical, entity.label.value), [0, 0])
                counts[0] += 1
        for key in expected:
            expected[key][1] = sum(
                any((e.canonical, e.label.value) == key for e in ev.entities)
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
        assert "Kim Jong-un (PER)" in hits[0].entities
        assert "kernwapens" in hits[0].snippet.lower()
        assert pg_sink.search("tulpenbollen") == []

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
