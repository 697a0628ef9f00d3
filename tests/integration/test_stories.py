"""Stories on real parts: a worker on the embedded broker clusters what ``watch --once`` sends.

The two seed articles (two outlets' reports of the Hanoi summit) and an unrelated article go
in; ``news.stories`` must put the seeds in one story and the other article in its own. Then the
worker is restarted and a third report of the summit goes in: it must join the existing story,
which only works if the story state came back from the tables' changelogs. Throughout, the
enriched events on ``news.articles.enriched`` must carry the story ids of ``news.stories``, one
event per article (the story is set before the enriched event is published, not added by a
second one).
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from tests.support.processes import SAMPLES, Stack, running_stack, wait_until
from tests.support.stories_eval import FIXTURES, HANOI_WIRE

pytestmark = pytest.mark.integration

FIRST_RESULT_SECONDS = 240.0
RESULT_SECONDS = 120.0
UNRELATED = next(f for f in FIXTURES if f.key == "kashmir-en-1")


@pytest.fixture(scope="module")
def stack(broker: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    bootstrap = broker.bootstrap  # type: ignore[attr-defined]
    with running_stack(bootstrap, tmp_path_factory.mktemp("data")) as running:
        yield running


def story_events(stack: Stack) -> list[dict[str, Any]]:
    return stack.events("stories")


def assigned(events: list[dict[str, Any]]) -> dict[str, str]:
    """article id -> story id, from the events' (article_id, story_id)."""
    return {str(e["article_id"]): str(e["story_id"]) for e in events}


def enriched(stack: Stack, count: int) -> list[dict[str, Any]]:
    """Every event of the enriched topic, once ``count`` articles are there.

    The stories agent sends an article's enriched and story events together: seeing the story
    event does not mean the enriched one is readable yet.
    """
    return wait_until(
        lambda: stack.events("articles.enriched"),
        lambda evs: len({e["article_id"] for e in evs}) >= count,
        RESULT_SECONDS,
        stack,
    )


def watch_once(
    stack: Stack, inbox: Path, articles: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``watch --once`` of ``inbox``; then the story events and the enriched events, once
    ``articles`` articles in all have a story."""
    stack.cli("watch", str(inbox), "--once")
    events = wait_until(
        lambda: story_events(stack),
        lambda evs: len(assigned(evs)) == articles,
        FIRST_RESULT_SECONDS,
        stack,
    )
    return events, enriched(stack, articles)


def enriched_ids(events: list[dict[str, Any]]) -> dict[str, str]:
    """source id -> article id."""
    return {str(e["source_id"]): str(e["article_id"]) for e in events}


def check_published(published: list[dict[str, Any]], story_updates: list[dict[str, Any]]) -> None:
    """Each article's enriched events carry its story on ``news.stories`` and are one
    derivation (one event id), one per delivery: as many as its ``StoryUpdated`` events."""
    stories = assigned(story_updates)
    assert {str(e["article_id"]): e["story_id"] for e in published} == stories
    for article_id in stories:
        mine = [e for e in published if e["article_id"] == article_id]
        assert len({e["event_id"] for e in mine}) == 1
        assert len(mine) == sum(1 for e in story_updates if e["article_id"] == article_id)


def test_seeds_share_a_story_and_survive_a_restart(stack: Stack, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for seed in SAMPLES.iterdir():
        shutil.copy(seed, inbox / seed.name)
    (inbox / "unrelated.txt").write_text(UNRELATED.body, encoding="utf-8")
    events, published = watch_once(stack, inbox, 3)
    ids = enriched_ids(published)
    seed_1, seed_2 = (ids[p.stem] for p in sorted(SAMPLES.iterdir()))
    stories = assigned(events)
    assert stories[seed_1] == stories[seed_2]
    assert stories[ids["unrelated"]] != stories[seed_1]
    # Each article on the enriched topic with the story news.stories gave it, once per delivery.
    check_published(published, events)

    stack.cli("schemas", "--out", str(tmp_path / "schemas"))
    schema = orjson.loads((tmp_path / "schemas" / "StoryUpdated.schema.json").read_bytes())
    for event in events:
        jsonschema.validate(event, schema)
    hanoi = [e for e in events if e["story_id"] == stories[seed_1]]
    latest = max(hanoi, key=lambda e: len(e["article_ids"]))
    assert sorted(latest["article_ids"]) == sorted([seed_1, seed_2])
    assert latest["top_entities"][0]["entity_id"] == "per/donald-trump"
    assert latest["duplicates"] == []

    # Restart the worker: the story state must come back from the changelogs.
    worker = stack.processes["worker"]
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(60) == 0
    stack.start("worker", "worker")
    later = tmp_path / "later"
    later.mkdir()
    (later / "hanoi-wire.txt").write_text(HANOI_WIRE, encoding="utf-8")
    # A near-copy of an article from before the restart: found only if the restarted worker
    # rebuilt its near-duplicate index from the recovered tables.
    (later / "unrelated-update.txt").write_text(
        "Updated at 11:00. " + UNRELATED.body, encoding="utf-8"
    )
    events, published = watch_once(stack, later, 5)
    new_id = enriched_ids(published)["hanoi-wire"]
    copy_id = enriched_ids(published)["unrelated-update"]
    copied = [e for e in events if e["article_id"] == copy_id]
    assert copied[0]["story_id"] == stories[ids["unrelated"]]
    assert {"article_id": copy_id, "duplicate_of": ids["unrelated"]} in copied[0]["duplicates"]
    joined = [e for e in events if e["article_id"] == new_id]
    # At-least-once: a restarted worker may deliver the article's update again, identical.
    assert len({e["event_id"] for e in joined}) == 1
    assert joined[0]["story_id"] == stories[seed_1]
    assert joined[0]["new_story"] is False
    assert sorted(joined[0]["article_ids"]) == sorted([seed_1, seed_2, new_id])
    # Nothing was assigned twice: every earlier article kept its story.
    assert {a: s for a, s in assigned(events).items() if a not in (new_id, copy_id)} == stories
    # The new article was published with the story it joined; no article was published again
    # as a second derivation (e.g. without a story).
    check_published(published, story_events(stack))
