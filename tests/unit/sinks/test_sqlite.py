"""SqliteSink: the sink and database contracts, plus schema, migrations, columns, entities and
transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas import ArticleEnriched, EntityLabel, encode
from streams.sinks import Sink, SinkError, SqliteSink, WriteResult
from streams.sinks.database import article_columns
from streams.sinks.sqlite import MIGRATIONS, SCHEMA_VERSION, utc_text
from tests.support.entity_sentiment import as_version_3, with_entity_sentiment
from tests.support.sink_contract import (
    ALIASES,
    DUTCH,
    T0,
    DatabaseSinkContract,
    FileSinkContract,
    SampleText,
    SinkFactory,
    make_event,
)

INJECTION = "'); DROP TABLE articles; --"


@contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A separate connection, as another reader of the database would have."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


def _rows(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with _connect(path) as conn:
        return list(conn.execute(sql, params).fetchall())


def _write_version_1(path: Path, events: Sequence[ArticleEnriched]) -> None:
    """The database the version-1 SqliteSink made of ``events`` (its schema, rows and keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _connect(path) as conn:
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY NOT NULL,"
            " applied_at TEXT NOT NULL)"
        )
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1, '2024-05-01T00:00:00.000000Z')")
        for event in events:
            row = article_columns(event)
            del row["story_id"], row["supersedes"]  # not columns of version 1
            row |= {
                "published": None if event.published is None else utc_text(event.published),
                "entity_count": len({(e.canonical, e.label) for e in event.entities}),
                "enriched_at": utc_text(event.enriched_at),
                "ingested_at": utc_text(event.ingested_at),
            }
            columns, names = ", ".join(row), ", ".join(f":{k}" for k in row)
            conn.execute(f"INSERT INTO articles ({columns}) VALUES ({names})", row)
            first: dict[tuple[str, str], tuple[int, int, str]] = {}
            mentions: dict[tuple[str, str], int] = {}
            for e in sorted(event.entities, key=lambda e: (e.start, e.end)):
                key = (e.canonical, e.label.value)
                first.setdefault(key, (e.start, e.end, e.text))
                mentions[key] = mentions.get(key, 0) + 1
            conn.executemany(
                "INSERT INTO entities VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(event.article_id, *key, mentions[key], *first[key]) for key in first],
            )


