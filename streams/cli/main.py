"""``newsstream``: the command line, and the composition root of every process.

Settings are read once here (flags over ``NEWSSTREAM_*`` env vars, see ``streams.config``)
and passed down explicitly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import sys
from pathlib import Path
from typing import Any

import click

from schemas import ArticleIngested
from schemas.codec import dumps_schema, json_schemas
from streams.cli import runtime
from streams.cli.evaluate import eval_group
from streams.cli.options import (
    BROKER_WAIT,
    COMMON,
    ENRICH,
    EXTERNAL_BROKER_HELP,
    KAFKA,
    KAFKA_CLIENT,
    MODEL_CACHE_HELP,
    POSTGRES,
    SINK,
    WATCH,
    WORKER,
    directory_option,
    load_settings,
    settings_options,
)
from streams.cli.process import run_until_signal, setup_logging
from streams.config import Settings
from streams.enrich.pipeline import EnrichmentFailure
from streams.kafka import admin, reads
from streams.sources.prepare import FileOutcome

log = logging.getLogger("newsstream")


class _Commands(click.Group):
    """The command group; a broker that never answered ends any command with one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (admin.BrokerUnavailableError, admin.TopicCreationError) as exc:
            # Expected at start when the broker is down or misnamed: the message says where
            # and how long we waited, a traceback would add nothing. Exit status 1.
            raise click.ClickException(str(exc)) from None


@click.group(
    cls=_Commands,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="newsstream")
def cli() -> None:
    """newsstream: news articles from a folder, through Kafka and Faust enrichment, into sinks.

    Every option can also be set with its NEWSSTREAM_* environment variable.
    """


@cli.command()
@directory_option(
    "--inbox", "Directory to watch [env: NEWSSTREAM_INBOX; default: the shipped samples]."
)
@click.option("--once", is_flag=True, help="Process the files present now, print a summary, exit.")
@click.option(
    "--timeout",
    type=float,
    default=900.0,
    show_default=True,
    help="With --once: give up (exit 1) after this many seconds.",
)
@settings_options(*KAFKA, *BROKER_WAIT, "tansu_port", *WATCH, *WORKER, *SINK, *COMMON)
def up(inbox: Path | None, once: bool, timeout: float, **flags: Any) -> None:
    """Run everything: embedded broker, worker, watcher, and the JSONL and SQLite sinks.

    Shows one line per article as it reaches the sinks. Ctrl-C stops everything cleanly.
    """
    from streams.cli.up import run_up

    settings = load_settings(inbox=inbox, **flags)
    sys.exit(run_up(settings, once=once, timeout=timeout))


@cli.command()
@settings_options("tansu_port", "log_level")
def broker(**flags: Any) -> None:
    """Run the embedded Kafka-wire broker (Tansu, in-memory) in the foreground."""
    from streams.kafka.tansu import EmbeddedBroker

    settings = load_settings(**flags)
    setup_logging(settings)
    with EmbeddedBroker(port=settings.tansu_port) as embedded:
        click.echo(f"broker listening on {embedded.bootstrap} (in memory: data is lost on stop)")
        click.echo(f"use it with: NEWSSTREAM_BROKER={embedded.bootstrap} NEWSSTREAM_TANSU=true")
        stop = asyncio.Event()
        run_until_signal(stop.wait(), stop)
    click.echo("broker stopped")


