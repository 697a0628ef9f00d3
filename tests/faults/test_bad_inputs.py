"""Fault 5: 25 kinds of bad input; each gets its documented outcome, nothing stops.

A watcher and a worker run as real processes. Files of every bad kind are dropped into the
inbox while they run, and junk bytes are written straight to the raw topic. Each must end as
documented (README, "Inbox files" and "Guarantees"): published, skipped as a duplicate, ignored,
or one dead-letter event with a clear reason. Afterwards both processes are still up and a good
article still goes all the way to the sinks.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import random
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.support.fault_harness import WORKER_READY_SECONDS, new_stack, wait_for_sinks
from tests.support.processes import Stack, wait_until

pytestmark = [pytest.mark.integration]

SEED = 77
GOOD = "Minister Hoekstra reisde dinsdag naar Brussel voor overleg met de Europese Commissie."

# File -> the dead-letter reason it must get (stage 'watch').
DEADLETTERED = {
    "empty.txt": "empty-file",
    "whitespace.txt": "empty-file",
    "binary.txt": "binary",
    "invalid-utf8.txt": "undecodable-text",
    "huge.txt": "too-large",
    "invalid.json": "invalid-json",
    "no-body.json": "invalid-article",
    "array.json": "invalid-article",
    "wrong-types.json": "invalid-article",
    "nul-bytes.txt": "binary",
    "passwd.txt": "symlink",
    "escape": "symlink",
    "date-only.txt": "empty-body",
    "bad-date.txt": "invalid-date",
    "report.pdf": "unsupported-format",
}
# File -> published as an article (the worker enriches it).
PUBLISHED = {"utf16-bom.txt", "long-line.txt", "english.txt", "one-word.txt", "growing.txt"}
# Files that must yield no event at all: a duplicate, a vanished file, a hidden file.
SILENT = {"copy-of-english.txt", "deleted.txt", ".hidden.txt"}


def _write_bad_files(inbox: Path, outside: Path) -> None:
    rng = random.Random(SEED)
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "whitespace.txt").write_bytes(b"  \n\t \r\n  ")
    (inbox / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + rng.randbytes(4096))
    (inbox / "invalid-utf8.txt").write_bytes(b"Het caf\xe9 in Utrecht ging dicht.")
    (inbox / "utf16-bom.txt").write_bytes(
        codecs.BOM_UTF16_LE + "Het kabinet in Den Haag besprak de begroting.".encode("utf-16-le")
    )
    with (inbox / "huge.txt").open("wb") as huge:  # 100 MB
        block = b"Nederland " * 104_858
        for _ in range(100):
            huge.write(block[: 1 << 20])
    words = ["de", "regering", "in", "Den", "Haag", "besloot", "dat", "het", "plan", "doorgaat"]
    (inbox / "long-line.txt").write_text(
        " ".join(rng.choice(words) for _ in range(15_000)), encoding="utf-8"
    )
    (inbox / "invalid.json").write_text('{"body": "niet af', encoding="utf-8")
    (inbox / "no-body.json").write_text('{"title": "Alleen een titel"}', encoding="utf-8")
    (inbox / "array.json").write_text('[{"body": "in een lijst"}]', encoding="utf-8")
    (inbox / "wrong-types.json").write_text('{"body": 42, "title": ["x"]}', encoding="utf-8")
    (inbox / "nul-bytes.txt").write_bytes(b"Tekst met\x00een NUL-byte erin.")
    (inbox / "passwd.txt").symlink_to("/etc/passwd")
    (outside / "secret.txt").write_text("buiten de inbox", encoding="utf-8")
    (inbox / "escape").symlink_to(outside, target_is_directory=True)
    english = "The prime minister met European leaders in Brussels on Tuesday to discuss trade."
    (inbox / "english.txt").write_text(english, encoding="utf-8")
    (inbox / "copy-of-english.txt").write_text(english + "\n\n", encoding="utf-8")
    (inbox / "one-word.txt").write_text("Kabinetscrisis", encoding="utf-8")
    (inbox / "date-only.txt").write_text("date 2019-02-27\n", encoding="utf-8")
    (inbox / "bad-date.txt").write_text("date 2019-13-45 Er was een top.", encoding="utf-8")
    (inbox / "report.pdf").write_bytes(b"%PDF-1.4 not an article")
    (inbox / ".hidden.txt").write_text("Een verborgen bestand.", encoding="utf-8")
    # Deleted while still being written (never finished, never stable): nothing to publish.
    with (inbox / "deleted.txt").open("w", encoding="utf-8") as vanishing:
        vanishing.write("Dit bestand verdwijnt meteen.")
        vanishing.flush()
        time.sleep(0.05)
        (inbox / "deleted.txt").unlink()
    # Written in pieces, each pause shorter than the stability window, closed at the end:
    # read once, whole.
    with (inbox / "growing.txt").open("w", encoding="utf-8") as growing:
        for i in range(8):
            growing.write(f"Zin {i} van een artikel dat nog geschreven wordt in Amsterdam. ")
            growing.flush()
            time.sleep(0.05)


async def _junk_to_raw(stack: Stack) -> None:
    from streams.kafka.client import KafkaConnection, new_producer

    conn = KafkaConnection(bootstrap_servers=stack.env["NEWSSTREAM_BROKER"], is_tansu=True)
    producer = new_producer(conn)
    await producer.start()
    try:
        raw = stack.topic("articles.raw")
        await (await producer.send(raw, b"\xff\xfe\x00junk bytes", key=b"junk-bytes"))
        await (await producer.send(raw, b'{"hello": "world"}', key=b"not-an-event"))
        await (await producer.send(raw, b"", key=b"empty-value"))
    finally:
        await producer.stop()


def _raw_articles(stack: Stack) -> list[dict[str, Any]]:
    """The article events of the raw topic (it also holds the junk this test wrote)."""
    out = stack.cli(
        "subscribe", stack.topic("articles.raw"), "--from-beginning", "--timeout", "1"
    ).stdout
    events = []
    for line in out.splitlines():
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("event_type") == "ArticleIngested":
            events.append(event)
    return events


def test_every_bad_input_gets_its_documented_outcome_and_nothing_stops(
    broker: object, tmp_path: Path
) -> None:
    stack = new_stack(broker.bootstrap, tmp_path / "data")  # type: ignore[attr-defined]
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    try:
        stack.start("sink-sqlite", "sink", "sqlite")
        stack.start("sink-jsonl", "sink", "jsonl")
        stack.start("worker", "worker")
        # Finished files are read at once; the stability window only holds back the files
        # still open for writing ("growing", "deleted") and symlinks. The harness's 0.2 s is
        # within reach of this test's 0.05 s pauses on a loaded machine: 2 s is not.
        stack.start("watcher", "watch", str(inbox), "--stable-seconds", "2")
        _write_bad_files(inbox, outside)
        asyncio.run(_junk_to_raw(stack))
        expected_deadletters = len(DEADLETTERED) + 3

        def deadletters() -> list[dict[str, object]]:
            return stack.events("deadletter", idle_seconds=1.0)

        found = wait_until(
            deadletters, lambda d: len(d) >= expected_deadletters, WORKER_READY_SECONDS, stack
        )
        time.sleep(2.0)  # nothing more may come
        found = deadletters()
        raw = _raw_articles(stack)
        by_path = {
            str(d["origin"]["path"]): d  # type: ignore[index]
            for d in found
            if d["stage"] == "watch"
        }
        decode = [d for d in found if d["stage"] == "decode"]
        print(
            f"fault 5: bad kinds {len(DEADLETTERED) + len(PUBLISHED) + len(SILENT) + 3}, "
            f"dead letters {len(found)} (watch {len(by_path)}, decode {len(decode)}), "
            f"raw events {len(raw)}"
        )
        assert {p: str(d["reason"]) for p, d in by_path.items()} == DEADLETTERED
        assert len(found) == expected_deadletters  # one each, none repeated
        for d in by_path.values():
            assert d["detail"]
        assert by_path["huge.txt"]["payload_truncated"] is True
        assert by_path["passwd.txt"]["payload_b64"] is None  # the link was never followed
        assert base64.b64decode(str(by_path["invalid-utf8.txt"]["payload_b64"])).startswith(
            b"Het caf\xe9"
        )
        assert sorted(str(d["origin"]["key"]) for d in decode) == [  # type: ignore[index]
            "empty-value",
            "junk-bytes",
            "not-an-event",
        ]
        assert all(d["origin"]["topic"] == stack.topic("articles.raw") for d in decode)  # type: ignore[index]
        assert all(isinstance(d["origin"]["offset"], int) for d in decode)  # type: ignore[index]
        assert {str(e["source_path"]) for e in raw} == PUBLISHED
        growing = next(e for e in raw if e["source_path"] == "growing.txt")
        assert str(growing["body"]).count("Zin ") == 8

        # The worker enriched every published article, the English one as English.
        published_ids = {str(e["article_id"]) for e in raw}
        wait_for_sinks(stack, published_ids, WORKER_READY_SECONDS)
        enriched = {str(e["source_path"]): e for e in stack.events("articles.enriched")}
        assert enriched["english.txt"]["language"]["code"] == "en"  # type: ignore[index]

        # Both are still up, and a good article still goes all the way.
        stack.assert_running()
        (inbox / "good.txt").write_text(GOOD, encoding="utf-8")
        wait_until(
            lambda: [r for r in stack.sqlite_rows("SELECT body FROM articles") if r[0] == GOOD],
            bool,
            60,
            stack,
        )
        stack.assert_running()
    finally:
        codes = stack.stop_all()
    assert codes == dict.fromkeys(codes, 0)  # clean stops after all that
