"""Event types carried on newsstream's topics.

Every event is a frozen pydantic model that rejects unknown fields, carries ``schema_version``
and an ``event_type`` discriminator, and uses timezone-aware datetimes only. Field names and
meanings are part of the public interface: consumers in any language read them as plain JSON
(see ``newsstream schemas`` for the JSON Schema of each type).

Character offsets (``start``/``end``) are Python string indices (Unicode code points) into the
article ``body``: ``body[start:end]`` is the covered text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION: Literal[4] = 4
"""Bumped on any incompatible change of an event type; consumers check it before reading.

Version 2 adds ``supersedes`` and ``warnings`` to ``ArticleIngested`` and ``ArticleEnriched``.
A version-1 event is still read (the raw topic is the log of record and holds old events): it
is exactly a version-2 event without those two fields.

Version 3 adds ``display_name`` and ``related_id`` to ``Entity`` (inside ``ArticleEnriched``)
and ``display_name`` to ``EntityMentioned``. All are optional, so a version-1 or -2 event reads
as one without them; a version-2 reader refuses version-3 events by their version rather than
by the unknown fields.

Version 4 adds ``sentiment`` (an ``EntitySentiment``: how the text portrays that entity) to
``Entity`` (inside ``ArticleEnriched``) and ``EntityMention``, for the mention's sentence, and to
``EntityMentioned``, for the article. All are optional, so a version-1 to -3 event reads as one
without them; they are None there and when no entity-sentiment model ran. A version-3 reader
refuses version-4 events by their version rather than by the unknown fields.
"""

READABLE_SCHEMA_VERSIONS: tuple[int, ...] = (1, 2, 3, 4)
"""The versions this code decodes; it writes ``SCHEMA_VERSION``."""

NonEmptyStr = Annotated[str, Field(min_length=1)]
Offset = Annotated[int, Field(ge=0)]
Supersedes = Annotated[
    NonEmptyStr | None,
    Field(
        description=(
            "The article_id of the earlier version of the same source file that this article "
            "replaces (the file was edited in the inbox); None for a first version. The "
            "superseded article stays in the log; consumers that want the current version of "
            "each file drop the articles some other article supersedes."
        )
    ),
]
Warnings = Annotated[
    tuple[NonEmptyStr, ...],
    Field(
        description=(
            "What the source gave that could not be used as given, e.g. a published date that "
            "was not understood and is left empty; each a sentence for people."
        )
    ),
]


class Event(BaseModel):
    """Base of every event: immutable, strict about unknown fields, versioned."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1, 2, 3, 4] = SCHEMA_VERSION


