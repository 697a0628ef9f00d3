"""Hand-built enriched articles with sentiment toward their entities (schema version 4), and
the same articles as a version-3 writer made them, for the consumers' tests.

No model makes these values: each mention gets the sentiment a test gives it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import orjson

from schemas import (
    ArticleEnriched,
    EnricherInfo,
    Entity,
    EntityLabel,
    EntitySentiment,
    Language,
    SentenceSentiment,
    Sentiment,
    SentimentLabel,
    decode,
    encode,
)

AT = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)

MATCH = "Ajax versloeg Feyenoord met 4-0. Ajax speelde sterk, Feyenoord was zwak."
"""One article, two clubs portrayed oppositely: Ajax well, Feyenoord badly."""
MATCH_NAMES = {
    "Ajax": ("org/ajax", EntityLabel.ORG),
    "Feyenoord": ("org/feyenoord", EntityLabel.ORG),
}
PRAISED = (
    EntitySentiment(label=SentimentLabel.POSITIVE, score=0.75),
    EntitySentiment(label=SentimentLabel.POSITIVE, score=0.5),
)
BLAMED = (
    EntitySentiment(label=SentimentLabel.NEGATIVE, score=-0.5),
    EntitySentiment(label=SentimentLabel.NEGATIVE, score=-0.75),
)


def _label(score: float) -> SentimentLabel:
    return (
        SentimentLabel.POSITIVE
        if score > 0
        else SentimentLabel.NEGATIVE
        if score < 0
        else SentimentLabel.NEUTRAL
    )


def with_entity_sentiment(
    article_id: str = "match-1",
    *,
    body: str = MATCH,
    names: Mapping[str, tuple[str, EntityLabel]] = MATCH_NAMES,
    sentiments: Mapping[str, tuple[EntitySentiment | None, ...]] | None = None,
    document_score: float = 0.25,
    ingested_at: datetime = AT,
) -> ArticleEnriched:
    """An enriched article of ``body`` whose every occurrence of each of ``names`` (text ->
    (entity id, label)) is an entity mention, the n-th occurrence of a name with the n-th
    sentiment of ``sentiments[name]`` (default: Ajax praised, Feyenoord blamed). The document
    sentiment is ``document_score`` and each sentence's score is that too."""
    given = sentiments if sentiments is not None else {"Ajax": PRAISED, "Feyenoord": BLAMED}
    entities = []
    for text, (entity_id, label) in names.items():
        start = body.find(text)
        n = 0
        while start != -1:
            scores = given.get(text, ())
            entities.append(
                Entity(
                    text=text,
                    label=label,
                    start=start,
                    end=start + len(text),
                    canonical=text,
                    entity_id=entity_id,
                    display_name=text,
                    sentiment=scores[n] if n < len(scores) else None,
                )
            )
            n += 1
            start = body.find(text, start + 1)
    sentences = []
    at = 0
    for part in body.split(". "):
        end = min(len(body), at + len(part) + 1)
        sentences.append(
            SentenceSentiment(start=at, end=end, label=_label(document_score), score=document_score)
        )
        at = end + 1
    return ArticleEnriched(
        event_id=f"e-{article_id}",
        article_id=article_id,
        source_id=article_id,
        source_path=f"{article_id}.txt",
        title=None,
        body=body,
        ingested_at=ingested_at,
        language=Language(code="nl", confidence=0.99),
        entities=tuple(sorted(entities, key=lambda e: e.start)),
        sentiment=Sentiment(
            label=_label(document_score), score=document_score, sentences=tuple(sentences)
        ),
        provenance=(EnricherInfo(name="hand-made", version="1"),),
        enriched_at=ingested_at,
    )


def as_version_3(event: ArticleEnriched) -> ArticleEnriched:
    """``event`` as a version-3 writer would have written it (no entity sentiment), read back
    by this code from its JSON."""
    raw = orjson.loads(encode(event))
    raw["schema_version"] = 3
    for entity in raw["entities"]:
        del entity["sentiment"]
    return decode(orjson.dumps(raw), ArticleEnriched)
