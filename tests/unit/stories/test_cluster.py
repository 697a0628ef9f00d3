"""Story clustering on the evaluation set (real enrichment pipeline, no broker).

The evaluation set (``tests/support/stories_eval.py``) goes through the real enrichers (e5 NER,
entity links, ...) once per module; the clustering then runs on the enriched events.
``pytest -s`` prints the figures the README reports.
"""

from __future__ import annotations

import time
from typing import Any

import jsonschema
import orjson
import pytest

from schemas import ArticleEnriched, StoryUpdated, decode, encode
from schemas.codec import json_schemas
from streams.cli.runtime import build_pipeline
from streams.config import Settings
from streams.enrich.pipeline import EnrichmentFailure
from streams.stories.cluster import StoryClusterer, StoryParams, StoryState, story_id_for
from streams.stories.events import story_event
from streams.stories.minhash import MinHasher, similarity
from tests.support.stories_eval import DUPLICATES, evaluation_set, score_clustering

Enriched = list[tuple[str, str, ArticleEnriched]]


@pytest.fixture(scope="module")
def enriched(tmp_path_factory: pytest.TempPathFactory) -> Enriched:
    items = evaluation_set()
    pipeline = build_pipeline(Settings(data_dir=tmp_path_factory.mktemp("data")))
    try:
        results = pipeline.enrich_batch([article for _, _, article in items])
    finally:
        pipeline.close()
    out: Enriched = []
    for (key, event, _), result in zip(items, results, strict=True):
        assert not isinstance(result, EnrichmentFailure), result
        out.append((key, event, result))
    return out


def cluster(enriched: Enriched, clusterer: StoryClusterer | None = None) -> dict[str, Any]:
    clusterer = clusterer or StoryClusterer(StoryState.in_memory())
    stories: dict[str, str] = {}
    duplicates: dict[str, str | None] = {}
    ids = {article.article_id: key for key, _, article in enriched}
    seconds = 0.0
    for key, _, article in enriched:
        start = time.perf_counter()
        assignment = clusterer.assign(clusterer.features(article))
        seconds += time.perf_counter() - start
        stories[key] = assignment.story_id
        duplicates[key] = ids.get(assignment.duplicate_of or "")
    return {"stories": stories, "duplicates": duplicates, "ms": 1000 * seconds / len(enriched)}


def test_evaluation_set_clusters_by_event(enriched: Enriched) -> None:
    result = cluster(enriched)
    stories = result["stories"]
    expected = {key: event for key, event, _ in enriched}
    scores = score_clustering(expected, stories)
    print(f"\nstory clustering on the evaluation set: {scores}")
    print(f"clustering cost: {result['ms']:.2f} ms per article (features + assignment)")
    # The two seeds (two outlets' reports of the Hanoi summit) land in one story ...
    assert stories["hanoi-nl-seed-1"] == stories["hanoi-nl-seed-2"]
    # ... with the English reports of the same summit, whatever the language ...
    assert {stories[k] for k in expected if expected[k] == "hanoi"} == {stories["hanoi-en-1"]}
    # ... and no other event shares a story, not even the other Trump stories of the same
    # days, nor the earlier Trump-Kim summit in Singapore.
    assert scores.pairwise_precision == 1.0
    assert scores.bcubed_precision == 1.0
    assert scores.stories >= scores.events
    assert scores.bcubed_recall >= 0.9
    assert scores.pairwise_recall >= 0.8


def test_near_duplicates_are_flagged_and_join_the_original(enriched: Enriched) -> None:
    result = cluster(enriched)
    flagged = {k: v for k, v in result["duplicates"].items() if v is not None}
    assert flagged == DUPLICATES
    for copy, original in DUPLICATES.items():
        assert result["stories"][copy] == result["stories"][original]