class _Part(BaseModel):
    """Base of the values nested inside events (no version of their own)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DatePrecision(StrEnum):
    """How much of ``published`` the source actually stated (the rest is filled with minimums)."""

    YEAR = "year"
    MONTH = "month"
    DAY = "day"
    TIME = "time"


class ArticleIngested(Event):
    """One unique article read from a source; the record of ``news.articles.raw`` (key: article_id).

    This topic is the event log of record: everything downstream can be rebuilt from it.
    """

    event_type: Literal["ArticleIngested"] = "ArticleIngested"
    article_id: NonEmptyStr = Field(description="Stable hash of the normalised title and body.")
    source_id: NonEmptyStr = Field(description="The file name's stem (or the feed's own id).")
    source_path: NonEmptyStr = Field(description="Path of the file relative to the inbox.")
    content_format: Literal["txt", "md", "json"]
    content_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="SHA-256 of the file's bytes as read."
    )
    title: str | None = None
    body: NonEmptyStr
    published: AwareDatetime | None = None
    published_precision: DatePrecision | None = None
    url: str | None = None
    source: str | None = Field(default=None, description="Outlet name, when the input gives one.")
    ingested_at: AwareDatetime
    supersedes: Supersedes = None
    warnings: Warnings = ()

    @model_validator(mode="after")
    def _precision_goes_with_date(self) -> ArticleIngested:
        if (self.published is None) != (self.published_precision is None):
            raise ValueError("published and published_precision are given together or not at all")
        return self


class Language(_Part):
    code: Annotated[str, Field(min_length=2, max_length=8)] = Field(
        description="ISO 639-1 code where one exists (nl, en, ...), 'und' when undetermined."
    )
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]


class SentimentLabel(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


Score = Annotated[float, Field(ge=-1.0, le=1.0)]


class EntitySentiment(_Part):
    """Sentiment toward one entity: how the text portrays it (not the tone of the text itself:
    "X beat Y" is positive toward X and negative toward Y)."""

    label: SentimentLabel
    score: Score = Field(description="P(positive) - P(negative) toward the entity, in [-1, 1].")


class EntityLabel(StrEnum):
    PER = "PER"
    LOC = "LOC"
    ORG = "ORG"
    MISC = "MISC"


class Entity(_Part):
    """One mention of a named entity in the body."""

    text: NonEmptyStr
    label: EntityLabel
    start: Offset
    end: Offset
    canonical: NonEmptyStr = Field(
        description="The entity's full name within the article ('Trump' -> 'Donald Trump')."
    )
    entity_id: NonEmptyStr | None = Field(
        default=None,
        description="Id of the referent across articles, outlets and languages "
        "('VS', 'United States' -> 'loc/united-states'); from the entity-links enricher.",
    )
    display_name: NonEmptyStr | None = Field(
        default=None,
        description="The name shown for entity_id in the article's language ('VS' -> "
        "'Verenigde Staten' in Dutch, 'United States' in English); from the entity-links "
        "enricher, None in events written before schema version 3.",
    )
    related_id: NonEmptyStr | None = Field(
        default=None,
        description="For an adjective, demonym or language (MISC), the id of the place it "
        "belongs to ('Amerikaanse' -> 'loc/united-states'); None for other entities.",
    )
    sentiment: EntitySentiment | None = Field(
        default=None,
        description="How the sentence this mention stands in portrays the entity; from an "
        "entity-sentiment enricher, None when none ran and in events written before schema "
        "version 4.",
    )

    @property
    def shown_name(self) -> str:
        """The name to show people: the display name of a linked referent, else the canonical
        name (events written before display names, entities nobody linked)."""
        if self.entity_id is not None and self.display_name:
            return self.display_name
        return self.canonical

    @model_validator(mode="after")
    def _span_is_ordered(self) -> Entity:
        if self.end <= self.start:
            raise ValueError("entity end must be after start")
        return self


class Quote(_Part):
    """A direct quote in the body and, when the text names one, who said it."""

    text: NonEmptyStr = Field(description="The quoted words, without the quote marks.")
    start: Offset
    end: Offset
    speaker: NonEmptyStr | None = Field(
        default=None,
        description="Canonical name of the speaker; null when the text attributes it to nobody.",
    )
    speaker_id: NonEmptyStr | None = Field(
        default=None, description="The speaker's entity id (see Entity.entity_id), when known."
    )

    @model_validator(mode="after")
    def _span_is_ordered(self) -> Quote:
        if self.end <= self.start:
            raise ValueError("quote end must be after start")
        return self


class SentenceSentiment(_Part):
    start: Offset
    end: Offset
    label: SentimentLabel
    score: Score = Field(description="P(positive) - P(negative), in [-1, 1].")


class Sentiment(_Part):
    label: SentimentLabel
    score: Score
    sentences: tuple[SentenceSentiment, ...] = ()


class EnricherInfo(_Part):
    name: NonEmptyStr
    version: NonEmptyStr


class ArticleEnriched(Event):
    """The enrichment of one article; the record of ``news.articles.enriched`` (key: article_id).

    ``event_id`` is deterministic (article id + enricher versions), so a redelivered or replayed
    event with the same enrichers has the same id and sinks can upsert on it.
    """

    event_type: Literal["ArticleEnriched"] = "ArticleEnriched"
    event_id: NonEmptyStr
    article_id: NonEmptyStr
    source_id: NonEmptyStr
    source_path: NonEmptyStr
    title: str | None = None
    body: NonEmptyStr
    published: AwareDatetime | None = None
    published_precision: DatePrecision | None = None
    url: str | None = None
    source: str | None = None
    ingested_at: AwareDatetime
    supersedes: Supersedes = None
    warnings: Warnings = ()
    language: Language
    entities: tuple[Entity, ...] = ()
    quotes: tuple[Quote, ...] = ()
    sentiment: Sentiment
    provenance: tuple[EnricherInfo, ...] = Field(min_length=1)
    enriched_at: AwareDatetime
    story_id: NonEmptyStr | None = Field(
        default=None,
        description=(
            "The story the worker assigned the article to (see StoryUpdated on news.stories); "
            "None where no story was assigned, e.g. in a replay to a suffixed topic. Not part "
            "of event_id: the same derivation keeps its id whatever its story."
        ),
    )


class EntityMention(_Part):
    text: NonEmptyStr
    start: Offset
    end: Offset
    sentiment: EntitySentiment | None = Field(
        default=None,
        description="The mention's sentiment (its Entity.sentiment): how its sentence portrays "
        "the entity; None without an entity-sentiment enricher and before schema version 4.",
    )


class EntityMentioned(Event):
    """One (article, canonical entity) pair with all its mentions; on ``news.entities``.

    Key: ``article_id``, so all entities of an article stay in one partition, in order.
    """

    event_type: Literal["EntityMentioned"] = "EntityMentioned"
    event_id: NonEmptyStr
    article_id: NonEmptyStr
    canonical: NonEmptyStr
    label: EntityLabel
    entity_id: NonEmptyStr | None = None
    display_name: NonEmptyStr | None = Field(
        default=None,
        description="The name shown for entity_id in the article's language (the entities' "
        "display_name); None without the entity-links enricher and before schema version 3.",
    )
    mentions: tuple[EntityMention, ...] = Field(min_length=1)
    sentiment: EntitySentiment | None = Field(
        default=None,
        description="How the article portrays the entity, over the mentions that have a "
        "sentiment: score the mean of their scores; label the most common of their labels, a "
        "tie going to the label of the mean score's sign (else neutral), and neutral where the "
        "mean score's sign contradicts it. None when no mention has one (no entity-sentiment "
        "enricher, events before schema version 4).",
    )
    language: Annotated[str, Field(min_length=2, max_length=8)]
    published: AwareDatetime | None = None
    provenance: tuple[EnricherInfo, ...] = Field(min_length=1)


class QuoteSaid(Event):
    """One direct quote of an article, with its speaker when the text names one; on
    ``news.quotes``. Key: ``article_id``, like every per-article output."""

    event_type: Literal["QuoteSaid"] = "QuoteSaid"
    event_id: NonEmptyStr
    article_id: NonEmptyStr
    text: NonEmptyStr
    start: Offset
    end: Offset
    speaker: NonEmptyStr | None = None
    speaker_id: NonEmptyStr | None = None
    language: Annotated[str, Field(min_length=2, max_length=8)]
    published: AwareDatetime | None = None
    provenance: tuple[EnricherInfo, ...] = Field(min_length=1)


class TrendWindowKind(StrEnum):
    TUMBLING = "tumbling"
    HOPPING = "hopping"


class EntityTrending(Event):
    """The current figures of one entity in one window; on ``news.entities.trending``.

    Key: ``entity_id`` (the canonical name for an entity without one). Published by the worker
    each time an article mentioning the entity updates the window, so the latest event per
    (entity, window, window_start) is the current value. ``event_id`` is deterministic
    (entity, window, start and the figures).
    """

    event_type: Literal["EntityTrending"] = "EntityTrending"
    event_id: NonEmptyStr
    canonical: NonEmptyStr
    entity_id: NonEmptyStr | None = Field(
        default=None, description="The id the figures are counted under (Entity.entity_id)."
    )
    label: EntityLabel
    window: NonEmptyStr = Field(description="The window's name in the web views, e.g. '1h'.")
    window_kind: TrendWindowKind
    window_start: AwareDatetime
    window_end: AwareDatetime
    mentions: Annotated[int, Field(ge=1)] = Field(description="Mentions in the window.")
    articles: Annotated[int, Field(ge=1)] = Field(description="Articles mentioning it.")
    avg_sentiment: Score = Field(
        description="Mean, over those articles, of the sentiment toward the entity in each (the "
        "score of its mentions' aggregate there, as EntityMentioned.sentiment); for an article "
        "whose mentions carry no sentiment (no entity-sentiment enricher, events before schema "
        "version 4), its document sentiment score instead. In [-1, 1]."
    )
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _window_is_ordered(self) -> EntityTrending:
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class StoryEntity(_Part):
    """One entity of a story, summed over its articles (duplicates not counted)."""

    entity_id: NonEmptyStr
    name: NonEmptyStr = Field(description="Canonical name, as the first article naming it had it.")
    label: EntityLabel
    mentions: Annotated[int, Field(ge=1)]
    articles: Annotated[int, Field(ge=1)]


class StoryDuplicate(_Part):
    article_id: NonEmptyStr
    duplicate_of: NonEmptyStr = Field(description="The original article it near-duplicates.")


class StoryUpdated(Event):
    """A story's state after one article was assigned to it; on ``news.stories`` (key: story_id).

    One event per assigned article: ``article_id`` is that article and ``story_id`` its story
    (the article -> story assignment), the rest is the story as it is now, so the latest event
    per ``story_id`` is the story's current state. ``story_id`` is derived from the story's
    first article; ``event_id`` from the story, its articles and ``article_id``, so a
    redelivered article re-sends an identical event.
    """

    event_type: Literal["StoryUpdated"] = "StoryUpdated"
    event_id: NonEmptyStr
    story_id: NonEmptyStr
    title: NonEmptyStr = Field(description="The first article's title, else its first sentence.")
    article_ids: tuple[NonEmptyStr, ...] = Field(
        min_length=1, description="Every article of the story, duplicates included, in order."
    )
    duplicates: tuple[StoryDuplicate, ...] = ()
    top_entities: tuple[StoryEntity, ...] = ()
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    article_id: NonEmptyStr = Field(description="The article whose assignment this reports.")
    duplicate_of: NonEmptyStr | None = None
    match_score: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        description="Similarity to what it joined (0 when it started the story)."
    )
    new_story: bool
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _is_consistent(self) -> StoryUpdated:
        if self.last_seen < self.first_seen:
            raise ValueError("last_seen must not be before first_seen")
        if self.article_id not in self.article_ids:
            raise ValueError("article_id must be one of article_ids")
        return self


class DeadLetterStage(StrEnum):
    WATCH = "watch"
    DECODE = "decode"
    ENRICH = "enrich"
    SINK = "sink"


class FileOrigin(_Part):
    kind: Literal["file"] = "file"
    path: NonEmptyStr = Field(description="Path as found in the inbox (relative to it).")
    size: Annotated[int, Field(ge=0)] | None = None
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


class TopicOrigin(_Part):
    kind: Literal["topic"] = "topic"
    topic: NonEmptyStr
    partition: Annotated[int, Field(ge=0)]
    offset: Annotated[int, Field(ge=0)]
    key: str | None = None


class DeadLetter(Event):
    """One failure, with everything needed to understand and retry it; on ``news.deadletter``.

    ``payload_b64`` holds the original bytes (base64) when they fit the size limit, so nothing is
    lost; for files too large to carry, ``origin.path`` and ``origin.sha256`` identify them.
    """

    event_type: Literal["DeadLetter"] = "DeadLetter"
    event_id: NonEmptyStr = Field(description="Deterministic: stage + origin (+ content hash).")
    stage: DeadLetterStage
    reason: NonEmptyStr = Field(description="Short machine-readable reason, e.g. 'empty-file'.")
    detail: str = Field(default="", description="Human-readable explanation.")
    origin: Annotated[FileOrigin | TopicOrigin, Field(discriminator="kind")]
    payload_b64: str | None = None
    payload_truncated: bool = False
    occurred_at: AwareDatetime


def utc_now() -> datetime:
    """The current time, timezone-aware (every event timestamp uses this)."""
    return datetime.now(UTC)
