"""``newsstream replay``: re-derive the enriched outputs from the raw event log.

Design (what a Kafka user gets): a one-shot *replayer*, not a consumer-group reset. It reads
every partition of the raw topic from its beginning up to the log end measured when it starts
(records produced later are the live worker's business), with no consumer group, so the running
workers, their committed offsets and the inbox are untouched. Each batch goes through the same
enrichment pipeline and the same ``BatchProcessor`` as the worker (identical outputs, keys and
dead letters), and is sent with the same idempotent, acks=all producer settings.

* Without ``--to-suffix`` the outputs go to the live output topics, the enriched events the
  way the worker sends them: to the worker's story input (``{app_id}-story-input``, see
  ``streams.app.agents.stories``), so that a running worker assigns their stories exactly as
  live and publishes them on the enriched topic with their ``story_id`` (with no worker running they
  wait in that topic). Each derived event carries the enrichers' names and versions
  (provenance) and a deterministic ``event_id`` (article id + versions): replaying with
  unchanged enrichers changes nothing in the sinks (same event id), replaying after an enricher
  upgrade replaces each article's row with the newer derivation.
* With ``--to-suffix v2`` the outputs go to ``<enriched>.v2``, ``<entities>.v2`` and
  ``<quotes>.v2`` (created if missing), so the new derivation can be inspected, or fed to a
  sink, before consumers switch. Stories are a derivation of the live stream (one story state,
  owned by the worker), so these enriched events carry ``story_id`` None. Dead letters always
  go to the one dead-letter topic.
* ``--until TIMESTAMP`` replays only raw events whose Kafka timestamp is at or before it.

Resetting the worker's consumer group instead would also re-run the enrichment, but it needs
every worker stopped, cannot write to other topics, and mixes replayed with live traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from streams.config import Settings, Topics
from streams.enrich.pipeline import Pipeline
from streams.kafka.admin import TopicSpec, ensure_topics
from streams.kafka.client import KafkaConnection, started_producer
from streams.kafka.reads import TopicNotFoundError, read_log

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReplaySummary:
    """What a replay did: raw records read and replayed (at or before ``until``), skipped."""

    read: int = 0
    replayed: int = 0
    skipped_after_until: int = 0
    enriched_topic: str = ""
    entities_topic: str = ""
    quotes_topic: str = ""
    enriched_via: str | None = None
    """The worker's story input the enriched events went to (a live replay), else None."""


def output_topics(settings: Settings, suffix: str | None) -> Topics:
    """The topics a replay writes: the live ones, or the enriched/entities/quotes ones +
    ``.suffix``."""
    topics = Topics(settings.topic_prefix)
    if suffix:
        topics.enriched = f"{topics.enriched}.{suffix}"
        topics.entities = f"{topics.entities}.{suffix}"
        topics.quotes = f"{topics.quotes}.{suffix}"
    return topics


def parse_until(text: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def replay(
    settings: Settings,
    conn: KafkaConnection,
    pipeline: Pipeline,
    *,
    until: datetime | None = None,
    suffix: str | None = None,
    batch_size: int = 32,
    on_batch: Callable[[ReplaySummary], None] | None = None,
) -> ReplaySummary:
    """Replay the raw topic from its beginning to its end now; return once every output of
    every replayed record was acknowledged by the broker."""
    from streams.processing.batch import BatchProcessor, RawRecord
    from streams.processing.story_input import story_input_topic

    topics = output_topics(settings, suffix)
    # Live: through the worker's story input, so the enriched events get their story.
    via = None if suffix else story_input_topic(settings.app_id)
    summary = ReplaySummary(
        enriched_topic=topics.enriched,
        entities_topic=topics.entities,
        quotes_topic=topics.quotes,
        enriched_via=via,
    )
    if suffix:
        spec = TopicSpec(
            partitions=settings.partitions, replication_factor=settings.replication_factor
        )
        await ensure_topics(
            conn, {topics.enriched: spec, topics.entities: spec, topics.quotes: spec}
        )
    elif via is not None:
        # One partition, as the worker declares it (a no-op once a worker has run).
        await ensure_topics(
            conn, {via: TopicSpec(partitions=1, replication_factor=settings.replication_factor)}
        )
    until_ms = None if until is None else int(until.timestamp() * 1000)
    batches = read_log(conn, topics.raw, max_records=batch_size)
    async with contextlib.aclosing(batches), started_producer(conn) as producer:

        async def send(topic: str, key: bytes, value: bytes) -> None:
            await (await producer.send(topic, value, key=key))

        loop = asyncio.get_running_loop()
        processor = BatchProcessor(
            pipeline=pipeline,
            run_blocking=lambda fn, arg: loop.run_in_executor(None, fn, arg),
            send=send,
            topics=topics,
            max_deadletter_payload_bytes=settings.max_deadletter_payload_bytes,
            enriched_via=via,
        )
        try:
            async for fetched in batches:
                records: list[RawRecord] = []
                for r in fetched:
                    summary.read += 1
                    if until_ms is not None and r.timestamp > until_ms:
                        summary.skipped_after_until += 1
                        continue
                    records.append(RawRecord(r.topic, r.partition, r.offset, r.key, r.value))
                if records:
                    await processor.process(records)
                    summary.replayed += len(records)
                    if on_batch is not None:
                        on_batch(summary)
        except TopicNotFoundError:
            raise LookupError(
                f"the raw topic {topics.raw!r} does not exist on the broker"
            ) from None
    log.info(
        "replayed %d of %d raw events into %s, %s and %s",
        summary.replayed,
        summary.read,
        summary.enriched_topic,
        summary.entities_topic,
        summary.quotes_topic,
    )
    return summary


def describe(summary: ReplaySummary) -> Sequence[str]:
    """Lines for the console."""
    # One topic a line: with their prefix and suffix the names would not fit 80 columns.
    lines = [
        f"replayed {summary.replayed} raw events into",
        f"  {summary.enriched_topic}",
        f"  {summary.entities_topic}",
        f"  {summary.quotes_topic}",
    ]
    if summary.enriched_via:
        lines.append(
            f"the enriched events went to {summary.enriched_via}: a running worker assigns "
            f"their stories and publishes them on {summary.enriched_topic}"
        )
    else:
        lines.append(f"feed a sink: newsstream sink KIND --topic {summary.enriched_topic}")
    if summary.skipped_after_until:
        lines.append(f"skipped {summary.skipped_after_until} raw events after --until")
    return lines