def test_a_redelivered_article_changes_nothing(enriched: Enriched) -> None:
    clusterer = StoryClusterer(StoryState.in_memory())
    hanoi = [article for key, _, article in enriched if key.startswith("hanoi")]
    first = [clusterer.assign(clusterer.features(a)) for a in hanoi]
    before = orjson.dumps(vars_of(clusterer.state), option=orjson.OPT_SORT_KEYS)
    again = clusterer.assign(clusterer.features(hanoi[1]))
    assert again.redelivered
    assert again.story_id == first[1].story_id == story_id_for(hanoi[0].article_id)
    assert orjson.dumps(vars_of(clusterer.state), option=orjson.OPT_SORT_KEYS) == before
    story = clusterer.state.stories[again.story_id]
    assert len(story["articles"]) == len(set(story["articles"])) == len(hanoi)
    assert story_event(again).event_id == story_event(clusterer.assign(
        clusterer.features(hanoi[1]))).event_id  # fmt: skip


def vars_of(state: StoryState) -> dict[str, Any]:
    return {
        "articles": dict(state.articles),
        "stories": dict(state.stories),
    }


def test_state_restored_from_json_keeps_the_stories(enriched: Enriched) -> None:
    """What a restarted worker sees: the tables rebuilt from their (JSON) changelogs."""
    by_key = {key: article for key, _, article in enriched}
    clusterer = StoryClusterer(StoryState.in_memory())
    for key in ("hanoi-nl-seed-1", "cohen-en-1", "kashmir-en-1"):
        clusterer.assign(clusterer.features(by_key[key]))
    tables = orjson.loads(orjson.dumps(vars_of(clusterer.state)))
    restarted = StoryClusterer(StoryState(**tables))
    joined = restarted.assign(restarted.features(by_key["hanoi-nl-seed-2"]))
    assert joined.story_id == story_id_for(by_key["hanoi-nl-seed-1"].article_id)
    assert not joined.new_story
    assert joined.story["articles"] == [
        by_key["hanoi-nl-seed-1"].article_id,
        by_key["hanoi-nl-seed-2"].article_id,
    ]


def test_a_near_duplicate_is_found_after_the_band_index_is_rebuilt(enriched: Enriched) -> None:
    """A worker that takes over the tables rebuilds the band index from them."""
    original = next(a for key, _, a in enriched if key == "hanoi-nl-seed-1")
    clusterer = StoryClusterer(StoryState.in_memory())
    first = clusterer.assign(clusterer.features(original))
    tables = orjson.loads(orjson.dumps(vars_of(clusterer.state)))
    copy = original.model_copy(update={"article_id": "0" * 31 + "1"})
    for taken_over in (StoryClusterer(StoryState(**tables)), clusterer):
        taken_over.forget_index()
        duplicate = taken_over.assign(taken_over.features(copy))
        assert duplicate.duplicate_of == original.article_id
        assert duplicate.story_id == first.story_id
        assert copy.article_id in taken_over.band_index()[taken_over.band_keys(
            taken_over.features(copy).signature)[0]]  # fmt: skip


def test_state_written_with_list_signatures_is_still_read(enriched: Enriched) -> None:
    """Workers before 2026-11-23 stored signatures as lists of ints; a new worker that
    recovers such tables finds near-duplicates in them all the same."""
    original = next(a for key, _, a in enriched if key == "hanoi-nl-seed-1")
    clusterer = StoryClusterer(StoryState.in_memory())
    first = clusterer.assign(clusterer.features(original))
    tables = orjson.loads(orjson.dumps(vars_of(clusterer.state)))
    entry = tables["articles"][original.article_id]
    assert isinstance(entry["sig"], str)
    entry["sig"] = list(clusterer.features(original).signature)
    taken_over = StoryClusterer(StoryState(**tables))
    copy = original.model_copy(update={"article_id": "0" * 31 + "1"})
    duplicate = taken_over.assign(taken_over.features(copy))
    assert duplicate.duplicate_of == original.article_id
    assert duplicate.story_id == first.story_id