@cli.command()
@settings_options(
    *KAFKA,
    *BROKER_WAIT,
    *WORKER,
    "max_deadletter_payload_bytes",
    *COMMON,
    helps={
        **EXTERNAL_BROKER_HELP,
        "data_dir": "Where the worker keeps its Faust tables (DATA_DIR/faust) and the models' "
        "cache (DATA_DIR/models).",
    },
)
def worker(**flags: Any) -> None:
    """Run one Faust worker: consumes the raw topic, enriches, produces the output topics."""
    settings = load_settings(**flags)
    if settings.embedded:
        raise click.UsageError(
            "the worker needs --broker HOST:PORT (start one with 'up' or 'broker')"
        )
    setup_logging(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    from streams.app.factory import create_app
    from streams.app.worker import run_worker
    from streams.kafka import compat

    conn = runtime.connection(settings)
    if conn.is_tansu:
        compat.apply_tansu_compat()
    asyncio.run(runtime.prepare_broker(conn, settings))
    app = create_app(runtime.worker_app_config(settings, conn), runtime.build_pipeline(settings))
    run_worker(app, settings.log_level)


@cli.command()
@click.argument("inbox", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--once", is_flag=True, help="Handle the files present now and exit.")
@settings_options(
    *KAFKA,
    *BROKER_WAIT,
    *WATCH,
    *COMMON,
    helps={
        **EXTERNAL_BROKER_HELP,
        "data_dir": "Where the watcher keeps its ledger of published files.",
    },
)
def watch(inbox: Path, once: bool, **flags: Any) -> None:
    """Watch INBOX and publish every complete article file to the raw topic, once."""
    settings = load_settings(inbox=inbox, **flags)
    if settings.embedded:
        raise click.UsageError("watch needs --broker HOST:PORT (start one with 'up' or 'broker')")
    setup_logging(settings)
    conn = runtime.connection(settings)

    def report(outcome: FileOutcome) -> None:
        reason = f" ({outcome.reason}: {outcome.detail})" if outcome.reason else ""
        click.echo(f"{outcome.outcome.value:10} {outcome.path} {outcome.article_id or ''}{reason}")

    async def main(stop: asyncio.Event) -> None:
        await runtime.prepare_broker(conn, settings)
        await runtime.run_watcher(settings, conn, inbox, None if once else stop, on_outcome=report)

    stop = asyncio.Event()
    run_until_signal(main(stop), stop)


@cli.command()
@click.argument("kind", type=click.Choice(runtime.SINK_KINDS))
@click.option(
    "--path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File of a jsonl/sqlite/deadletters sink [default: DATA_DIR/articles.jsonl, "
    "articles.sqlite3 or deadletters.jsonl].",
)
@click.option(
    "--topic",
    default=None,
    help="Topic to consume, full or short name, e.g. 'articles.enriched.v2' after 'replay "
    "--to-suffix v2' [default: articles.enriched; deadletter for deadletters].",
)
@settings_options(
    *KAFKA,
    *BROKER_WAIT,
    *SINK,
    *POSTGRES,
    "max_deadletter_payload_bytes",
    *COMMON,
    helps=EXTERNAL_BROKER_HELP,
)
def sink(kind: str, path: Path | None, topic: str | None, **flags: Any) -> None:
    """Consume the enriched topic into JSONL, SQLite or PostgreSQL (idempotent upserts), or the
    dead-letter topic into DATA_DIR/deadletters.jsonl (deadletters).

    Each sink is its own consumer group, named after its kind, where it writes (the file, or
    the PostgreSQL server, database and schema) and its topic: sinks writing to different
    places each get every event, and a sink restarted resumes where it stopped.
    """
    settings = load_settings(**flags)
    if settings.embedded:
        raise click.UsageError("sink needs --broker HOST:PORT (start one with 'up' or 'broker')")
    setup_logging(settings)
    conn = runtime.connection(settings)
    try:
        target = runtime.make_sink(settings, kind, path, topic)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    async def main(stop: asyncio.Event) -> None:
        await runtime.prepare_broker(conn, settings)
        await runtime.run_sink(settings, conn, target, stop)

    stop = asyncio.Event()
    try:
        run_until_signal(main(stop), stop)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.argument("query")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Print at most this many hits.",
)
@settings_options(*POSTGRES, "log_level")
def search(query: str, limit: int, **flags: Any) -> None:
    """Full-text search of the articles in the PostgreSQL sink; one JSON line per hit, best first.

    QUERY uses web-search syntax: words, "a phrase", -excluded, or.
    """
    import orjson

    from streams.sinks.base import SinkError
    from streams.sinks.postgres import PostgresSink

    settings = load_settings(**flags)
    if settings.postgres_dsn is None:
        raise click.UsageError("search needs --postgres-dsn (NEWSSTREAM_POSTGRES_DSN)")
    sink = PostgresSink(settings.postgres_dsn, schema=settings.postgres_schema)
    try:
        with sink:
            hits = sink.search(query, limit)
    except SinkError as exc:
        raise click.ClickException(str(exc)) from None
    for hit in hits:
        click.echo(orjson.dumps(dataclasses.asdict(hit)).decode())


@cli.command()
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest event, not at new ones.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after N events.")
@click.option(
    "--timeout", type=float, default=None, help="Stop after this many seconds without a new event."
)
@settings_options(*KAFKA_CLIENT, *BROKER_WAIT, "log_level", helps=EXTERNAL_BROKER_HELP)
def subscribe(
    topic: str, from_beginning: bool, limit: int | None, timeout: float | None, **flags: Any
) -> None:
    """Print the events of TOPIC as JSON lines (one per event), e.g. for jq.

    TOPIC is a full name, or a name without the topic prefix: 'articles.raw',
    'articles.enriched', 'entities', 'quotes', 'deadletter', 'entities.trending', 'stories',
    or e.g. 'articles.enriched.v2' after a replay. A topic that does not exist is an error:
    subscribe never creates one.
    """
    settings = load_settings(**flags)
    if settings.embedded:
        raise click.UsageError("subscribe needs --broker HOST:PORT")
    setup_logging(settings)
    conn = runtime.connection(settings)
    out = sys.stdout.buffer

    def emit(value: bytes) -> None:
        out.write(value.replace(b"\n", b" ") + b"\n")
        out.flush()

    async def main() -> None:
        await admin.wait_for_broker(conn, timeout=settings.broker_wait_seconds)
        name = _existing_topic(topic, settings, await reads.topic_names(conn))
        await reads.subscribe(conn, name, from_beginning, limit, timeout, emit)

    stop = asyncio.Event()
    try:
        run_until_signal(main(), stop)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    except BrokenPipeError:
        pass


def _existing_topic(given: str, settings: Settings, existing: set[str]) -> str:
    """The topic ``given`` names: a public short name, a name on the broker, or one there once
    the prefix is added (``articles.enriched.v2``); a ``LookupError`` if none exists, so that
    nothing ever creates it."""
    name = runtime.resolve_topic(given, settings.topics)
    candidates = [name] if name != given else [given, settings.topic_prefix + given]
    for candidate in candidates:
        if candidate in existing:
            return candidate
    tried = " nor ".join(repr(c) for c in dict.fromkeys(candidates))
    raise reads.TopicNotFoundError(
        f"no topic {tried} on the broker at {settings.broker} (subscribe never creates topics)"
    )


@cli.command()
@click.option(
    "--from-beginning",
    is_flag=True,
    required=True,
    help="Read the raw topic from its first event (required: the raw log is the source).",
)
@click.option(
    "--until",
    default=None,
    metavar="TIMESTAMP",
    help="Replay only raw events published at or before this ISO 8601 time (UTC if no offset).",
)
@click.option(
    "--to-suffix",
    default=None,
    metavar="SUFFIX",
    help="Write to the enriched, entities and quotes topics + '.SUFFIX', not the live ones.",
)
@settings_options(
    *KAFKA,
    *BROKER_WAIT,
    "app_id",
    *ENRICH,
    "max_deadletter_payload_bytes",
    *COMMON,
    helps={
        **EXTERNAL_BROKER_HELP,
        **MODEL_CACHE_HELP,
        "app_id": "App id of the workers: a live replay writes to their story input "
        "(APP_ID-story-input).",
    },
)
def replay(from_beginning: bool, until: str | None, to_suffix: str | None, **flags: Any) -> None:
    """Re-derive the enriched outputs from the raw event log (e.g. after an enricher upgrade).

    Runs the enrichment pipeline over the raw topic from its beginning to its end now, without
    a consumer group and without touching the inbox or the running workers; see the README.
    """
    from streams.cli.replay import describe, parse_until
    from streams.cli.replay import replay as run_replay

    settings = load_settings(**flags)
    if settings.embedded:
        raise click.UsageError("replay needs --broker HOST:PORT")
    if not from_beginning:
        raise click.UsageError("replay reads the raw log from its beginning: --from-beginning")
    try:
        until_at = parse_until(until) if until else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--until") from None
    if to_suffix is not None and not to_suffix.replace("-", "").replace("_", "").isalnum():
        raise click.BadParameter("letters, digits, '-' and '_' only", param_hint="--to-suffix")
    setup_logging(settings)
    conn = runtime.connection(settings)

    async def main() -> list[str]:
        # The broker first: without one, building the models would be time lost.
        await runtime.prepare_broker(conn, settings)
        pipeline = runtime.build_pipeline(settings)
        try:
            summary = await run_replay(settings, conn, pipeline, until=until_at, suffix=to_suffix)
        finally:
            pipeline.close()
        return list(describe(summary))

    try:
        for line in asyncio.run(main()):
            click.echo(line)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@settings_options(*ENRICH, *COMMON, helps=MODEL_CACHE_HELP)
def enrich(files: tuple[Path, ...], **flags: Any) -> None:
    """Enrich article FILES directly (no broker); print one ArticleEnriched JSON line each."""
    from schemas import encode
    from streams.sources.parse import Rejected, parse_article

    settings = load_settings(**flags)
    setup_logging(settings)
    articles: list[ArticleIngested] = []
    failed = 0
    for file in files:
        data = file.read_bytes()
        parsed = parse_article(file.name, data)
        if isinstance(parsed, Rejected):
            click.echo(f"{file}: {parsed.reason}: {parsed.detail}", err=True)
            failed += 1
            continue
        articles.append(parsed.to_event(file.name, hashlib.sha256(data).hexdigest()))
    if articles:
        pipeline = runtime.build_pipeline(settings)
        try:
            for result in pipeline.enrich_batch(articles):
                if isinstance(result, EnrichmentFailure):
                    click.echo(
                        f"{result.article.source_path}: {result.reason}: {result.detail}", err=True
                    )
                    failed += 1
                else:
                    sys.stdout.buffer.write(encode(result) + b"\n")
        finally:
            pipeline.close()
    sys.exit(1 if failed else 0)


@cli.command()
@directory_option(
    "--out", "Directory to write NAME.schema.json files to (default: print to stdout)."
)
def schemas(out: Path | None) -> None:
    """Write the JSON Schema of every event type."""
    generated = json_schemas()
    if out is None:
        click.echo(dumps_schema(generated), nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, schema in generated.items():
        (out / f"{name}.schema.json").write_text(dumps_schema(schema), encoding="utf-8")
        click.echo(out / f"{name}.schema.json")


cli.add_command(eval_group)


def main() -> None:
    cli(prog_name="newsstream")
