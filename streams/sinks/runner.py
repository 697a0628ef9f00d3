"""The consumer loop that feeds a sink from one topic, through a ``RecordFeed``
(``streams.kafka.feed.GroupFeed`` in production): ``ArticleEnriched`` events into an article
``Sink``, or ``DeadLetter`` events into the dead-letter sink.

Delivery: at-least-once into an idempotent sink, so effectively once. A batch's offsets are
committed only after ``write`` returned (the batch is durable); a crash before the commit
redelivers the batch and the sink reports it unchanged. Records that do not decode as the
expected event (stage ``decode``) and events the sink keeps refusing while it stores others
(stage ``sink``) are handed to ``send_deadletters`` before the commit, so they are neither lost
nor retried forever.

While it works the runner logs at INFO what it stored, per interval rather than per batch
(``SinkRunnerConfig.report_seconds``): "jsonl sink: wrote 12 articles (9 new), lag 0".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from schemas import ArticleEnriched, DeadLetter, DeadLetterStage, DecodeError, decode
from schemas.deadletters import Record, record_deadletter
from streams.sinks.base import WriteResult

log = logging.getLogger(__name__)

E = TypeVar("E", ArticleEnriched, DeadLetter)
E_contra = TypeVar("E_contra", contravariant=True)

SendDeadLetters = Callable[[Sequence[DeadLetter]], Awaitable[None]]

_NOUNS: dict[type[object], tuple[str, str]] = {
    ArticleEnriched: ("article", "articles"),
    DeadLetter: ("dead letter", "dead letters"),
}


class EventSink(Protocol[E_contra]):
    """What the runner needs of a sink: ``streams.sinks.base.Sink`` for articles,
    ``streams.sinks.deadletters.DeadLetterSink`` for dead letters. Opened by the caller."""

    @property
    def name(self) -> str:
        """The kind of sink, for logs and dead letters."""
        ...

    def write(self, batch: Sequence[E_contra]) -> WriteResult:
        """Called with each batch, in topic order; durable and idempotent (see ``Sink``)."""
        ...

    def count(self) -> int:
        """Called to tell a sink that is down from one refusing an event: raises while down."""
        ...


class RecordFeed(Protocol):
    """The runner's records: one topic read in the sink's own consumer group, started by the
    caller, its offsets committed only through :meth:`commit` (in production
    ``streams.kafka.feed.GroupFeed``)."""

    async def next_batch(self, max_records: int, timeout_seconds: float) -> Sequence[Record]:
        """Called by the runner for each batch: up to ``max_records`` records in (topic,
        partition, offset) order, waiting at most ``timeout_seconds``; empty if none came."""
        ...

    async def commit(self, records: Sequence[Record]) -> None:
        """Called once ``records`` (one batch of :meth:`next_batch`) are durable; on return
        the group resumes after the last of them in each partition, even after a crash."""
        ...

    async def lag(self) -> int | None:
        """Called after a commit, for the progress log and to know when a finishing runner is
        done: records of the assigned partitions after the group's position (None while no
        partition is assigned)."""
        ...


@dataclass(frozen=True, slots=True)
class SinkRunnerConfig:
    batch_size: int = 500
    batch_seconds: float = 0.5
    max_deadletter_payload_bytes: int = 512 * 1024
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    isolate_after_attempts: int = 3
    report_seconds: float = 10.0
    """At most one progress line per this many seconds (the first batch is reported at once)."""


@dataclass(slots=True)
class _Progress:
    """What was stored since the last progress line."""

    result: WriteResult = field(default_factory=WriteResult)
    deadlettered: int = 0
    reported_at: float = float("-inf")

    @property
    def pending(self) -> bool:
        return self.result.total > 0 or self.deadlettered > 0


class SinkRunner(Generic[E]):
    """Consumes one topic into one sink, reading and committing through ``feed``; the records
    are decoded as ``event_type`` (``ArticleEnriched`` or ``DeadLetter``)."""

    def __init__(
        self,
        event_type: type[E],
        sink: EventSink[E],
        feed: RecordFeed,
        send_deadletters: SendDeadLetters,
        config: SinkRunnerConfig,
        on_written: Callable[[Sequence[E], WriteResult], None] | None = None,
    ) -> None:
        self._event_type: type[E] = event_type
        self._sink: EventSink[E] = sink
        self._feed = feed
        self._send_deadletters = send_deadletters
        self._config = config
        self._on_written: Callable[[Sequence[E], WriteResult], None] | None = on_written
        self._progress = _Progress()

    async def run(self, stop: asyncio.Event, finish: asyncio.Event | None = None) -> None:
        """Consume until ``stop`` is set; the sink must already be open.

        Once ``finish`` is set, the runner also returns as soon as it has stored and committed
        everything up to the end of its partitions (lag 0), e.g. for ``up --once``.
        """
        finished = False
        try:
            while not stop.is_set():
                records = await self._feed.next_batch(
                    self._config.batch_size, self._config.batch_seconds
                )
                if records:
                    await self.handle(records)
                    await self._feed.commit(records)
                if self._progress.pending and self._report_due():
                    await self._report()
                if (
                    not records
                    and finish is not None
                    and finish.is_set()
                    and await self._feed.lag() == 0
                ):
                    finished = True
                    break
        finally:
            # Stopping: no asking the broker for the lag now (it may be what is gone).
            if self._progress.pending:
                self._log_progress("lag 0" if finished else "stopping")

    def _report_due(self) -> bool:
        return time.monotonic() - self._progress.reported_at >= self._config.report_seconds

    async def _report(self) -> None:
        lag = await self._feed.lag()
        self._log_progress(f"lag {'unknown' if lag is None else lag}")

    def _log_progress(self, state: str) -> None:
        """One INFO line for what was stored since the last one (never per record), ending in
        ``state`` (the lag, or that the runner is stopping)."""
        progress = self._progress
        one, many = _NOUNS[self._event_type]
        result = progress.result
        counts = [f"{result.inserted} new"]
        if result.updated:
            counts.append(f"{result.updated} updated")
        line = f"{self._sink.name} sink: wrote {result.total} {one if result.total == 1 else many}"
        line += f" ({', '.join(counts)})"
        if progress.deadlettered:
            line += f", {progress.deadlettered} dead-lettered"
        log.info("%s, %s", line, state)
        self._progress = _Progress(reported_at=time.monotonic())

    async def handle(self, records: Sequence[Record]) -> None:
        """Write the valid events of ``records`` and dead-letter the rest; durable on return."""
        pairs: list[tuple[Record, E]] = []
        deadletters: list[DeadLetter] = []
        for record in records:
            try:
                pairs.append((record, decode(record.value or b"", self._event_type)))
            except DecodeError as exc:
                deadletters.append(
                    self._deadletter(record, DeadLetterStage.DECODE, exc.reason, exc.detail)
                )
        if pairs:
            result, written, rejected = await self._write(pairs)
            self._progress.result += result
            deadletters += [
                self._deadletter(record, DeadLetterStage.SINK, "sink-rejected", detail)
                for record, detail in rejected
            ]
            if self._on_written and written:
                self._on_written(written, result)
        if deadletters:
            await self._send_deadletters(deadletters)
            self._progress.deadlettered += len(deadletters)

    async def _write(
        self, pairs: Sequence[tuple[Record, E]]
    ) -> tuple[WriteResult, list[E], list[tuple[Record, str]]]:
        """Write a batch, retrying with bounded exponential backoff; the offsets wait meanwhile.

        A sink that is down (disk full, database restarting) must not lose events, so for it
        there is no give-up: the loop reports loudly and keeps the batch until the sink takes
        it. After a few failed tries the events are written one by one: if the sink is up
        (it stores others, or answers ``count``), the events it still refuses are returned as
        rejected, to be dead-lettered, so one bad event cannot stop the stream.
        """
        events = [event for _, event in pairs]
        delay = self._config.retry_initial_seconds
        attempts = 0
        while True:
            try:
                return await asyncio.to_thread(self._sink.write, events), events, []
            except Exception:
                attempts += 1
                log.exception(
                    "%s sink write of %d events failed (try %d)",
                    self._sink.name,
                    len(events),
                    attempts,
                )
            if attempts >= self._config.isolate_after_attempts:
                isolated = await self._write_one_by_one(pairs)
                if isolated is not None:
                    return isolated
            log.warning("%s sink: retrying in %.1f s", self._sink.name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._config.retry_max_seconds)

    async def _write_one_by_one(
        self, pairs: Sequence[tuple[Record, E]]
    ) -> tuple[WriteResult, list[E], list[tuple[Record, str]]] | None:
        """None when the sink itself is down, so the whole batch is to be retried.

        An event counts as refused only when the sink refused it twice and answered ``count``
        before and after each refusal: a sink that went down or came back in between says
        nothing about the event, and dead-lettering it then would lose it for a blip. Events
        written before the sink went down are written again on the retry; upserts absorb that.
        """
        if not await self._sink_answers():
            return None
        result = WriteResult()
        written: list[E] = []
        rejected: list[tuple[Record, str]] = []
        for record, event in pairs:
            refusal = ""
            for _ in range(2):  # a second try, in case the sink came back during the first
                try:
                    result += await asyncio.to_thread(self._sink.write, [event])
                except Exception as exc:
                    if not await self._sink_answers():
                        return None
                    refusal = f"{self._sink.name} sink: {type(exc).__name__}: {exc}"
                else:
                    written.append(event)
                    break
            else:
                rejected.append((record, refusal))
        return result, written, rejected

    async def _sink_answers(self) -> bool:
        try:
            await asyncio.to_thread(self._sink.count)
        except Exception:
            return False
        return True

    def _deadletter(
        self,
        record: Record,
        stage: DeadLetterStage,
        reason: str,
        detail: str,
    ) -> DeadLetter:
        log.warning(
            "dead-lettered %s[%d]@%d for the %s sink: %s (%s)",
            record.topic,
            record.partition,
            record.offset,
            self._sink.name,
            reason,
            detail,
        )
        return record_deadletter(
            record,
            stage,
            reason,
            f"{self._sink.name} sink: {detail}" if stage is DeadLetterStage.DECODE else detail,
            max_payload_bytes=self._config.max_deadletter_payload_bytes,
            consumer=self._sink.name,
        )
