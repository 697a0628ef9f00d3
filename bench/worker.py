"""Faust workers for the plumbing and memory benchmarks: ``python -m bench.worker KIND``.

``identity``: exactly what ``newsstream worker`` runs (``create_app``, ``BatchProcessor``,
the idempotent producer, the Tansu compatibility and Faust settings), except that the pipeline
is one trivial ``Enricher`` that returns the document unchanged: the Faust path of newsstream
with the NLP taken out. Settings come from ``NEWSSTREAM_*`` like the CLI's.

``naive``: the Faust agent from the issue, ``async for value in stream: await topic.send(...)``
from ``--source`` to ``--sink``, one message at a time, with Faust's defaults.

``nlp``: ``newsstream worker`` itself, but honouring ``BENCH_BATCH_MAX`` and
``BENCH_BATCH_WITHIN`` (the agent's ``take_events`` size and wait), for what-if runs
(``python -m bench --worker-batch-max N``).

``BENCH_FAUST_SETTINGS`` (identity and nlp): a JSON object of Faust settings applied over the
app's, e.g. ``{"producer_max_batch_size": 1048576}`` (``--worker-env`` passes it).

``--gate FILE``: the worker joins its group and fetches, but processes nothing until FILE
exists, so several workers can start (slowly, in parallel) and then be measured one at a
time. The identity worker waits in the first ``enrich_batch`` call, the naive one before its
first message.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streams.enrich.base import Document, Enricher


class IdentityEnricher(Enricher):
    """Returns every document unchanged (optionally after waiting for a gate file once)."""

    name = "identity"
    version = "1"

    def __init__(self, gate: Path | None = None) -> None:
        self._gate = gate

    def _wait_for_gate(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            _wait_for_file(gate)

    def enrich(self, doc: Document) -> Document:
        self._wait_for_gate()
        return doc

    def enrich_batch(self, docs: Sequence[Document]) -> list[Document]:
        self._wait_for_gate()
        return list(docs)


def _wait_for_file(path: Path) -> None:
    while not path.exists():
        time.sleep(0.02)


def _logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def _experiment() -> dict[str, Any]:
    """AppConfig overrides for experiments (``BENCH_BATCH_MAX``, ``BENCH_BATCH_WITHIN``)."""
    out: dict[str, Any] = {}
    if os.environ.get("BENCH_BATCH_MAX"):
        out["batch_max"] = int(os.environ["BENCH_BATCH_MAX"])
    if os.environ.get("BENCH_BATCH_WITHIN"):
        out["batch_within_seconds"] = float(os.environ["BENCH_BATCH_WITHIN"])
    return out


def _faust_experiment() -> dict[str, Any]:
    """Faust settings for experiments: ``BENCH_FAUST_SETTINGS``, a JSON object such as
    ``{"producer_max_batch_size": 1048576}``, applied over the app's own."""
    text = os.environ.get("BENCH_FAUST_SETTINGS")
    if not text:
        return {}
    value = json.loads(text)
    if not isinstance(value, dict):
        raise SystemExit("BENCH_FAUST_SETTINGS must be a JSON object")
    return value


def run_identity(gate: Path | None, nlp: bool = False) -> None:
    """The CLI's ``worker`` command (see streams/cli/main.py) with an identity pipeline, or
    with the real one (``nlp``) and the ``BENCH_BATCH_*`` overrides, for experiments."""
    from streams.app.factory import create_app
    from streams.app.worker import run_worker
    from streams.cli import runtime
    from streams.config import Settings
    from streams.enrich.pipeline import Pipeline
    from streams.kafka import compat

    settings = Settings()
    _logging(settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    conn = runtime.connection(settings)
    if conn.is_tansu:
        compat.apply_tansu_compat()
    asyncio.run(runtime.prepare_broker(conn, settings))
    pipeline = runtime.build_pipeline(settings) if nlp else Pipeline([IdentityEnricher(gate)])
    config = runtime.worker_app_config(settings, conn)
    app = create_app(
        dataclasses.replace(
            config,
            faust_overrides={**config.faust_overrides, **_faust_experiment()},
            **_experiment(),
        ),
        pipeline,
    )
    run_worker(app, settings.log_level)


def run_naive(source: str, sink: str, gate: Path | None) -> None:
    """A plain Faust app copying ``source`` to ``sink`` one awaited send at a time."""
    import faust  # noqa: TID251 - the naive baseline is plain Faust, outside streams.app

    from streams.app.worker import run_worker
    from streams.config import Settings
    from streams.kafka import compat

    settings = Settings()
    _logging(settings.log_level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.broker_is_tansu:
        compat.apply_tansu_compat()
    app: Any = faust.App(
        settings.app_id,
        broker=";".join(f"kafka://{s.strip()}" for s in settings.broker.split(",")),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        consumer_auto_offset_reset="earliest",
        datadir=str(settings.data_dir / "faust"),
        web_port=settings.web_port,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        **dict(compat.FAUST_SETTINGS if settings.broker_is_tansu else {}),
    )
    source_topic = app.topic(source)
    sink_topic = app.topic(sink)

    @app.agent(source_topic, name="copy")  # type: ignore[untyped-decorator, unused-ignore]
    async def copy(stream: Any) -> None:
        if gate is not None:
            await asyncio.to_thread(_wait_for_file, gate)
        async for value in stream:
            await sink_topic.send(value=value)

    run_worker(app, settings.log_level)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__)
    parser.add_argument("kind", choices=("identity", "naive", "nlp"))
    parser.add_argument("--gate", type=Path, default=None)
    parser.add_argument("--source", help="naive: the topic to read")
    parser.add_argument("--sink", help="naive: the topic to write")
    args = parser.parse_args(argv)
    if args.kind in ("identity", "nlp"):
        run_identity(args.gate, nlp=args.kind == "nlp")
    else:
        if not args.source or not args.sink:
            parser.error("naive needs --source and --sink")
        run_naive(args.source, args.sink, args.gate)


if __name__ == "__main__":
    main()
