"""The enrich step's batch logic: raw-topic records in, output records out; Faust-free.

The worker's ``enrich`` agent (:mod:`streams.app.agents.enrich`), ``newsstream replay`` and
the benchmarks all turn raw records into outputs with :class:`BatchProcessor`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from schemas import ArticleEnriched, ArticleIngested, DeadLetterStage, DecodeError, decode, encode
from schemas.deadletters import record_deadletter
from streams.config import Topics
from streams.enrich.pipeline import EnrichmentFailure, Pipeline, entity_events, quote_events
from streams.processing.delivery import Output, Send, deliver
from streams.processing.story_input import STORY_ID_RESERVE

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One consumed record of the raw topic, as the enrich step needs it: where it is and
    its bytes (a :class:`schemas.deadletters.Record`)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class BatchProcessor:
    """Turns a batch of raw-topic records into output events; Faust-free so it is testable.

    ``process`` returns only after every output of the batch was acknowledged by the broker,
    which is what lets the caller acknowledge the input (at-least-once).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        run_blocking: Callable[
            [
                Callable[[Sequence[ArticleIngested]], list[ArticleEnriched | EnrichmentFailure]],
                Sequence[ArticleIngested],
            ],
            Awaitable[list[ArticleEnriched | EnrichmentFailure]],
        ],
        send: Send,
        topics: Topics,
        max_deadletter_payload_bytes: int,
        max_event_bytes: int = 1_000_000,
        enriched_via: str | None = None,
        retry_initial_seconds: float = 0.5,
        retry_max_seconds: float = 30.0,
    ) -> None:
        """``enriched_via``: the topic to send the ``ArticleEnriched`` events to instead of
        ``topics.enriched`` (the worker's story input, whose agent adds ``story_id`` and
        publishes them on ``topics.enriched``, see :mod:`streams.app.agents.stories`); None
        sends them to ``topics.enriched`` directly, as-is (no story)."""
        self._pipeline = pipeline
        self._run_blocking = run_blocking
        self._send = send
        self._topics = topics
        self._max_payload = max_deadletter_payload_bytes
        self._enriched_to = enriched_via or topics.enriched
        # The stories agent adds ``story_id`` before the event reaches the enriched topic:
        # keep room for it so that the final event is within the limit too.
        self._max_event = max_event_bytes - (STORY_ID_RESERVE if enriched_via else 0)
        self._retry_initial = retry_initial_seconds
        self._retry_max = retry_max_seconds

    async def process(self, records: Sequence[RawRecord]) -> None:
        """Enrich ``records`` and send every output; return once all are acknowledged.

        A send that fails (broker down, timed out) is retried with capped backoff until it
        succeeds, without enriching again: Faust's ``take_events`` acknowledges a batch even
        when the loop body raises, so giving up here would lose the batch (see
        :mod:`streams.processing.delivery`).
        """
        await deliver(
            self._send,
            await self.outputs(records),
            initial_seconds=self._retry_initial,
            max_seconds=self._retry_max,
        )

    async def outputs(self, records: Sequence[RawRecord]) -> list[Output]:
        """The output records of ``records``: each article's enriched event
        (to the story input or the enriched topic), its entity and quote events, and a dead
        letter for each record that does not decode or enrich. Sends nothing."""
        articles: list[ArticleIngested] = []
        origins: dict[str, RawRecord] = {}
        sends: list[Output] = []
        for record in records:
            try:
                article = decode(record.value or b"", ArticleIngested)
            except DecodeError as exc:
                sends.append(
                    self._deadletter(record, DeadLetterStage.DECODE, exc.reason, exc.detail)
                )
                continue
            articles.append(article)
            origins.setdefault(article.article_id, record)
        if articles:
            results = await self._run_blocking(self._pipeline.enrich_batch, articles)
            for result in results:
                if isinstance(result, EnrichmentFailure):
                    record = origins[result.article.article_id]
                    sends.append(
                        self._deadletter(
                            record, DeadLetterStage.ENRICH, result.reason, result.detail
                        )
                    )
                    continue
                key = result.article_id.encode()
                value = encode(result)
                if len(value) > self._max_event:
                    record = origins[result.article_id]
                    detail = f"the enriched event has {len(value)} bytes, over {self._max_event}"
                    sends.append(
                        self._deadletter(record, DeadLetterStage.ENRICH, "output-too-large", detail)
                    )
                    continue
                sends.append((self._enriched_to, key, value))
                for entity_event in entity_events(result):
                    sends.append((self._topics.entities, key, encode(entity_event)))
                for quote_event in quote_events(result):
                    sends.append((self._topics.quotes, key, encode(quote_event)))
        return sends

    def _deadletter(
        self, record: RawRecord, stage: DeadLetterStage, reason: str, detail: str
    ) -> Output:
        log.warning(
            "dead-lettered %s[%d]@%d: %s (%s)",
            record.topic,
            record.partition,
            record.offset,
            reason,
            detail,
        )
        event = record_deadletter(
            record, stage, reason, detail, max_payload_bytes=self._max_payload
        )
        return (self._topics.deadletter, record.key or b"", encode(event))
