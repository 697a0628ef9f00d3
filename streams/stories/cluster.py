"""Assigning enriched articles to stories: near-duplicates first, then same-event clustering.

Called by the worker's ``stories`` agent (:mod:`streams.app.agents.stories`) once per enriched
article, in one order, by one owner (the agent reads a single-partition internal topic), and
by the evaluation in ``tests/unit/stories/test_cluster.py``. Pure Python + numpy: no faust, no
Kafka. The MinHash signatures and LSH bands are in :mod:`streams.stories.minhash`, the article
features in :mod:`streams.stories.features`, the published event in
:mod:`streams.stories.events`.

How an article is assigned (:meth:`StoryClusterer.assign`)
---------------------------------------------------------
1. **Redelivery.** An article id the state already holds gets its recorded assignment back and
   changes nothing: at-least-once delivery can never add an article twice.
2. **Near-duplicate.** The body's word 5-shingles (lower-cased ``\\w+`` tokens) get a 128-value
   MinHash signature (hash functions derived from BLAKE2b, so signatures are identical in every
   process and across restarts). Recent articles are indexed by LSH bands (32 bands of 4
   values; the index lives in memory, derived from the ``articles`` table, see below); a
   candidate whose estimated Jaccard similarity is at least
   ``duplicate_similarity`` (0.8) makes the article a duplicate: it joins that article's story,
   is listed under ``duplicates`` and does not add to the story's entity and term profiles
   (a wire text printed by ten outlets is one report, not ten).
3. **Same event.** Candidate stories are the recent stories sharing at least one entity id
   (``Entity.entity_id``, the same across outlets and languages) within ``window_seconds``
   (72 h) of the article. Each is scored by

   * entity similarity: cosine of the article's and the story's entity-id vectors, weighted
     ``(1 + ln mentions) * idf``, where ``idf = ln(1 + stories / stories containing the id)``
     over the recent stories: "Donald Trump" in every other story counts for little;
   * text similarity: cosine of ``1 + ln tf`` vectors of content words (stop words removed);
     this is what separates two stories of one person in one language, and is near zero
     across languages, where the entity ids carry the match;

   ``score = entity_weight * entity + (1 - entity_weight) * text``. The best story joins if
   it shares at least ``min_shared_entities`` (2) non-MISC entity ids and ``score >=
   join_score``; otherwise the article starts a new story.

Stories have deterministic ids (``story-`` + the first article's id) and every state change
is keyed by article id, so the same input in the same order gives the same stories.

State (:class:`StoryState`): two key-value tables (``articles``, ``stories``), dicts in tests
and changelog-backed Faust tables in the worker. The indexes are not tables: the LSH band
index is derived from the ``articles`` table (which holds every signature) and the entity
index (entity id -> stories) from the ``stories`` table (which holds every story's entities),
each built on first use and again after :meth:`StoryClusterer.forget_index` (the worker calls
it when the tables may have been recovered). As tables they cost 32 changelog records per
article (bands) and one per entity, each rewriting the whole list of stories of that entity
(a common name is in hundreds), most of the worker's producer work. Values are JSON-able and
never mutated in place: every change sets a new value on its key (that is what writes a Faust
table's changelog). Time is the article's
``ingested_at`` (as for trending: it travels in the event, so a replay assigns alike).
Stories whose last article is older than ``window_seconds`` before the newest article seen are
swept (at most once per ``sweep_every_seconds`` of that clock) together with their articles,
band-index entries and entity-index entries, so the state stays proportional to one window of news;
and never more than ``max_articles`` articles (the stories that ended longest ago go first), so
a flood, a backfill or a replay of a long log cannot grow it without bound.
Per story, the entity and term profiles are capped (``max_story_entities``,
``max_story_terms``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas import ArticleEnriched, EntityLabel
from streams.stories.features import ArticleFeatures, article_features
from streams.stories.minhash import (
    BandIndex,
    BandKey,
    MinHasher,
    band_keys,
    index_add,
    index_ids,
    index_remove,
    pack_signature,
    similarity,
    unpack_signature,
)


@dataclass(frozen=True, slots=True)
class StoryParams:
    """The clustering's thresholds; the defaults are those evaluated in the README."""

    window_seconds: float = 72 * 3600.0
    shingle_words: int = 5
    num_perm: int = 128
    bands: int = 32
    duplicate_similarity: float = 0.8
    entity_weight: float = 0.6
    join_score: float = 0.3
    min_shared_entities: int = 2
    max_story_entities: int = 40
    max_story_terms: int = 200
    sweep_every_seconds: float = 3600.0
    max_articles: int = 20_000
    """Articles the state holds at most, whatever the window: beyond it the stories that ended
    longest ago are dropped early (down to 90 %), so a flood of news, a backfill or a replay
    cannot grow the worker's memory without bound (a few KB per article; docs/benchmarks.md)."""

    def __post_init__(self) -> None:
        if self.num_perm % self.bands:
            raise ValueError("num_perm must be a multiple of bands")
        if not 0.0 <= self.entity_weight <= 1.0:
            raise ValueError("entity_weight is in [0, 1]")
        if self.window_seconds <= 0 or self.shingle_words < 1:
            raise ValueError("window_seconds and shingle_words must be positive")
        if self.max_articles < 1:
            raise ValueError("max_articles must be positive")


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where one article went, and the story's state after it (a JSON-able dict)."""

    article_id: str
    story_id: str
    duplicate_of: str | None
    score: float
    """Similarity to what it joined: estimated Jaccard for a duplicate, the match score for a
    story, 0 for a new story."""
    new_story: bool
    redelivered: bool
    story: Mapping[str, Any]