def test_old_stories_expire_with_their_index_entries(enriched: Enriched) -> None:
    clusterer = StoryClusterer(StoryState.in_memory())
    singapore = [a for key, _, a in enriched if key.startswith("singapore")]
    for article in singapore:
        clusterer.assign(clusterer.features(article))
    assert len(clusterer.state.stories) == 1
    later = next(a for key, _, a in enriched if key == "hanoi-en-1")
    assignment = clusterer.assign(clusterer.features(later))
    assert assignment.new_story  # eight months later: not the Singapore story
    state = clusterer.state
    assert list(state.stories) == [assignment.story_id]
    assert list(state.articles) == [later.article_id]
    assert all(ids == [later.article_id] for ids in clusterer.band_index().values())
    assert all(ids == {assignment.story_id} for ids in clusterer.entity_index().values())


def test_the_state_never_holds_more_than_max_articles(enriched: Enriched) -> None:
    """A flood inside one window: the stories that ended longest ago go first, index included."""
    articles = sorted((a for _, _, a in enriched), key=lambda a: a.ingested_at)
    assert len(articles) > 12
    clusterer = StoryClusterer(StoryState.in_memory(), StoryParams(max_articles=6))
    for article in articles:
        assignment = clusterer.assign(clusterer.features(article))
        state = clusterer.state
        assert len(state.articles) <= 6
        assert assignment.story_id in state.stories  # the article's own story always stays
        held = set(state.articles)
        assert {a for ids in clusterer.band_index().values() for a in ids} == held
        assert {a for story in state.stories.values() for a in story["articles"]} == held
        index = clusterer.entity_index()
        assert {s for ids in index.values() for s in ids} <= set(state.stories)
        # Kept in step with the stories: the same as an index built from the tables afresh.
        rebuilt = StoryClusterer(StoryState(dict(state.articles), dict(state.stories)))
        assert index == rebuilt.entity_index()
    kept_from = min(state.stories[s]["last"] for s in state.stories)
    dropped = [a for a in articles if a.article_id not in held]
    assert dropped
    assert all(a.ingested_at.timestamp() <= kept_from for a in dropped)


def test_story_events_are_valid_and_describe_the_story(enriched: Enriched) -> None:
    clusterer = StoryClusterer(StoryState.in_memory())
    seeds = [a for key, _, a in enriched if key.startswith("hanoi-nl-seed")]
    events = [story_event(clusterer.assign(clusterer.features(a))) for a in seeds]
    schema = json_schemas()["StoryUpdated"]
    for event in events:
        jsonschema.validate(orjson.loads(encode(event)), schema)
        assert decode(encode(event), StoryUpdated) == event
    first, second = events
    assert first.new_story
    assert not second.new_story
    assert second.story_id == first.story_id
    assert second.article_ids == (seeds[0].article_id, seeds[1].article_id)
    assert second.article_id == seeds[1].article_id
    assert second.duplicate_of is None
    assert second.duplicates == ()
    assert second.first_seen == seeds[0].ingested_at
    assert second.last_seen == seeds[1].ingested_at
    top = {e.entity_id: e for e in second.top_entities}
    assert top["per/donald-trump"].articles == 2
    assert top["per/donald-trump"].name == "Donald Trump"
    assert second.top_entities[0].entity_id == "per/donald-trump"
    assert second.title.startswith("Eerder werd al bekend gemaakt")


def test_minhash_is_the_same_in_every_process() -> None:
    words = [
        "the",
        "summit",
        "in",
        "hanoi",
        "ended",
        "without",
        "an",
        "agreement",
        "on",
        "thursday",
    ]
    shingles = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    one, two = MinHasher(128), MinHasher(128)
    assert one.signature(shingles) == two.signature(shingles)
    # Fixed values: a stored signature stays comparable after an upgrade or a restart.
    assert one.signature(shingles)[:3] == FIRST_VALUES
    assert similarity(one.signature(shingles), one.signature(shingles[:-1])) > 0.6
    assert similarity(one.signature(shingles), one.signature(["x y z"])) < 0.1


FIRST_VALUES = (1100172592, 184145218, 660423768)


def test_params_are_checked() -> None:
    with pytest.raises(ValueError, match="multiple of bands"):
        StoryParams(num_perm=100, bands=32)
