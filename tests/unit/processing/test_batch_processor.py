"""The enrich agent's batch logic: outputs, dead letters, and acknowledgement order."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Sequence
from typing import TypeVar

from schemas import (
    ArticleEnriched,
    ArticleIngested,
    DeadLetter,
    Entity,
    EntityLabel,
    EntityMentioned,
    QuoteSaid,
    decode,
    encode,
)
from schemas.events import utc_now
from streams.config import Topics
from streams.enrich.base import Document, Enricher, EnricherError
from streams.enrich.pipeline import Pipeline, event_id_for
from streams.processing.batch import BatchProcessor, RawRecord
from streams.processing.story_input import STORY_ID_RESERVE
from streams.sources.parse import article_id_for
from streams.stories.cluster import story_id_for

T = TypeVar("T")
TOPICS = Topics("news.")


class RejectsWord(Enricher):
    """A real enricher that refuses articles containing a word (stands for a model crash)."""

    name = "rejects-word"
    version = "1"

    def __init__(self, word: str) -> None:
        self.word = word

    def enrich(self, doc: Document) -> Document:
        if self.word in doc.body:
            raise EnricherError(f"cannot handle {self.word!r}")
        return doc


def article(body: str) -> ArticleIngested:
    return ArticleIngested(
        article_id=article_id_for(None, body),
        source_id="s",
        source_path="s.txt",
        content_format="txt",
        content_sha256="0" * 64,
        body=body,
        ingested_at=utc_now(),
    )


class Broker:
    """Collects sends; each send completes only when ``release`` is called (like an ack)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.acked = asyncio.Event()

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.sent.append((topic, key, value))
        await self.acked.wait()

    def on(self, topic: str, cls: type[T]) -> list[T]:
        return [decode(v, cls) for t, _, v in self.sent if t == topic]  # type: ignore[type-var]


async def _inline(
    fn: Callable[[Sequence[ArticleIngested]], T], arg: Sequence[ArticleIngested]
) -> T:
    return fn(arg)


def processor(broker: Broker, *enrichers: Enricher) -> BatchProcessor:
    return BatchProcessor(
        pipeline=Pipeline(list(enrichers) or [RejectsWord("BOOM")]),
        run_blocking=_inline,
        send=broker.send,
        topics=TOPICS,
        max_deadletter_payload_bytes=1024,
    )


def record(offset: int, value: bytes, key: bytes | None = b"k") -> RawRecord:
    return RawRecord(topic=TOPICS.raw, partition=2, offset=offset, key=key, value=value)


async def test_good_bad_and_failing_records_each_get_their_outcome() -> None:
    broker = Broker()
    good = article("Kim en Trump in Hanoi.")
    failing = article("Dit artikel zegt BOOM.")
    records = [
        record(10, encode(good), key=good.article_id.encode()),
        record(11, b"\xff\xfe not json"),
        record(12, b'{"event_type": "ArticleIngested"}'),
        record(13, encode(failing), key=failing.article_id.encode()),
    ]
    broker.acked.set()
    await processor(broker).process(records)

    enriched = broker.on(TOPICS.enriched, ArticleEnriched)
    assert [e.article_id for e in enriched] == [good.article_id]
    pipeline_provenance = Pipeline([RejectsWord("BOOM")]).provenance
    assert enriched[0].event_id == event_id_for(good.article_id, pipeline_provenance)
    letters = {d.origin.offset: d for d in broker.on(TOPICS.deadletter, DeadLetter)}  # type: ignore[union-attr]
    assert {o: (d.stage.value, d.reason) for o, d in letters.items()} == {
        11: ("decode", "invalid-json"),
        12: ("decode", "invalid-event"),
        13: ("enrich", "enricher-failed:rejects-word"),
    }
    assert base64.b64decode(letters[11].payload_b64 or "") == b"\xff\xfe not json"
    assert "cannot handle 'BOOM'" in letters[13].detail
    assert letters[13].origin.key == failing.article_id  # type: ignore[union-attr]


async def test_process_returns_only_after_every_output_is_acknowledged() -> None:
    broker = Broker()
    task = asyncio.create_task(processor(broker).process([record(1, encode(article("Tekst.")))]))
    await asyncio.sleep(0.05)
    assert broker.sent  # sent ...
    assert not task.done()  # ... but the batch is not done until the broker acknowledged
    broker.acked.set()
    await asyncio.wait_for(task, 1)


async def test_entity_events_are_keyed_by_article() -> None:
    class Names(Enricher):
        name = "names"
        version = "1"

        def enrich(self, doc: Document) -> Document:
            spans = [(0, 3, "Kim"), (8, 13, "Trump"), (17, 22, "Trump")]
            return doc.with_(
                entities=tuple(
                    Entity(text=t, label=EntityLabel.PER, start=s, end=e, canonical=t)
                    for s, e, t in spans
                )
            )

    broker = Broker()
    broker.acked.set()
    item = article("Kim en  Trump en Trump.")
    await processor(broker, Names()).process([record(1, encode(item))])
    events = broker.on(TOPICS.entities, EntityMentioned)
    assert sorted((e.canonical, len(e.mentions)) for e in events) == [("Kim", 1), ("Trump", 2)]
    keys = {k for t, k, _ in broker.sent if t == TOPICS.entities}
    assert keys == {item.article_id.encode()}


