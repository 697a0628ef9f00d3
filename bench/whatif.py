"""Measured proposals for the worker's hot path: ``python -m bench.whatif [--messages N]``.

Not the app: each variant below is a candidate change to ``streams/processing/batch.py`` or
``streams/enrich/pipeline.py``, measured on a fresh embedded broker against the raw aiokafka
copy of the same ~2 KB ``ArticleIngested`` payloads (6 partitions), all in this process, one
after the other. Every variant keeps the worker's guarantees: outputs are acknowledged
(acks=all, idempotent producer) before the input offsets are committed.

A  getmany -> ``BatchProcessor`` as it is (up to 500 records per batch), identity pipeline.
B  A + sends enqueued in order and the delivery futures gathered (``BatchProcessor.process``
   awaits ``producer.send`` inline and gathers the futures it returns) instead of one
   coroutine (so one Task) per output.
C  B + ``Pipeline._to_event`` builds ``ArticleEnriched`` with ``model_construct`` (its parts
   are validated models already) instead of validating everything again.
D  C + the next batch is fetched and processed while the previous one's acknowledgements are
   outstanding (its offsets are committed once they arrive, in order).
E  C + outputs written with aiokafka's batch API (``create_batch``/``send_batch``, one batch
   per topic and partition) to the input record's partition: outputs are keyed by the same
   article id as the input, so with equal partition counts this is the partition the
   default partitioner picks, without its pure-Python murmur2 per message.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.corpus import load_corpus, plumbing_payloads
from bench.kafka import commit_after, create_topics, fill, raw_copy, started_on
from bench.report import Results, render_text
from bench.worker import IdentityEnricher
from schemas import ArticleEnriched, ArticleIngested, DecodeError, decode, encode
from streams.config import Topics
from streams.enrich.base import Document
from streams.enrich.pipeline import EnrichmentFailure, Pipeline, entity_events
from streams.kafka.client import KafkaConnection, new_consumer, new_producer
from streams.kafka.tansu import EmbeddedBroker
from streams.processing.batch import BatchProcessor, RawRecord

Enqueue = Callable[[str, bytes, bytes], Awaitable["asyncio.Future[Any]"]]


class FutureBatchProcessor(BatchProcessor):
    """``BatchProcessor.process`` with change B: enqueue each send, gather the futures.

    A copy of the original's logic; only the send handling differs (dead letters are left
    out: the benchmark input has none).
    """

    def __init__(self, pipeline: Pipeline, run_blocking: Any, enqueue: Enqueue, topics: Topics):
        super().__init__(pipeline, run_blocking, _unused_send, topics, 256 * 1024)
        self._enqueue = enqueue

    async def enqueue_batch(self, records: Sequence[RawRecord]) -> list[asyncio.Future[Any]]:
        articles: list[ArticleIngested] = []
        for record in records:
            try:
                articles.append(decode(record.value or b"", ArticleIngested))
            except DecodeError as exc:
                raise AssertionError("the benchmark input is valid") from exc
        futures: list[asyncio.Future[Any]] = []
        results = await self._run_blocking(self._pipeline.enrich_batch, articles)
        for result in results:
            if isinstance(result, EnrichmentFailure):
                raise AssertionError(result.reason)
            key = result.article_id.encode()
            futures.append(await self._enqueue(self._topics.enriched, key, encode(result)))
            for entity_event in entity_events(result):
                futures.append(
                    await self._enqueue(self._topics.entities, key, encode(entity_event))
                )
        return futures

    async def process(self, records: Sequence[RawRecord]) -> None:
        await asyncio.gather(*await self.enqueue_batch(records))

    async def send_batches(self, producer: Any, records: Sequence[RawRecord]) -> None:
        """Change E: decode, enrich, encode, then one producer batch per topic/partition."""
        articles = [decode(r.value or b"", ArticleIngested) for r in records]
        results = await self._run_blocking(self._pipeline.enrich_batch, articles)
        outputs: dict[tuple[str, int], list[tuple[bytes, bytes]]] = {}
        for record, result in zip(records, results, strict=True):
            if isinstance(result, EnrichmentFailure):
                raise AssertionError(result.reason)
            key = result.article_id.encode()
            target = outputs.setdefault((self._topics.enriched, record.partition), [])
            target.append((key, encode(result)))
            for entity_event in entity_events(result):
                entities = outputs.setdefault((self._topics.entities, record.partition), [])
                entities.append((key, encode(entity_event)))
        futures = []
        for (topic, partition), pairs in outputs.items():
            batch = producer.create_batch()
            for key, value in pairs:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None)
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)


async def _unused_send(topic: str, key: bytes, value: bytes) -> None:
    raise AssertionError("not used")


def constructed_event(self: Pipeline, article: ArticleIngested, doc: Document) -> ArticleEnriched:
    """Change C: ``Pipeline._to_event`` without validating the validated parts again.

    The fields are the pipeline's own (``Pipeline.event_fields``), so the variant builds the
    event the worker builds.
    """
    return ArticleEnriched.model_construct(**self.event_fields(article, doc))


async def variant(
    conn: KafkaConnection, source: str, out: Topics, expected: int, name: str, group: str
) -> float:
    """Run one variant over ``expected`` records of ``source``; the messages per second."""
    executor = ThreadPoolExecutor(1, thread_name_prefix="enrich")
    loop = asyncio.get_running_loop()
    pipeline = Pipeline([IdentityEnricher()])
    if name in ("C", "D", "E"):
        pipeline._to_event = constructed_event.__get__(pipeline)  # type: ignore[method-assign]
    consumer = new_consumer(conn, group_id=group, max_partition_fetch_bytes=1 << 20)
    producer = new_producer(conn, linger_ms=0, max_batch_size=1 << 20)

    def run_blocking(fn: Any, arg: Any) -> Any:
        return loop.run_in_executor(executor, fn, arg)

    async def send(topic: str, key: bytes, value: bytes) -> None:
        await (await producer.send(topic, value, key=key))

    async def enqueue(topic: str, key: bytes, value: bytes) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await producer.send(topic, value, key=key)
        return future

    plain = BatchProcessor(pipeline, run_blocking, send, out, 256 * 1024)
    futured = FutureBatchProcessor(pipeline, run_blocking, enqueue, out)
    try:
        async with started_on(consumer, producer, source):
            done = 0
            first = 0.0
            pending: asyncio.Task[None] | None = None
            while done < expected:
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                if not batches:
                    continue
                first = first or time.perf_counter()
                records = [
                    RawRecord(tp.topic, tp.partition, r.offset, r.key, r.value)
                    for tp, rs in batches.items()
                    for r in rs
                ]
                offsets = {tp: rs[-1].offset + 1 for tp, rs in batches.items() if rs}
                if name == "A":
                    await plain.process(records)
                    await consumer.commit(offsets)
                elif name in ("B", "C"):
                    await futured.process(records)
                    await consumer.commit(offsets)
                elif name == "E":
                    await futured.send_batches(producer, records)
                    await consumer.commit(offsets)
                else:
                    futures = await futured.enqueue_batch(records)
                    if pending is not None:
                        await pending  # commits stay in order
                    pending = asyncio.create_task(commit_after(consumer, futures, offsets))
                done += len(records)
            if pending is not None:
                await pending
            return expected / (time.perf_counter() - first)
    finally:
        executor.shutdown()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.whatif", description=__doc__)
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=2, help="each variant this many times")
    args = parser.parse_args(argv)
    n = args.messages
    results = Results()
    with EmbeddedBroker() as broker:
        conn = KafkaConnection(bootstrap_servers=broker.bootstrap, is_tansu=True)
        names = ["A", "B", "C", "D", "E"]
        outs = {f"{v}{r}": Topics(f"w{v}{r}.") for v in names for r in range(args.rounds)}
        topics = ["in", *(f"raw{r}" for r in range(args.rounds))]
        topics += [t for out in outs.values() for t in out.all()]
        asyncio.run(create_topics(conn, topics, 6))
        pairs = plumbing_payloads(load_corpus(notice=False), n)
        asyncio.run(fill(conn, "in", pairs, [i % 6 for i in range(n)]))
        rates: dict[str, list[float]] = {name: [] for name in ["raw", *names]}
        for r in range(args.rounds):  # interleaved rounds: slow drifts hit every variant
            seconds = asyncio.run(raw_copy(conn, "in", f"raw{r}", n, f"raw-{r}", 600))
            rates["raw"].append(n / seconds)
            for name in names:
                # Each run reads "in" with a group of its own and writes topics of its own.
                out = outs[f"{name}{r}"]
                rate = asyncio.run(variant(conn, "in", out, n, name, f"whatif-{name}-{r}"))
                rates[name].append(rate)
    raw = results.add("whatif", "raw aiokafka copy A->B", max(rates["raw"]), "msg/s")
    labels = {
        "A": "A getmany -> BatchProcessor",
        "B": "B + gather delivery futures",
        "C": "C + model_construct in _to_event",
        "D": "D + next batch during acks",
        "E": "E: C + batch API, input partition",
    }
    for name in names:
        results.add("whatif", labels[name], max(rates[name]), "msg/s", baseline=raw)
    print(render_text(results.figures))
    print(f"(best of {args.rounds} interleaved rounds, {n:,} messages each)")


if __name__ == "__main__":
    main()
