"""``schemas.codec``: every event type survives ``encode`` then ``decode`` unchanged.

Each sample fills every field, optional ones included, with values that JSON does not carry as
such (datetimes with offsets, enums, tuples, nested parts, discriminated unions), so a field
that does not round trip shows here and not in a consumer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas import (
    ArticleEnriched,
    ArticleIngested,
    DeadLetter,
    DecodeError,
    EntityMentioned,
    EntityTrending,
    Event,
    QuoteSaid,
    StoryUpdated,
    decode,
    encode,
)
from schemas.codec import EVENT_TYPES
from schemas.events import (
    SCHEMA_VERSION,
    DatePrecision,
    DeadLetterStage,
    EnricherInfo,
    Entity,
    EntityLabel,
    EntityMention,
    EntitySentiment,
    FileOrigin,
    Language,
    Quote,
    SentenceSentiment,
    Sentiment,
    SentimentLabel,
    StoryDuplicate,
    StoryEntity,
    TopicOrigin,
    TrendWindowKind,
)

AT = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)
AMSTERDAM = timezone(timedelta(hours=1))
PROVENANCE = (EnricherInfo(name="ner", version="3"), EnricherInfo(name="sentiment", version="2"))
RUTTE = {"canonical": "Mark Rutte", "entity_id": "per/mark-rutte", "label": EntityLabel.PER}
BODY = 'Rutte zei: "We gaan door." Daarna vertrok hij naar Brussel.'
ARTICLE: dict[str, Any] = {
    "article_id": "a1",
    "source_id": "nos-1",
    "source_path": "inbox/nos-1.json",
    "title": "Kabinet gaat door",
    "body": BODY,
    "url": "https://example.org/a1",
    "source": "NOS",
    "ingested_at": AT,
    "supersedes": "a0",
    "warnings": ("published '4 aprill 2026' not understood; left empty",),
}
"""The fields the ingested and the enriched sample share: one article, before and after."""


def _samples() -> list[Event]:
    return [
        ArticleIngested(
            **ARTICLE,
            content_format="json",
            content_sha256="0" * 64,
            published=datetime(2026, 3, 1, 9, 0, tzinfo=AMSTERDAM),
            published_precision=DatePrecision.TIME,
        ),
        ArticleEnriched(
            **ARTICLE,
            event_id="e1",
            published=datetime(2026, 3, 1, tzinfo=UTC),
            published_precision=DatePrecision.DAY,
            language=Language(code="nl", confidence=0.98),
            entities=(
                Entity(
                    text="Rutte",
                    label=EntityLabel.PER,
                    start=0,
                    end=5,
                    canonical="Mark Rutte",
                    entity_id="per/mark-rutte",
                    display_name="Mark Rutte",
                    sentiment=EntitySentiment(label=SentimentLabel.POSITIVE, score=0.625),
                ),
                Entity(
                    text="Nederlandse",
                    label=EntityLabel.MISC,
                    start=20,
                    end=31,
                    canonical="Nederlandse",
                    entity_id="misc/netherlands",
                    related_id="loc/netherlands",
                ),
                Entity(
                    text="Brussel",
                    label=EntityLabel.LOC,
                    start=51,
                    end=58,
                    canonical="Brussel",
                    sentiment=EntitySentiment(label=SentimentLabel.NEGATIVE, score=-0.5),
                ),
            ),
            quotes=(
                Quote(
                    text="We gaan door.",
                    start=12,
                    end=25,
                    speaker="Mark Rutte",
                    speaker_id="per/mark-rutte",
                ),
            ),
            sentiment=Sentiment(
                label=SentimentLabel.POSITIVE,
                score=0.25,
                sentences=(
                    SentenceSentiment(start=0, end=26, label=SentimentLabel.POSITIVE, score=0.5),
                    SentenceSentiment(start=27, end=58, label=SentimentLabel.NEUTRAL, score=0.0),
                ),
            ),
            provenance=PROVENANCE,
            enriched_at=AT,
            story_id="story-a1",
        ),
        EntityMentioned(
            event_id="m1",
            article_id="a1",
            **RUTTE,
            mentions=(
                EntityMention(
                    text="Rutte",
                    start=0,
                    end=5,
                    sentiment=EntitySentiment(label=SentimentLabel.POSITIVE, score=0.625),
                ),
            ),
            sentiment=EntitySentiment(label=SentimentLabel.POSITIVE, score=0.625),
            language="nl",
            published=AT,
            provenance=PROVENANCE,
        ),
        QuoteSaid(
            provenance=PROVENANCE,
            published=None,
            language="nl",
            speaker_id="per/mark-rutte",
            speaker="Mark Rutte",
            text="We gaan door.",
            start=12,
            end=25,
            article_id="a1",
            event_id="q1",
        ),
        EntityTrending(
            event_id="t1",
            **RUTTE,
            window="1h",
            window_kind=TrendWindowKind.HOPPING,
            window_start=AT,
            window_end=AT + timedelta(hours=1),
            mentions=3,
            articles=2,
            avg_sentiment=-0.125,
            updated_at=AT,
        ),
        StoryUpdated(
            event_id="s1",
            story_id="story-a1",
            title="Kabinet gaat door",
            article_ids=("a1", "a2"),
            duplicates=(StoryDuplicate(article_id="a2", duplicate_of="a1"),),
            top_entities=(
                StoryEntity(
                    entity_id="per/mark-rutte",
                    name="Mark Rutte",
                    label=EntityLabel.PER,
                    mentions=4,
                    articles=2,
                ),
            ),
            first_seen=AT,
            last_seen=AT + timedelta(minutes=5),
            article_id="a2",
            duplicate_of="a1",
            match_score=0.875,
            new_story=False,
            updated_at=AT,
        ),
        DeadLetter(
            event_id="d1",
            stage=DeadLetterStage.WATCH,
            reason="empty-file",
            detail="the file has no text",
            origin=FileOrigin(path="inbox/empty.txt", size=0, sha256="f" * 64),
            payload_b64="",
            payload_truncated=False,
            occurred_at=AT,
        ),
        DeadLetter(
            occurred_at=AT,
            origin=TopicOrigin(topic="news.articles.raw", partition=3, offset=42, key="a1"),
            payload_truncated=True,
            payload_b64="e30=",
            event_id="d2",
            stage=DeadLetterStage.DECODE,
            reason="invalid-json",
            detail="unexpected end of data",
        ),
    ]


SAMPLES = _samples()
IDS = [f"{type(event).__name__}-{n}" for n, event in enumerate(SAMPLES)]


def test_there_is_a_sample_of_every_event_type() -> None:
    assert {type(event).__name__ for event in SAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=IDS)
def test_an_event_decodes_to_what_was_encoded_and_as_nothing_else(event: Event) -> None:
    data = encode(event)

    decoded = decode(data, type(event))

    assert decoded == event
    assert type(decoded) is type(event)
    assert encode(decoded) == data
    # Plain JSON that names its type and version, so no other type accepts it.
    raw = orjson.loads(data)
    assert (raw["event_type"], raw["schema_version"]) == (type(event).__name__, SCHEMA_VERSION)
    other = ArticleIngested if not isinstance(event, ArticleIngested) else ArticleEnriched
    with pytest.raises(DecodeError) as raised:
        decode(data, other)
    assert raised.value.reason == "wrong-event-type"


def test_datetimes_keep_their_instant_and_offset() -> None:
    article = SAMPLES[0]
    assert isinstance(article, ArticleIngested)

    decoded = decode(encode(article), ArticleIngested)

    assert decoded.published == article.published
    assert decoded.published is not None
    assert decoded.published.utcoffset() == timedelta(hours=1)


@pytest.mark.parametrize("event", SAMPLES[:2], ids=IDS[:2])
def test_a_version_1_article_is_still_read(event: Event) -> None:
    """The raw topic is the log of record: articles written before version 2 must decode."""
    raw = orjson.loads(encode(event))
    del raw["supersedes"], raw["warnings"]
    raw["schema_version"] = 1

    decoded = decode(orjson.dumps(raw), type(event))

    assert decoded.schema_version == 1
    assert decoded.model_dump(exclude={"schema_version", "supersedes", "warnings"}) == (
        event.model_dump(exclude={"schema_version", "supersedes", "warnings"})
    )
    assert isinstance(decoded, ArticleIngested | ArticleEnriched)
    assert decoded.supersedes is None
    assert decoded.warnings == ()


def test_a_version_2_enriched_article_is_still_read() -> None:
    """Version 3 added Entity.display_name and related_id; events written before read as
    entities without them."""
    enriched = SAMPLES[1]
    assert isinstance(enriched, ArticleEnriched)
    assert enriched.entities
    raw = orjson.loads(encode(enriched))
    for entity in raw["entities"]:
        del entity["display_name"], entity["related_id"], entity["sentiment"]
    raw["schema_version"] = 2

    decoded = decode(orjson.dumps(raw), ArticleEnriched)

    assert decoded.schema_version == 2
    assert [e.entity_id for e in decoded.entities] == [e.entity_id for e in enriched.entities]
    assert all(e.display_name is None and e.related_id is None for e in decoded.entities)


def test_version_3_entity_events_are_still_read_without_sentiment() -> None:
    """Version 4 added sentiment toward each entity (Entity, EntityMention, EntityMentioned);
    events written before read as ones without it: None, not neutral."""
    enriched, mentioned = SAMPLES[1], SAMPLES[2]
    assert isinstance(enriched, ArticleEnriched)
    assert isinstance(mentioned, EntityMentioned)
    assert any(e.sentiment is not None for e in enriched.entities)
    assert mentioned.sentiment is not None
    old_enriched = orjson.loads(encode(enriched))
    for entity in old_enriched["entities"]:
        del entity["sentiment"]
    old_mentioned = orjson.loads(encode(mentioned))
    del old_mentioned["sentiment"]
    for mention in old_mentioned["mentions"]:
        del mention["sentiment"]
    for raw in (old_enriched, old_mentioned):
        raw["schema_version"] = 3

    decoded = decode(orjson.dumps(old_enriched), ArticleEnriched)
    decoded_mentioned = decode(orjson.dumps(old_mentioned), EntityMentioned)

    assert (decoded.schema_version, decoded_mentioned.schema_version) == (3, 3)
    assert all(e.sentiment is None for e in decoded.entities)
    assert decoded.model_dump(exclude={"schema_version", "entities"}) == enriched.model_dump(
        exclude={"schema_version", "entities"}
    )
    assert [e.model_copy(update={"sentiment": None}) for e in enriched.entities] == list(
        decoded.entities
    )
    assert decoded_mentioned.sentiment is None
    assert [m.sentiment for m in decoded_mentioned.mentions] == [None]


def test_entity_sentiment_is_a_score_in_minus_one_to_one_with_a_label() -> None:
    with pytest.raises(ValidationError):
        EntitySentiment(label=SentimentLabel.POSITIVE, score=1.5)
    with pytest.raises(ValidationError):
        EntitySentiment.model_validate({"label": "glad", "score": 0.5})
    raw = orjson.loads(encode(SAMPLES[2]))
    raw["sentiment"]["extra"] = 1
    with pytest.raises(DecodeError) as raised:
        decode(orjson.dumps(raw), EntityMentioned)
    assert raised.value.reason == "invalid-event"


def test_a_version_this_code_does_not_know_is_refused() -> None:
    raw = orjson.loads(encode(SAMPLES[0]))
    raw["schema_version"] = SCHEMA_VERSION + 1

    with pytest.raises(DecodeError) as raised:
        decode(orjson.dumps(raw), ArticleIngested)

    assert raised.value.reason == "unsupported-schema-version"