class TestSqliteSink(FileSinkContract, DatabaseSinkContract):
    sink_type = SqliteSink
    file_name = "articles.sqlite3"
    article_entities = (
        "SELECT entity_id, canonical, label, mentions FROM entities WHERE article_id = ?"
        " ORDER BY first_start"
    )

    def stored_state(self, sink: Sink) -> object:
        assert isinstance(sink, SqliteSink)
        return (
            _rows(sink.path, "SELECT * FROM articles ORDER BY article_id"),
            _rows(sink.path, "SELECT * FROM entities ORDER BY article_id, first_start"),
            _rows(sink.path, "SELECT * FROM quotes ORDER BY article_id, position"),
        )

    def rows(self, sink: Sink, query: str, *params: object) -> list[tuple[Any, ...]]:
        assert isinstance(sink, SqliteSink)
        return _rows(sink.path, query, *params)

    def write_version_1(self, directory: Path, events: Sequence[ArticleEnriched]) -> None:
        _write_version_1(directory / self.file_name, events)

    # --- schema ----------------------------------------------------------------------------

    def test_schema_version_table_and_wal(self, sink: Sink, path: Path) -> None:
        versions = _rows(path, "SELECT version, applied_at FROM schema_version")
        assert (
            [version for version, _ in versions] == [1, 2, 3] == list(range(1, SCHEMA_VERSION + 1))
        )
        assert versions[0][1].endswith("Z")
        assert _rows(path, "PRAGMA journal_mode") == [("wal",)]
        tables = {name for (name,) in _rows(path, "SELECT name FROM sqlite_master")}
        assert {"articles", "entities", "quotes", "current_articles", "schema_version"} <= tables

    def test_reopening_does_not_migrate_again(
        self, make_sink: SinkFactory, tmp_path: Path, path: Path
    ) -> None:
        for _ in range(3):
            with make_sink(tmp_path):
                pass
        assert _rows(path, "SELECT version FROM schema_version") == [(1,), (2,), (3,)]

    def test_a_newer_schema_is_refused(
        self, make_sink: SinkFactory, tmp_path: Path, path: Path
    ) -> None:
        with make_sink(tmp_path):
            pass
        with _connect(path) as conn:
            conn.execute("INSERT INTO schema_version VALUES (?, ?)", (SCHEMA_VERSION + 1, "later"))

        with pytest.raises(SinkError, match="newer than this code"):
            make_sink(tmp_path).open()

    def test_a_file_that_is_no_database_is_refused(
        self, make_sink: SinkFactory, tmp_path: Path, path: Path
    ) -> None:
        path.write_bytes(b"these are not the pages you are looking for" * 100)
        with pytest.raises(SinkError, match="not a usable SQLite database"):
            make_sink(tmp_path).open()

    # --- columns ---------------------------------------------------------------------------

    def test_columns_are_flattened_for_queries(self, sink: Sink, path: Path) -> None:
        event = make_event(enriched_at=T0.astimezone(timezone(timedelta(hours=2))))
        sink.write([event])

        with _connect(path) as conn:
            conn.row_factory = sqlite3.Row
            row = conn.execute("SELECT * FROM articles").fetchone()
            assert row is not None
            columns = dict(row)

        assert columns["article_id"] == event.article_id
        assert columns["event_id"] == event.event_id
        assert columns["source_id"] == "nos-2024"
        assert columns["title"] == event.title
        assert columns["body"] == DUTCH.body
        assert columns["published"] == "2024-05-14T05:00:00.000000Z"
        assert columns["published_precision"] == "time"
        assert columns["language"] == "nl"
        assert columns["language_confidence"] == pytest.approx(0.97)
        assert columns["sentiment_label"] == event.sentiment.label.value
        assert columns["sentiment_score"] == pytest.approx(event.sentiment.score)
        assert columns["entity_count"] == 4
        assert orjson.loads(columns["provenance"]) == [
            {"name": p.name, "version": p.version} for p in event.provenance
        ]
        assert columns["enriched_at"] == "2024-05-14T09:30:00.250000Z"
        assert columns["ingested_at"] == "2024-05-14T09:27:00.250000Z"
        assert columns["event"] == encode(event).decode()

    def test_entities_are_counted_per_canonical_name(self, sink: Sink, path: Path) -> None:
        event = make_event()
        sink.write([event])

        rows = _rows(
            path,
            "SELECT canonical, label, mentions, first_start, first_end, first_text"
            " FROM entities WHERE article_id = ? ORDER BY first_start",
            event.article_id,
        )

        start = DUTCH.body.index
        assert rows == [
            ("Mark Rutte", "PER", 2, start("Mark Rutte"), start("Mark Rutte") + 10, "Mark Rutte"),
            ("Den Haag", "LOC", 1, start("Den Haag"), start("Den Haag") + 8, "Den Haag"),
            (
                "Frans Timmermans",
                "PER",
                2,
                start("Frans Timmermans"),
                start("Frans Timmermans") + 16,
                "Frans Timmermans",
            ),
            (
                "Tweede Kamer",
                "ORG",
                1,
                start("Tweede Kamer"),
                start("Tweede Kamer") + 12,
                "Tweede Kamer",
            ),
        ]

    def test_entity_count_counts_entity_ids(self, sink: Sink, path: Path) -> None:
        sink.write([make_event("un", text=ALIASES)])
        # Michael P. / Michael P, New York, Verenigde Naties / United Nations.
        assert _rows(path, "SELECT entity_count FROM articles") == [(3,)]

    def test_a_linked_entity_is_named_by_its_display_name(self, sink: Sink, path: Path) -> None:
        event = make_event("un", text=ALIASES)
        event = event.model_copy(
            update={
                "entities": tuple(
                    e.model_copy(
                        update={
                            "display_name": "De VN" if e.entity_id == "org/united-nations" else None
                        }
                    )
                    for e in event.entities
                )
            }
        )
        sink.write([event])

        assert _rows(
            path, "SELECT canonical FROM entities WHERE entity_id = 'org/united-nations'"
        ) == [("De VN",)]
        assert _rows(path, "SELECT canonical FROM entities WHERE entity_id = 'per/michael-p'") == [
            ("Michael P.",)
        ]

    def test_entities_without_an_id_are_one_per_name_and_label(
        self, sink: Sink, path: Path
    ) -> None:
        sink.write([make_event("un", text=ALIASES, linked=False)])

        assert _rows(
            path, "SELECT entity_id, canonical, mentions FROM entities ORDER BY first_start"
        ) == [
            (None, "Michael P.", 2),
            (None, "New York", 1),
            (None, "Verenigde Naties", 1),
            (None, "Michael P", 1),
            (None, "United Nations", 1),
        ]
        assert _rows(path, "SELECT entity_count FROM articles") == [(5,)]

    def test_entities_carry_the_sentiment_toward_them_in_the_article(
        self, sink: Sink, path: Path
    ) -> None:
        """Ajax praised and Feyenoord blamed in a mildly positive article: each entity row has
        the aggregate of its own mentions, opposite for the two; a redelivery changes nothing,
        a later derivation without entity sentiment (a version-3 event) leaves NULL."""
        event = with_entity_sentiment("m1", document_score=0.25)
        query = (
            "SELECT canonical, mentions, sentiment_label, sentiment_score FROM entities"
            " WHERE article_id = 'm1' ORDER BY first_start"
        )
        sink.write([event])
        assert _rows(path, query) == [
            ("Ajax", 2, "positive", pytest.approx(0.625)),
            ("Feyenoord", 2, "negative", pytest.approx(-0.625)),
        ]
        state = self.stored_state(sink)
        assert sink.write([event]) == WriteResult(unchanged=1)
        assert self.stored_state(sink) == state

        old = as_version_3(with_entity_sentiment("m1", document_score=0.25)).model_copy(
            update={"event_id": "e-m1-v3", "enriched_at": event.enriched_at + timedelta(hours=1)}
        )
        assert sink.write([old]) == WriteResult(updated=1)
        assert _rows(path, query) == [("Ajax", 2, None, None), ("Feyenoord", 2, None, None)]
        assert _rows(path, "SELECT sentiment_score FROM articles") == [(0.25,)]

    def test_a_version_2_file_gets_the_entity_sentiment_columns(
        self, make_sink: SinkFactory, tmp_path: Path, path: Path
    ) -> None:
        with make_sink(tmp_path) as sink:
            sink.write([make_event("a1")])
        with _connect(path) as conn:
            # What the version-2 sink had stored of the same event.
            conn.execute("ALTER TABLE entities DROP COLUMN sentiment_label")
            conn.execute("ALTER TABLE entities DROP COLUMN sentiment_score")
            conn.execute("DELETE FROM schema_version WHERE version = 3")

        with make_sink(tmp_path) as sink:
            assert _rows(
                path,
                "SELECT count(*), count(sentiment_label), count(sentiment_score) FROM entities",
            ) == [(4, 0, 0)]
            sink.write([with_entity_sentiment("m1")])
        assert _rows(
            path,
            "SELECT canonical, sentiment_label FROM entities WHERE article_id = 'm1'"
            " ORDER BY first_start",
        ) == [("Ajax", "positive"), ("Feyenoord", "negative")]

    def test_a_version_1_file_is_upgraded_once_and_recorded(
        self, make_sink: SinkFactory, tmp_path: Path, path: Path
    ) -> None:
        events = [make_event("a1", text=ALIASES, story_id="s"), make_event("a2", supersedes="a1")]
        _write_version_1(path, events)
        with make_sink(tmp_path) as sink:
            assert sink.count() == 2
        assert _rows(path, "SELECT version FROM schema_version ORDER BY version") == [
            (1,),
            (2,),
            (3,),
        ]
        assert _rows(path, "SELECT article_id, story_id, supersedes FROM current_articles") == [
            ("a2", None, "a1")
        ]

    def test_entities_are_replaced_with_their_article(self, sink: Sink, path: Path) -> None:
        old = make_event(version="1.0", enriched_at=T0)
        new = make_event(
            version="2.0",
            enriched_at=T0 + timedelta(hours=1),
            text=SampleText(DUTCH.body, [("Den Haag", EntityLabel.LOC, "Den Haag")]),
        )
        sql = "SELECT canonical FROM entities WHERE article_id = ? ORDER BY canonical"
        sink.write([old])

        sink.write([new])
        assert _rows(path, sql, old.article_id) == [("Den Haag",)]
        assert _rows(path, "SELECT entity_count FROM articles") == [(1,)]

        sink.write([old])  # older: the article and its entities stay as they are
        assert _rows(path, sql, old.article_id) == [("Den Haag",)]

    # --- SQL safety and transactions -------------------------------------------------------

    def test_values_are_parameters_never_sql(self, sink: Sink, path: Path) -> None:
        hostile = make_event(
            "x'); DELETE FROM articles; --",
            title=INJECTION,
            text=SampleText(
                f"Iemand schreef {INJECTION} in het formulier van Den Haag.",
                [
                    (INJECTION, EntityLabel.MISC, INJECTION),
                    ("Den Haag", EntityLabel.LOC, "Den Haag"),
                ],
            ),
        )
        bystander = make_event("nos-2024-0002")

        assert sink.write([bystander, hostile]) == WriteResult(inserted=2)
        assert sink.write([hostile]) == WriteResult(unchanged=1)

        assert sink.count() == 2
        assert sink.get(hostile.article_id) == hostile
        assert sink.get(bystander.article_id) == bystander
        assert _rows(
            path, "SELECT title FROM articles WHERE article_id = ?", hostile.article_id
        ) == [(INJECTION,)]
        assert (INJECTION,) in _rows(path, "SELECT canonical FROM entities")

    def test_a_failing_batch_is_rolled_back_whole(self, sink: Sink, path: Path) -> None:
        with _connect(path) as conn:
            conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON articles WHEN NEW.article_id = 'boom'"
                " BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
            )
        batch = [make_event("nos-2024-0001"), make_event("boom"), make_event("nos-2024-0003")]

        with pytest.raises(sqlite3.IntegrityError, match="disk says no"):
            sink.write(batch)

        assert sink.count() == 0
        assert _rows(path, "SELECT COUNT(*) FROM entities") == [(0,)]
        with _connect(path) as conn:
            conn.execute("DROP TRIGGER refuse")
        assert sink.write(batch) == WriteResult(inserted=3)

    def test_committed_batches_are_visible_to_other_connections(
        self, sink: Sink, path: Path
    ) -> None:
        event = make_event()
        sink.write([event])
        assert _rows(path, "SELECT event_id FROM articles") == [(event.event_id,)]
