"""``newsstream replay``: the enriched outputs re-derived from the raw log, no inbox, no worker.

To a suffix the enriched events carry no story (stories are the live worker's derivation), and
a sink can read them there (``sink --topic``); to the live topics they go to the worker's story
input, where a worker would assign their stories before publishing them: with none running
they wait there and the live topic stays empty.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from tests.support.fault_harness import new_stack
from tests.support.processes import SAMPLES, wait_until

pytestmark = [pytest.mark.integration]


def test_replay_to_a_suffix_rederives_each_article_once_with_provenance(
    broker: object, tmp_path: Path
) -> None:
    stack = new_stack(broker.bootstrap, tmp_path / "data")  # type: ignore[attr-defined]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for seed in SAMPLES.iterdir():
        shutil.copy(seed, inbox / seed.name)
    stack.cli("watch", str(inbox), "--once")
    raw_ids = {str(e["article_id"]) for e in stack.events("articles.raw")}
    assert len(raw_ids) == 2

    before = stack.cli("replay", "--from-beginning", "--until", "2000-01-01", "--to-suffix", "v2")
    assert b"replayed 0 raw events" in before.stdout
    assert b"skipped 2 raw events after --until" in before.stdout

    first = stack.cli("replay", "--from-beginning", "--to-suffix", "v2", timeout=300)
    assert b"replayed 2 raw events" in first.stdout
    for written in ("articles.enriched.v2", "entities.v2", "quotes.v2"):
        assert f"  {stack.topic(written)}\n".encode() in first.stdout
    derived = stack.events("articles.enriched.v2")
    assert {str(e["article_id"]) for e in derived} == raw_ids
    assert all(e["provenance"] for e in derived)
    assert all(e["story_id"] is None for e in derived)
    assert stack.events("entities.v2")
    assert stack.events("articles.enriched", idle_seconds=1.0) == []  # live topic untouched

    # A sink can be fed from the suffixed topic (short name) before consumers switch.
    v2_file = tmp_path / "v2.jsonl"
    stack.start(
        "sink-v2", "sink", "jsonl", "--topic", "articles.enriched.v2", "--path", str(v2_file)
    )
    try:
        fed = wait_until(
            lambda: v2_file.read_bytes().splitlines() if v2_file.exists() else [],
            lambda lines: len(lines) >= 2,
            90,
            stack,
        )
    finally:
        codes = stack.stop_all()
    assert codes == {"sink-v2": 0}
    assert {str(orjson.loads(line)["event_id"]) for line in fed} == {
        str(e["event_id"]) for e in derived
    }

    # Same enrichers, same derivation: a second replay repeats the same event ids.
    stack.cli("replay", "--from-beginning", "--to-suffix", "v2", timeout=300)
    again = stack.events("articles.enriched.v2")
    assert len(again) == 4
    assert {str(e["event_id"]) for e in again} == {str(e["event_id"]) for e in derived}

    # Live: the enriched events wait in the story input for a worker, the entities go out.
    story_input = f"{stack.env['NEWSSTREAM_APP_ID']}-story-input"
    live = stack.cli("replay", "--from-beginning", timeout=300)
    assert b"replayed 2 raw events" in live.stdout
    assert f"the enriched events went to {story_input}".encode() in live.stdout
    out = stack.cli("subscribe", story_input, "--from-beginning", "--timeout", "3").stdout
    waiting = [orjson.loads(line) for line in out.splitlines() if line.strip()]
    assert sorted(str(e["article_id"]) for e in waiting) == sorted(raw_ids)
    assert {str(e["event_id"]) for e in waiting} == {str(e["event_id"]) for e in derived}
    assert all(e["story_id"] is None for e in waiting)
    assert {str(e["article_id"]) for e in stack.events("entities")} == raw_ids
    assert stack.events("articles.enriched", idle_seconds=1.0) == []  # no worker, no story yet
