"""``schemas.codec``: every event type survives ``encode`` then ``decode`` unchanged.

Each sample fills every field, optional ones included, with values that JSON does not carry as
such (datetimes with offsets, enums, tuples, nested parts, discriminated unions), so a field
that does not round trip shows here and not in a consumer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from schemas import (
    ArticleEnriched,
    ArticleIngested,
    DatePrecision,
    DeadLetter,
    DeadLetterStage,
    DecodeError,
    EnricherInfo,
    Entity,
    EntityLabel,
    EntityMention,
    EntityMentioned,
    EntityTrending,
    Event,
    FileOrigin,
    Language,
    Quote,
    QuoteSaid,
    SentenceSentiment,
    Sentiment,
    SentimentLabel,
    StoryDuplicate,
    StoryEntity,
    StoryUpdated,
    TopicOrigin,
    TrendWindowKind,
    decode,
    encode,
)
from schemas.codec import EVENT_TYPES

AT = datetime(2026, 3, 1, 12, 30, 15, 250_000, tzinfo=UTC)
AMSTERDAM = timezone(timedelta(hours=1))
PROVENANCE = (EnricherInfo(name="ner", version="3"), EnricherInfo(name="sentiment", version="2"))
BODY = 'Rutte zei: "We gaan door." Daarna vertrok hij naar Brussel.'


def _samples() -> list[Event]:
    return [
        ArticleIngested(
            article_id="a1",
            source_id="nos-1",
            source_path="inbox/nos-1.json",
            content_format="json",
            content_sha256="0" * 64,
            title="Kabinet gaat door",
            body=BODY,
            published=datetime(2026, 3, 1, 9, 0, tzinfo=AMSTERDAM),
            published_precision=DatePrecision.TIME,
            url="https://example.org/a1",
            source="NOS",
            ingested_at=AT,
        ),
        ArticleEnriched(
            event_id="e1",
            article_id="a1",
            source_id="nos-1",
            source_path="inbox/nos-1.json",
            title="Kabinet gaat door",
            body=BODY,
            published=datetime(2026, 3, 1, tzinfo=UTC),
            published_precision=DatePrecision.DAY,
            url="https://example.org/a1",
            source="NOS",
            ingested_at=AT,
            language=Language(code="nl", confidence=0.98),
            entities=(
                Entity(
                    text="Rutte",
                    label=EntityLabel.PER,
                    start=0,
                    end=5,
                    canonical="Mark Rutte",
                    entity_id="per/mark-rutte",
                ),
                Entity(
                    text="Brussel", label=EntityLabel.LOC, start=51, end=58, canonical="Brussel"
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
            canonical="Mark Rutte",
            label=EntityLabel.PER,
            entity_id="per/mark-rutte",
            mentions=(EntityMention(text="Rutte", start=0, end=5),),
            language="nl",
            published=AT,
            provenance=PROVENANCE,
        ),
        QuoteSaid(
            event_id="q1",
            article_id="a1",
            text="We gaan door.",
            start=12,
            end=25,
            speaker="Mark Rutte",
            speaker_id="per/mark-rutte",
            language="nl",
            published=AT,
            provenance=PROVENANCE,
        ),
        EntityTrending(
            event_id="t1",
            canonical="Mark Rutte",
            entity_id="per/mark-rutte",
            label=EntityLabel.PER,
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
            event_id="d2",
            stage=DeadLetterStage.DECODE,
            reason="invalid-json",
            detail="unexpected end of data",
            origin=TopicOrigin(topic="news.articles.raw", partition=3, offset=42, key="a1"),
            payload_b64="e30=",
            payload_truncated=True,
            occurred_at=AT,
        ),
    ]


SAMPLES = _samples()
IDS = [f"{type(event).__name__}-{n}" for n, event in enumerate(SAMPLES)]


def test_there_is_a_sample_of_every_event_type() -> None:
    assert {type(event).__name__ for event in SAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=IDS)
def test_an_event_decodes_to_what_was_encoded(event: Event) -> None:
    data = encode(event)

    decoded = decode(data, type(event))

    assert decoded == event
    assert type(decoded) is type(event)
    assert encode(decoded) == data


@pytest.mark.parametrize("event", SAMPLES, ids=IDS)
def test_the_bytes_are_plain_json_with_type_and_version(event: Event) -> None:
    raw = orjson.loads(encode(event))

    assert raw["event_type"] == type(event).__name__
    assert raw["schema_version"] == 1


@pytest.mark.parametrize("event", SAMPLES, ids=IDS)
def test_an_event_does_not_decode_as_another_type(event: Event) -> None:
    other = ArticleIngested if not isinstance(event, ArticleIngested) else ArticleEnriched

    with pytest.raises(DecodeError) as raised:
        decode(encode(event), other)

    assert raised.value.reason == "wrong-event-type"


def test_datetimes_keep_their_instant_and_offset() -> None:
    article = SAMPLES[0]
    assert isinstance(article, ArticleIngested)

    decoded = decode(encode(article), ArticleIngested)

    assert decoded.published == article.published
    assert decoded.published is not None
    assert decoded.published.utcoffset() == timedelta(hours=1)
