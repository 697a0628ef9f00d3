"""The Faust app: factory, topics and the enrich agent. The only package that imports faust.

Delivery on this path (raw topic -> story input, entities and dead-letter topics; the story
input's agent then publishes the enriched events, see ``streams.app.stories``) is
at-least-once with idempotent effects: an input batch is acknowledged to Faust only after every
output event of the batch (and of every earlier batch) was acknowledged by the broker (acks=all,
idempotent producer), so a crash re-delivers at most the unacknowledged batches; their outputs
carry the same deterministic ``event_id`` and sinks upsert on it. The agent enriches the next
batch while the broker acknowledges the last ones (:class:`~streams.app.delivery.DeliveryWindow`,
``AppConfig.batches_in_flight``).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from schemas import (
    ArticleEnriched,
    ArticleIngested,
    DeadLetter,
    DeadLetterStage,
    DecodeError,
    TopicOrigin,
    decode,
    encode,
)
from schemas.events import utc_now
from streams.app.delivery import DeliveryWindow, Output, deliver, hold
from streams.app.metrics import WorkerMetrics
from streams.app.stories import STORY_ID_RESERVE, install_stories, story_input_topic
from streams.app.watchdog import Watchdog, install
from streams.app.web import assigned_partitions, install_dashboard
from streams.config import Topics
from streams.enrich.pipeline import EnrichmentFailure, Pipeline, entity_events, quote_events
from streams.kafka.client import FaustBrokerSettings, stopped_despite_fetcher
from streams.stories.cluster import StoryParams

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AppConfig:
    """Everything the app needs, decided by the CLI from ``Settings``."""

    app_id: str
    broker: FaustBrokerSettings
    topics: Topics
    partitions: int = 6
    replication_factor: int = 1
    datadir: Path = Path("data/faust")
    web_enabled: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    batch_max: int = 32
    batch_within_seconds: float = 0.05
    """How often ``take_events`` hands a partial batch to the agent: what an article arriving
    at an idle worker waits, on average half of it (a busy worker's batches fill meanwhile)."""
    batches_in_flight: int = 4
    """Enrich batches whose outputs may wait for the broker's acknowledgement at once."""
    events_in_flight: int = 256
    """The same for the one-event-at-a-time agents (stories, dashboard, trends)."""
    max_deadletter_payload_bytes: int = 256 * 1024
    max_event_bytes: int = 1_000_000
    """Larger output events are dead-lettered (Kafka's default message limit is ~1 MB)."""
    faust_overrides: Mapping[str, Any] = field(default_factory=dict)
    """Faust settings for a particular broker (see ``streams.kafka.compat``)."""
    stuck_seconds: float = 300.0
    """Watchdog: lag with no finished batch for this long ends the worker (0: off)."""
    trending_window_seconds: int = 3600
    """Size of the trending entities' tumbling window (see ``streams.app.trending``)."""
    recent_articles: int = 200
    """About how many enriched articles the dashboard's recent view keeps (bounded)."""
    stories_max_articles: int = 20_000
    """The most articles the stories stage holds (``StoryParams.max_articles``)."""


class _IdempotentProducer(faust_aiokafka.Producer):
    """Faust's aiokafka producer with idempotence on outside transactions too.

    Faust enables idempotence only for exactly-once transactions; at-least-once processing
    still needs it so that a retried send after a lost acknowledgement is not written twice.
    """

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, whose stop survives aiokafka's fetcher close with no broker
    (see :func:`streams.kafka.client.stopped_despite_fetcher`)."""

    async def on_thread_stop(self) -> None:
        await stopped_despite_fetcher(super().on_thread_stop())


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        """Seek every stream partition back to where processing must resume, losing nothing.

        Faust calls this when a rebalance's recovery ends, just before it clears the streams'
        queues and resumes the flow (and when a fetch finds the flow stopped). Faust 0.15 with
        aiokafka 0.14 loses records here in two ways; both were seen in the worker takeover
        fault test (``tests/faults/test_worker_takeover.py``), on Tansu, and neither depends
        on the broker:

        1. Faust resumes the stream partitions before this seek, so the fetcher delivers
           records into the queues while it runs, and the queues are cleared after it. Only
           a seek back makes those records come again, but aiokafka's ``seek_to_committed``
           leaves alone a partition whose committed offset is None or 0: a partition new to
           the group, or one whose previous owner was killed before its first commit. Its
           fetch then goes on after the cleared records, which are never processed. When the
           partition is the story input, those articles' raw offsets were already committed
           by the dead worker, and the articles never reach the enriched topic.
        2. Records the fetch loop fetched before the seek are still delivered after it and
           move Faust's read offset ahead; the records fetched again from the committed
           offset are then dropped as already read.

        So: stop the flow first (the fetch loop delivers nothing more and drops the rest of
        its batch; every caller resumes the flow after this returns), seek to the committed
        offsets, and seek each stream partition with no committed offset to its beginning,
        where this app's consumers start (``auto_offset_reset="earliest"``). What was already
        processed since then comes again: at-least-once, and outputs are idempotent. If the
        seek fails the flow stays stopped: the worker stalls and the watchdog restarts it,
        which loses nothing, where resuming without the seek could.
        """
        self.stop_flow()
        await super().perform_seek()
        uncommitted = [
            tp
            for tp in self.assignment()
            if not self._is_changelog_tp(tp) and not self._committed_offset.get(tp)
        ]
        if uncommitted:
            beginnings = await self.earliest_offsets(*uncommitted)
            for tp in uncommitted:
                await self.seek(tp, beginnings.get(tp) or 0)
            log.debug("rewound partitions with no committed offset: %s", sorted(uncommitted))


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    Producer = _IdempotentProducer


class NewsApp(faust.App):
    """A Faust app whose producers are idempotent (see ``_IdempotentProducer``) and that
    releases the enrichment resources (threads, model servers) when it stops."""

    releases: list[Callable[[], None]]

    async def on_stop(self) -> None:
        try:
            await super().on_stop()
        finally:
            for release in getattr(self, "releases", []):
                release()

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> Any:
        return _Transport(self.conf.broker_producer, self)


def create_app(config: AppConfig, pipeline: Pipeline) -> NewsApp:
    """Build the app with its topics and the enrich agent; nothing connects until it starts."""
    app = NewsApp(
        config.app_id,
        broker=config.broker.broker_url,
        broker_credentials=_credentials(config.broker),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=config.partitions,
        topic_replication_factor=config.replication_factor,
        topic_allow_declare=True,
        processing_guarantee="at_least_once",
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        datadir=str(config.datadir),
        web_enabled=config.web_enabled,
        web_bind=config.web_host,
        web_host=config.web_host,
        web_port=config.web_port,
        web_in_thread=False,
        # The tables (streams.app.web) recover from their changelogs on start; standby copies
        # on other workers would only double the changelog reading.
        table_standby_replicas=0,
        **dict(config.faust_overrides),
    )
    topics = config.topics
    raw = app.topic(topics.raw, partitions=config.partitions, config={"retention.ms": "-1"})

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="enrich")
    metrics = WorkerMetrics()
    send = metrics.counted_send(lambda t, k, v: _send(app, t, k, v), topics.deadletter)
    processor = BatchProcessor(
        pipeline=pipeline,
        run_blocking=metrics.timed_enrichment(
            lambda fn, arg: asyncio.get_running_loop().run_in_executor(executor, fn, arg)
        ),
        send=send,
        topics=topics,
        max_deadletter_payload_bytes=config.max_deadletter_payload_bytes,
        max_event_bytes=config.max_event_bytes,
        # The enriched events get their story first (streams.app.stories), then go out.
        enriched_via=story_input_topic(config.app_id),
    )
    # Output topics are created with the right partitions by the CLI (streams.kafka.admin)
    # before the worker starts.

    watchdog = Watchdog(config.stuck_seconds)
    install(watchdog)
    processed: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset to process

    def done(topic: str, partition: int, offset: int) -> None:
        # Called by the enrich and stories agents once a record's outputs were acknowledged.
        tp = (topic, partition)
        processed[tp] = max(processed.get(tp, 0), offset + 1)
        watchdog.progress()

    handoff = metrics.counted_handoff(lambda t, k, v: _handoff(app, t, k, v), topics.deadletter)

    def acknowledge(events: Sequence[Any]) -> None:
        # The events' outputs (and every earlier input's) were acknowledged by the broker.
        for event in events:
            event.ack()
            done(event.message.topic, event.message.partition, event.message.offset)

    @app.agent(raw, name="enrich")
    async def enrich(stream: Any) -> None:
        # Batches overlap: while the broker acknowledges a batch's outputs, the next one is
        # enriched. Each input is acknowledged only once its outputs were (see DeliveryWindow).
        window = DeliveryWindow(handoff, send, limit=config.batches_in_flight)
        try:
            async for events in stream.take_events(
                config.batch_max, within=config.batch_within_seconds
            ):
                records = [
                    RawRecord(
                        topic=e.message.topic,
                        partition=e.message.partition,
                        offset=e.message.offset,
                        key=e.message.key,
                        value=e.message.value,
                    )
                    for e in events
                ]
                outputs = await processor.outputs(records)
                hold(events)
                await window.submit(outputs, functools.partial(acknowledge, list(events)))
        finally:
            window.close()

    # Work waits on both stages: raw records for the enrich agent, enriched records for the
    # stories agent (a stalled stories agent would otherwise leave the watchdog content).
    watched_topics = {topics.raw, story_input_topic(config.app_id)}

    async def observe_lag() -> None:
        watchdog.start()  # idempotent; only once the app runs, so a mere build starts no thread
        watchdog.observe_lag(_unprocessed(app, watched_topics, processed))

    app.timer(interval=2.0)(observe_lag)

    install_dashboard(
        app,
        topics=topics,
        app_id=config.app_id,
        partitions=config.partitions,
        trending_window_seconds=config.trending_window_seconds,
        recent_articles=config.recent_articles,
        metrics=metrics,
        send=send,
        handoff=handoff,
        in_flight=config.events_in_flight,
    )
    # Stories: near-duplicates and same-event clustering, one owner (see streams.app.stories).
    install_stories(
        app,
        topics=topics,
        app_id=config.app_id,
        metrics=metrics,
        send=send,
        handoff=handoff,
        on_done=done,
        in_flight=config.events_in_flight,
        params=StoryParams(max_articles=config.stories_max_articles),
    )

    # Threads first (a running enrichment finishes), then the model servers.
    app.releases = [watchdog.stop, lambda: executor.shutdown(wait=True), pipeline.close]
    return app


def _unprocessed(
    app: NewsApp, topics: Collection[str], processed: Mapping[tuple[str, int], int]
) -> int:
    """Records of ``topics`` on this worker's assigned partitions that its agents have not done.

    Per partition: high watermark of the last fetch minus the larger of the agent's next offset
    and the committed offset. Partitions not fetched yet count 0 (nothing known to wait).
    """
    lag = 0
    consumer: Any = app.consumer
    for tp in assigned_partitions(app) or ():
        if tp.topic not in topics:
            continue
        try:
            highwater = consumer.highwater(tp)
        except Exception as exc:  # not fetched yet, or being revoked: no evidence of waiting work
            log.debug("no high watermark for %s: %s", tp, exc)
            continue
        if highwater is None:
            continue
        committed = consumer._committed_offset.get(tp) or 0
        position = max(processed.get((tp.topic, tp.partition), 0), committed)
        lag += max(0, int(highwater) - position)
    return lag


def _credentials(broker: FaustBrokerSettings) -> Any:
    """Faust's credentials object for SASL and/or SSL, or None for PLAINTEXT."""
    if broker.sasl_mechanism is not None:
        password = broker.sasl_password.get_secret_value() if broker.sasl_password else None
        return faust.SASLCredentials(
            username=broker.sasl_username,
            password=password,
            mechanism=broker.sasl_mechanism,
            ssl_context=broker.ssl_context,
        )
    if broker.ssl_context is not None:
        return faust.SSLCredentials(broker.ssl_context)
    return None


async def _handoff(app: NewsApp, topic: str, key: bytes, value: bytes) -> Awaitable[object]:
    # Queued in the producer; the returned future resolves on the broker's acknowledgement.
    acknowledgement: Awaitable[object] = await app.producer.send(
        topic, key, value, partition=None, timestamp=None, headers=None
    )
    return acknowledgement


async def _send(app: NewsApp, topic: str, key: bytes, value: bytes) -> None:
    await (await _handoff(app, topic, key, value))


@dataclass(frozen=True, slots=True)
class RawRecord:
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
        send: Callable[[str, bytes, bytes], Awaitable[None]],
        topics: Topics,
        max_deadletter_payload_bytes: int,
        max_event_bytes: int = 1_000_000,
        enriched_via: str | None = None,
        retry_initial_seconds: float = 0.5,
        retry_max_seconds: float = 30.0,
    ) -> None:
        """``enriched_via``: the topic to send the ``ArticleEnriched`` events to instead of
        ``topics.enriched`` (the worker's story input, whose agent adds ``story_id`` and
        publishes them on ``topics.enriched``, see :mod:`streams.app.stories`); None sends them
        to ``topics.enriched`` directly, as-is (no story)."""
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
        :mod:`streams.app.delivery`).
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
        value = record.value or b""
        log.warning(
            "dead-lettered %s[%d]@%d: %s (%s)",
            record.topic,
            record.partition,
            record.offset,
            reason,
            detail,
        )
        key_text = record.key.decode("utf-8", "replace") if record.key is not None else None
        event = DeadLetter(
            event_id=hashlib.sha256(
                f"{stage.value}\0{record.topic}\0{record.partition}\0{record.offset}".encode()
            ).hexdigest()[:32],
            stage=stage,
            reason=reason,
            detail=detail,
            origin=TopicOrigin(
                topic=record.topic, partition=record.partition, offset=record.offset, key=key_text
            ),
            payload_b64=base64.b64encode(value[: self._max_payload]).decode("ascii"),
            payload_truncated=len(value) > self._max_payload,
            occurred_at=utc_now(),
        )
        return (self._topics.deadletter, record.key or b"", encode(event))