async def test_quote_events_carry_speaker_and_are_keyed_by_article() -> None:
    from streams.enrich.quotes import QuoteExtractor
    from streams.enrich.sentences import SentenceSplitter

    class Names(Enricher):
        name = "names"
        version = "1"

        def enrich(self, doc: Document) -> Document:
            start = doc.body.index("Kim")
            return doc.with_(
                entities=(
                    Entity(
                        text="Kim",
                        label=EntityLabel.PER,
                        start=start,
                        end=start + 3,
                        canonical="Kim Jong-un",
                        entity_id="per/kim-jong-un",
                    ),
                )
            )

    broker = Broker()
    broker.acked.set()
    item = article(
        "„We praten overal over”, aldus Kim. Een bewoner zei: “Het was heel productief.”"
    )
    pipeline = (SentenceSplitter(), Names(), QuoteExtractor())
    await processor(broker, *pipeline).process([record(1, encode(item))])
    (enriched,) = broker.on(TOPICS.enriched, ArticleEnriched)
    quotes = broker.on(TOPICS.quotes, QuoteSaid)
    # An unnamed speaker ("een bewoner") is no speaker: None rather than the last name seen.
    assert [(q.text, q.speaker, q.speaker_id) for q in quotes] == [
        ("We praten overal over", "Kim Jong-un", "per/kim-jong-un"),
        ("Het was heel productief.", None, None),
    ]
    assert [q.text for q in enriched.quotes] == [q.text for q in quotes]
    assert {k for t, k, _ in broker.sent if t == TOPICS.quotes} == {item.article_id.encode()}
    assert len({q.event_id for q in quotes}) == 2


async def test_oversized_output_is_dead_lettered_not_sent() -> None:
    broker = Broker()
    broker.acked.set()
    proc = BatchProcessor(
        pipeline=Pipeline([RejectsWord("never")]),
        run_blocking=_inline,
        send=broker.send,
        topics=TOPICS,
        max_deadletter_payload_bytes=1024,
        max_event_bytes=100,
    )
    await proc.process([record(5, encode(article("Een tekst die te groot wordt.")))])
    assert broker.on(TOPICS.enriched, ArticleEnriched) == []
    (letter,) = broker.on(TOPICS.deadletter, DeadLetter)
    assert letter.reason == "output-too-large"


async def test_enriched_via_sends_the_enriched_events_there_and_the_rest_as_usual() -> None:
    class Names(Enricher):
        name = "names"
        version = "1"

        def enrich(self, doc: Document) -> Document:
            kim = Entity(text="Kim", label=EntityLabel.PER, start=0, end=3, canonical="Kim")
            return doc.with_(entities=(kim,))

    broker = Broker()
    broker.acked.set()
    story_input = "newsstream-story-input"
    proc = BatchProcessor(
        pipeline=Pipeline([Names()]),
        run_blocking=_inline,
        send=broker.send,
        topics=TOPICS,
        max_deadletter_payload_bytes=1024,
        enriched_via=story_input,
    )
    item = article("Kim sprak in Hanoi.")
    await proc.process([record(1, encode(item)), record(2, b"not json")])
    assert broker.on(TOPICS.enriched, ArticleEnriched) == []  # only the stories agent sends there
    (enriched,) = broker.on(story_input, ArticleEnriched)
    assert enriched.article_id == item.article_id
    assert enriched.story_id is None  # the stories agent sets it
    placed = enriched.model_copy(update={"story_id": story_id_for(enriched.article_id)})
    assert len(encode(placed)) - len(encode(enriched)) <= STORY_ID_RESERVE
    assert {k for t, k, _ in broker.sent if t == story_input} == {item.article_id.encode()}
    assert [e.canonical for e in broker.on(TOPICS.entities, EntityMentioned)] == ["Kim"]
    assert len(broker.on(TOPICS.deadletter, DeadLetter)) == 1


async def test_enriched_via_keeps_room_for_the_story_id_under_the_event_limit() -> None:
    item = article("Een tekst die net onder de grens blijft.")
    size = len(encode(Pipeline([RejectsWord("never")]).enrich_batch([item])[0]))  # type: ignore[arg-type]
    outcomes = []
    for via in (None, "newsstream-story-input"):
        broker = Broker()
        broker.acked.set()
        await BatchProcessor(
            pipeline=Pipeline([RejectsWord("never")]),
            run_blocking=_inline,
            send=broker.send,
            topics=TOPICS,
            max_deadletter_payload_bytes=1024,
            max_event_bytes=size + STORY_ID_RESERVE // 2,
            enriched_via=via,
        ).process([record(1, encode(item))])
        outcomes.append([t for t, _, _ in broker.sent])
    assert outcomes == [[TOPICS.enriched], [TOPICS.deadletter]]