@dataclass(slots=True)
class StoryState:
    """The two tables of the clustering state (all keyed by strings, JSON-able values).

    ``articles``: article id -> ``{"story", "at", "sig", "dup"}``; ``stories``: story id -> the
    story (see :meth:`StoryClusterer._new_story`). The indexes (LSH bands, entity id -> stories)
    are derived from them in memory.
    """

    articles: MutableMapping[str, Any]
    stories: MutableMapping[str, Any]

    @classmethod
    def in_memory(cls) -> StoryState:
        return cls({}, {})


def story_id_for(article_id: str) -> str:
    """A story's id: derived from its first article, so a replay names it alike."""
    return f"story-{article_id}"


class StoryClusterer:
    """Assigns articles to stories over a :class:`StoryState` (one caller at a time)."""

    def __init__(self, state: StoryState, params: StoryParams | None = None) -> None:
        self.state = state
        self.params = params or StoryParams()
        self._hasher = MinHasher(self.params.num_perm)
        self._clock = float("-inf")
        self._next_sweep: float | None = None
        self._bands: BandIndex | None = None
        self._entities: dict[str, set[str]] | None = None

    def forget_index(self) -> None:
        """Drop the in-memory indexes; the next assignment rebuilds them from the state.

        Call whenever the state's tables may have changed other than through this clusterer
        (the worker: on every partition assignment, since the tables are then recovered)."""
        self._bands = None
        self._entities = None

    def entity_index(self) -> Mapping[str, set[str]]:
        """Entity id -> ids of the stories whose (capped) profile holds it (built if needed)."""
        return {eid: set(stories) for eid, stories in self._entity_index().items()}

    def _entity_index(self) -> dict[str, set[str]]:
        if self._entities is None:
            index: dict[str, set[str]] = {}
            for story_id, story in self.state.stories.items():
                for eid in story["entities"]:
                    index.setdefault(eid, set()).add(story_id)
            self._entities = index
        return self._entities

    def band_index(self) -> Mapping[BandKey, list[str]]:
        """LSH band key -> ids of the articles in the state with that band (built if needed)."""
        index = self._index()
        return {key: index_ids(index, key) for key in index}

    def _index(self) -> BandIndex:
        if self._bands is None:
            bands: BandIndex = {}
            for article_id, entry in self.state.articles.items():
                for key in self.band_keys(unpack_signature(entry["sig"])):
                    index_add(bands, key, article_id)
            self._bands = bands
        return self._bands

    # -- features ---------------------------------------------------------------------------

    def features(self, article: ArticleEnriched) -> ArticleFeatures:
        """The article's signature, entity-id counts and content-word counts."""
        return article_features(article, self._hasher, self.params.shingle_words)

    def band_keys(self, signature: Iterable[int]) -> list[BandKey]:
        """The signature's LSH band keys (:func:`streams.stories.minhash.band_keys`)."""
        return band_keys(signature, self.params.bands)

    # -- assignment -------------------------------------------------------------------------

    def assign(self, f: ArticleFeatures) -> Assignment:
        """Assign one article and update the state (see the module docstring for the rules).

        Guarantees: an article id already in the state changes nothing and gets its recorded
        assignment; otherwise the article is in exactly one story afterwards.
        """
        state = self.state
        known = state.articles.get(f.article_id)
        if known is not None and known["story"] in state.stories:
            story = state.stories[known["story"]]
            return Assignment(
                f.article_id,
                known["story"],
                known.get("dup"),
                float(known.get("score", 0.0)),
                new_story=story["articles"][0] == f.article_id,
                redelivered=True,
                story=story,
            )
        self._clock = max(self._clock, f.at)
        self.sweep()

        band_keys = self.band_keys(f.signature)
        duplicate_of, score = self._near_duplicate(f, band_keys)
        story_id: str | None = None
        if duplicate_of is not None:
            story_id = state.articles[duplicate_of]["story"]
        else:
            story_id, score = self._best_story(f)
        new_story = story_id is None
        if story_id is None:
            story_id = story_id_for(f.article_id)
            story = self._new_story(story_id, f)
        else:
            story = self._add_to_story(state.stories[story_id], f, duplicate_of)
        state.stories[story_id] = story
        entry = {"story": story_id, "at": f.at, "sig": pack_signature(f.signature), "score": score}
        if duplicate_of is not None:
            entry["dup"] = duplicate_of
        index = self._index()  # built from the state before this article joins it
        state.articles[f.article_id] = entry
        for key in band_keys:
            index_add(index, key, f.article_id)
        if len(state.articles) > self.params.max_articles:
            self._evict(keep=story_id)
        return Assignment(
            f.article_id, story_id, duplicate_of, round(score, 4), new_story, False, story
        )

    def _near_duplicate(
        self, f: ArticleFeatures, band_keys: Iterable[BandKey]
    ) -> tuple[str | None, float]:
        index = self._index()
        candidates: set[str] = set()
        for key in band_keys:
            candidates.update(index_ids(index, key))
        best: tuple[float, str] | None = None
        for candidate in sorted(candidates):
            entry = self.state.articles.get(candidate)
            if entry is None or entry["story"] not in self.state.stories:
                continue
            sim = similarity(f.signature, unpack_signature(entry["sig"]))
            if sim >= self.params.duplicate_similarity and (best is None or sim > best[0]):
                best = (sim, entry.get("dup") or candidate)  # point at the original
        return (None, 0.0) if best is None else (best[1], best[0])

    def score(self, f: ArticleFeatures, story: Mapping[str, Any]) -> tuple[float, int]:
        """(match score, shared non-MISC entity ids) of ``f`` against ``story``."""
        stories = max(1, len(self.state.stories))
        story_entities: Mapping[str, list[Any]] = story["entities"]
        index = self._entity_index()

        def tf_idf(eid: str, mentions: int) -> float:
            df = max(1, len(index.get(eid, ())))
            return (1.0 + math.log(mentions)) * math.log(1.0 + stories / df)

        article_vec = {eid: tf_idf(eid, v[0]) for eid, v in f.entities.items()}
        story_vec = {eid: tf_idf(eid, v[0]) for eid, v in story_entities.items()}
        shared = sum(
            1
            for eid, (_, _, label) in f.entities.items()
            if eid in story_entities and label != EntityLabel.MISC.value
        )
        entity = _cosine(article_vec, story_vec)
        text = _cosine(
            {t: 1.0 + math.log(n) for t, n in f.terms.items()},
            {t: 1.0 + math.log(n) for t, n in story["terms"].items()},
        )
        weight = self.params.entity_weight
        return weight * entity + (1.0 - weight) * text, shared

    def _best_story(self, f: ArticleFeatures) -> tuple[str | None, float]:
        window = self.params.window_seconds
        candidates: set[str] = set()
        index = self._entity_index()
        for eid in f.entities:
            candidates.update(index.get(eid, ()))
        best: tuple[float, str] | None = None
        for story_id in sorted(candidates):
            story = self.state.stories.get(story_id)
            if story is None or not story["first"] - window <= f.at <= story["last"] + window:
                continue
            score, shared = self.score(f, story)
            if shared < self.params.min_shared_entities or score < self.params.join_score:
                continue
            if best is None or score > best[0]:
                best = (score, story_id)
        return (None, 0.0) if best is None else (best[1], best[0])

    # -- story values -----------------------------------------------------------------------

    def _new_story(self, story_id: str, f: ArticleFeatures) -> dict[str, Any]:
        story: dict[str, Any] = {
            "id": story_id,
            "title": f.title,
            "first": f.at,
            "last": f.at,
            "articles": [f.article_id],
            "duplicates": {},
            "entities": {},
            "terms": {},
        }
        return self._add_profile(story, f)

    def _add_to_story(
        self, old: Mapping[str, Any], f: ArticleFeatures, duplicate_of: str | None
    ) -> dict[str, Any]:
        story = dict(old)
        story["articles"] = [*old["articles"], f.article_id]
        story["first"] = min(old["first"], f.at)
        story["last"] = max(old["last"], f.at)
        if duplicate_of is not None:
            story["duplicates"] = {**old["duplicates"], f.article_id: duplicate_of}
            return story
        return self._add_profile(story, f)

    def _add_profile(self, story: dict[str, Any], f: ArticleFeatures) -> dict[str, Any]:
        """Add ``f``'s entities and terms to the story (capped) and keep the index in step."""
        params = self.params
        entities = {k: list(v) for k, v in story["entities"].items()}
        for eid, (mentions, name, label) in f.entities.items():
            held = entities.get(eid)
            entities[eid] = (
                [mentions, 1, name, label]
                if held is None
                else [held[0] + mentions, held[1] + 1, held[2], held[3]]
            )
        kept = dict(sorted(entities.items(), key=entity_rank)[: params.max_story_entities])
        terms = dict(story["terms"])
        for term, n in f.terms.items():
            terms[term] = terms.get(term, 0) + n
        story["terms"] = dict(
            sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))[: params.max_story_terms]
        )
        story_id = story["id"]
        # An index not built yet is built later from the stored stories, this one included.
        if self._entities is not None:
            for eid in kept.keys() - story["entities"].keys():
                self._entities.setdefault(eid, set()).add(story_id)
            for eid in story["entities"].keys() - kept.keys():
                self._unindex(eid, story_id)
        story["entities"] = kept
        return story

    def _unindex(self, eid: str, story_id: str) -> None:
        if self._entities is None:
            return
        held = self._entities.get(eid)
        if held is not None:
            held.discard(story_id)
            if not held:
                del self._entities[eid]

    # -- expiry -----------------------------------------------------------------------------

    def sweep(self, force: bool = False) -> int:
        """Drop the stories that ended a window before the clock; returns how many.

        Runs at most once per ``sweep_every_seconds`` of article time unless ``force``.
        """
        if not force and self._next_sweep is not None and self._clock < self._next_sweep:
            return 0
        self._next_sweep = self._clock + self.params.sweep_every_seconds
        cutoff = self._clock - self.params.window_seconds
        expired = [sid for sid, story in list(self.state.stories.items()) if story["last"] < cutoff]
        for story_id in expired:
            self._drop(story_id)
        return len(expired)

    def _evict(self, keep: str) -> None:
        """Drop the stories that ended longest ago (never ``keep``) until the state holds at
        most 90 % of ``max_articles`` articles."""
        target = int(self.params.max_articles * 0.9)
        by_end = sorted(
            (story["last"], story_id)
            for story_id, story in self.state.stories.items()
            if story_id != keep
        )
        for _, story_id in by_end:
            if len(self.state.articles) <= target:
                break
            self._drop(story_id)

    def _drop(self, story_id: str) -> None:
        state = self.state
        story = state.stories[story_id]
        for article_id in story["articles"]:
            entry = state.articles.get(article_id)
            if entry is None:
                continue
            if self._bands is not None:
                for key in self.band_keys(unpack_signature(entry["sig"])):
                    index_remove(self._bands, key, article_id)
            del state.articles[article_id]
        for eid in story["entities"]:
            self._unindex(eid, story_id)
        del state.stories[story_id]


def entity_rank(item: tuple[str, Sequence[Any]]) -> tuple[Any, Any, str]:
    """Sort key of a story's entity, ``(entity id, [mentions, articles, name, label])``: most
    mentions first, then most articles, then by id (the profile's cap and the published top
    entities keep the same ones)."""
    eid, (mentions, articles, *_) = item
    return -mentions, -articles, eid


def _cosine(left: Mapping[str, float], right: Mapping[str, float]) -> float:
    if not left or not right:
        return 0.0
    small, large = (left, right) if len(left) <= len(right) else (right, left)
    dot = sum(w * large.get(k, 0.0) for k, w in small.items())
    norm = math.sqrt(sum(w * w for w in left.values())) * math.sqrt(
        sum(w * w for w in right.values())
    )
    return dot / norm if norm else 0.0
