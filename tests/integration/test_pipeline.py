"""The whole path on real parts: watcher -> Tansu -> Faust worker -> topics -> sinks.

One worker and both sinks run as real ``newsstream`` processes for the module (their start,
with the NER and sentiment models, takes a while); each test drops files with ``newsstream watch``
and checks what users see: topic events, SQLite rows, JSONL lines.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from aiokafka import AIOKafkaProducer

from tests.support.processes import SAMPLES, Stack, wait_until

pytestmark = [pytest.mark.integration]

# The first run includes the worker's start: the NER and sentiment models load, the group join.
FIRST_RESULT_SECONDS = 180.0
RESULT_SECONDS = 90.0


@pytest.fixture(scope="module")
def seeds_done(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    inbox = tmp_path_factory.mktemp("inbox")
    for seed in SAMPLES.iterdir():
        shutil.copy(seed, inbox / seed.name)
    stack.cli("watch", str(inbox), "--once")
    wait_until(
        lambda: stack.sqlite_rows(), lambda rows: len(rows) >= 2, FIRST_RESULT_SECONDS, stack
    )
    return inbox


def _by_source(events: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(e["source_id"]): e for e in events}


def test_two_seed_articles_give_two_events_two_rows_two_lines(
    stack: Stack, seeds_done: Path
) -> None:
    enriched = stack.events("articles.enriched")
    assert len(enriched) == 2
    assert {e["event_type"] for e in enriched} == {"ArticleEnriched"}
    assert len(stack.sqlite_rows()) == 2
    lines = stack.jsonl_lines()
    assert len(lines) == 2
    assert {str(line["article_id"]) for line in lines} == {str(e["article_id"]) for e in enriched}


def test_seed_000_names_the_leaders_and_the_places(stack: Stack, seeds_done: Path) -> None:
    article = _by_source(stack.events("articles.enriched"))["000_7b201681f24eebfa"]
    entities = {(e["canonical"], e["label"]) for e in article["entities"]}  # type: ignore[union-attr]
    assert {("Donald Trump", "PER"), ("Kim Jong-un", "PER"), ("Hanoi", "LOC")} <= entities
    assert {("Noord-Korea", "LOC"), ("Witte Huis", "ORG"), ("Amerikaanse", "MISC")} <= entities
    body = str(article["body"])
    for entity in article["entities"]:  # type: ignore[union-attr]
        assert body[entity["start"] : entity["end"]] == entity["text"]
    assert article["language"]["code"] == "nl"  # type: ignore[index]
    assert article["sentiment"]["label"] in {"negative", "neutral", "positive"}  # type: ignore[index]
    names = {p["name"] for p in article["provenance"]}  # type: ignore[union-attr]
    assert {
        "sentences-syntok",
        "language-fasttext-lite",
        "ner-e5",
        "entity-links",
        "quotes-rules",
        "sentiment-e5",
    } <= names


def test_date_marker_becomes_published_and_leaves_the_body(stack: Stack, seeds_done: Path) -> None:
    article = _by_source(stack.events("articles.enriched"))["002_5e518ff5de4b58f3"]
    assert str(article["published"]).startswith("2019-02-01T00:00:00")
    assert article["published_precision"] == "month"
    assert "date 2019-02" not in str(article["body"])
    assert str(article["body"]).startswith("De Amerikaanse president Donald Trump")


def test_entities_topic_has_one_event_per_article_and_canonical_entity(
    stack: Stack, seeds_done: Path
) -> None:
    events = stack.events("entities")
    keys = [(e["article_id"], e["canonical"], e["label"]) for e in events]
    assert len(keys) == len(set(keys)) > 0
    trump = [e for e in events if e["canonical"] == "Donald Trump"]
    assert len(trump) == 2  # both articles
    assert all(len(e["mentions"]) >= 2 for e in trump)  # type: ignore[arg-type]


def test_restarting_the_watcher_or_renaming_a_file_publishes_nothing_new(
    stack: Stack, seeds_done: Path
) -> None:
    again = stack.cli("watch", str(seeds_done), "--once")
    assert again.stdout.strip() == b""  # nothing left to handle
    seed = next(SAMPLES.iterdir())
    shutil.copy(seed, seeds_done / "same-content-other-name.txt")
    renamed = stack.cli("watch", str(seeds_done), "--once").stdout.decode()
    assert "duplicate" in renamed
    assert "same-content-other-name.txt" in renamed
    assert len(stack.events("articles.raw")) == 2
    assert len(stack.sqlite_rows()) == 2


def test_quotes_topic_names_the_speakers(stack: Stack, seeds_done: Path) -> None:
    quotes = stack.events("quotes")
    by_article: dict[str, list[dict[str, object]]] = {}
    for quote in quotes:
        by_article.setdefault(str(quote["article_id"]), []).append(quote)
    assert sorted(len(q) for q in by_article.values()) == [8, 16]  # the seeds' gold counts
    speakers = {(q["speaker"], q["speaker_id"]) for q in quotes}
    assert ("Donald Trump", "per/donald-trump") in speakers
    assert ("Mike Pompeo", "per/mike-pompeo") in speakers
    enriched = _by_source(stack.events("articles.enriched"))["000_7b201681f24eebfa"]
    body = str(enriched["body"])
    for quote in enriched["quotes"]:  # type: ignore[union-attr]
        assert body[quote["start"] : quote["end"]] == quote["text"]


def test_schemas_validate_the_produced_events(
    stack: Stack, seeds_done: Path, tmp_path: Path
) -> None:
    stack.cli("schemas", "--out", str(tmp_path))
    for suffix, name in [
        ("articles.raw", "ArticleIngested"),
        ("articles.enriched", "ArticleEnriched"),
        ("entities", "EntityMentioned"),
        ("quotes", "QuoteSaid"),
    ]:
        schema = json.loads((tmp_path / f"{name}.schema.json").read_text())
        events = stack.events(suffix)
        assert events
        for event in events:
            jsonschema.validate(event, schema)


BAD_FILES: dict[str, bytes] = {
    "empty.txt": b"",
    "whitespace.txt": b"  \n\t\n",
    "binary.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "latin1.txt": "Café in Den Haag".encode("latin-1"),
    "not-json.json": b"{'body': 'single quotes'}",
    "no-body.json": b'{"title": "Alleen een titel"}',
    "array.json": b'[{"body": "x"}]',
    "wrong-type.json": b'{"body": 42}',
    "only-marker.txt": b"date 2019-02 \n",
    "too-large.txt": b"groot " * 400_000,
    "report.pdf": b"%PDF-1.4 not an article",
}
EXPECTED_REASONS = {
    "empty.txt": "empty-file",
    "whitespace.txt": "empty-file",
    "binary.txt": "binary",
    "latin1.txt": "undecodable-text",
    "not-json.json": "invalid-json",
    "no-body.json": "invalid-article",
    "array.json": "invalid-article",
    "wrong-type.json": "invalid-article",
    "only-marker.txt": "empty-body",
    "too-large.txt": "too-large",
    "report.pdf": "unsupported-format",
    "escape.txt": "symlink",
    "linked-dir": "symlink",
}


def test_each_bad_file_is_dead_lettered_and_the_pipeline_keeps_working(
    stack: Stack, seeds_done: Path, tmp_path: Path
) -> None:
    inbox = tmp_path / "bad-inbox"
    inbox.mkdir()
    for name, data in BAD_FILES.items():
        (inbox / name).write_bytes(data)
    (inbox / "escape.txt").symlink_to("/etc/passwd")
    (inbox / "linked-dir").symlink_to(seeds_done, target_is_directory=True)
    good = "Premier Rutte sprak in Den Haag met koning Willem-Alexander over de begroting."
    (inbox / "good-after-bad.txt").write_text(good, encoding="utf-8")
    stack.cli("watch", str(inbox), "--once", "--max-file-bytes", "1000000")

    letters = {
        e["origin"]["path"]: e  # type: ignore[index]
        for e in stack.events("deadletter")
        if e["stage"] == "watch"
    }
    assert {path: letters[path]["reason"] for path in EXPECTED_REASONS} == EXPECTED_REASONS
    latin1 = letters["latin1.txt"]
    assert base64.b64decode(str(latin1["payload_b64"])) == BAD_FILES["latin1.txt"]
    assert latin1["detail"]  # a sentence for people, beside the machine-readable reason
    assert letters["too-large.txt"]["payload_truncated"] is True

    rows = wait_until(
        lambda: stack.sqlite_rows("SELECT source_id FROM articles"),
        lambda rows: ("good-after-bad",) in rows,
        RESULT_SECONDS,
        stack,
    )
    assert len(rows) == 3
    stack.assert_running()


async def test_junk_on_the_raw_topic_is_dead_lettered_with_its_offset(
    stack: Stack, seeds_done: Path, tmp_path: Path
) -> None:
    from streams.kafka.client import KafkaConnection

    conn = KafkaConnection(bootstrap_servers=stack.env["NEWSSTREAM_BROKER"], is_tansu=True)
    from streams.kafka.client import new_producer

    producer: AIOKafkaProducer = new_producer(conn)
    await producer.start()
    try:
        junk = await (await producer.send(stack.topic("articles.raw"), b"\xff not json", key=b"j"))
        invalid = b'{"event_type": "ArticleIngested", "article_id": "x"}'
        wrong = await (await producer.send(stack.topic("articles.raw"), invalid, key=b"w"))
    finally:
        await producer.stop()
    inbox = tmp_path / "after-junk"
    inbox.mkdir()
    (inbox / "after-junk.txt").write_text(
        "Minister Hoekstra reisde naar Brussel voor overleg met de Europese Commissie.",
        encoding="utf-8",
    )
    stack.cli("watch", str(inbox), "--once")
    wait_until(
        lambda: stack.sqlite_rows("SELECT source_id FROM articles"),
        lambda rows: ("after-junk",) in rows,
        RESULT_SECONDS,
        stack,
    )
    decode_letters = [e for e in stack.events("deadletter") if e["stage"] == "decode"]
    by_offset = {
        (e["origin"]["partition"], e["origin"]["offset"]): e  # type: ignore[index]
        for e in decode_letters
    }
    junk_letter = by_offset[(junk.partition, junk.offset)]
    assert junk_letter["reason"] == "invalid-json"
    assert junk_letter["origin"]["topic"] == stack.topic("articles.raw")  # type: ignore[index]
    assert base64.b64decode(str(junk_letter["payload_b64"])) == b"\xff not json"
    assert by_offset[(wrong.partition, wrong.offset)]["reason"] == "invalid-event"
    stack.assert_running()


def test_postgres_sink_and_dutch_search_over_the_seeds(stack: Stack, seeds_done: Path) -> None:
    import psycopg
    from psycopg import sql

    schema = f"pipeline_{stack.prefix.strip('.')}"
    stack.env["NEWSSTREAM_POSTGRES_DSN"] = "host=127.0.0.1 port=5432 user=postgres dbname=test"
    stack.env["NEWSSTREAM_POSTGRES_SCHEMA"] = schema
    try:
        stack.start("sink-postgres", "sink", "postgres")
        hits = wait_until(
            lambda: [json.loads(line) for line in stack.cli("search", "wapen").stdout.splitlines()],
            lambda hits: len(hits) >= 1,
            RESULT_SECONDS,
            stack,
        )
        sources = {
            str(e["article_id"]): str(e["source_id"]) for e in stack.events("articles.enriched")
        }
        assert [sources[h["article_id"]] for h in hits] == ["000_7b201681f24eebfa"]
        kim = [e for e in hits[0]["entities"] if e["name"] == "Kim Jong-un"]
        assert [(e["label"], e["entity_id"]) for e in kim] == [("PER", "per/kim-jong-un")]
        # Dutch stemming: "nucleair" finds "nucleaire" in both reports of the summit.
        assert len(stack.cli("search", "nucleair").stdout.splitlines()) == 2
    finally:
        process = stack.processes.pop("sink-postgres", None)
        if process is not None:
            process.terminate()
            process.wait(30)
        with psycopg.connect(stack.env["NEWSSTREAM_POSTGRES_DSN"], autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
