"""The file watcher: publishes every complete article file in the inbox exactly once.

How a file moves:
1. Seen (backfill scan at start, an inotify event, or the periodic rescan).
2. Pending until it is complete: at once when inotify reports that its writer closed it or
   that it was moved (renamed) into the inbox (``ready_on_close``, Linux,
   :mod:`streams.sources.inotify`); otherwise once its size and mtime stayed unchanged for
   ``stable_seconds`` (files found by a scan, other systems, where ``watchfiles`` reports
   changes). A file being written is never read half-way, provided its writer closes it only
   when done: one that appends in several open-write-close rounds must write under a temporary
   name (hidden, or ``.part``/``.tmp``) and rename the finished file into place.
3. Read (never through a symlink, never outside the inbox), parsed, and then published as an
   ``ArticleIngested`` event, skipped as a duplicate (same content already published), or
   published as a ``DeadLetter`` event with the reason and the original bytes. A file edited
   after its article was published is a new article whose ``supersedes`` names the article
   last published from the same path (the ledger remembers it).
4. Recorded in the ledger only after the broker acknowledged every event of the batch; while
   the broker does not acknowledge, the files stay pending and are retried with backoff. An
   intent is written to the ledger before the send, so a watcher killed between the
   acknowledgement and the record finds out at its next start that the events are already on
   the broker and does not publish them twice (see ``reconcile_with_broker``).

This module is the loop that moves files along; the pending files and their readiness (steps 1
and 2) are :mod:`streams.sources.pending`, reading and classifying a file (step 3)
:mod:`streams.sources.prepare`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from watchfiles import awatch

from schemas import ArticleIngested, DeadLetter
from streams.sources import inotify
from streams.sources.ledger import Intent, Ledger, Outcome
from streams.sources.pending import PendingFiles
from streams.sources.prepare import FileOutcome, FilePreparer

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """Where the watcher's events go (Kafka in production; see ``KafkaPublisher``)."""

    async def publish(
        self, articles: Sequence[ArticleIngested], deadletters: Sequence[DeadLetter]
    ) -> None:
        """Return only once the broker acknowledged every event (acks=all); raise otherwise."""

    async def raw_log_is_empty(self) -> bool:
        """True when the raw-article topic holds no record (e.g. a fresh in-memory broker)."""

    async def held_keys(self, article_keys: set[str], deadletter_keys: set[str]) -> set[str]:
        """Which of these keys the raw-article (resp. dead-letter) topic already holds.

        Called at start only when the ledger has intents (a crash between publish and record);
        may read the whole topics, so it is not called otherwise.
        """


@dataclass(frozen=True, slots=True)
class WatcherConfig:
    inbox: Path
    stable_seconds: float = 1.0
    rescan_seconds: float = 30.0
    max_file_bytes: int = 256 * 1024
    max_deadletter_payload_bytes: int = 256 * 1024
    batch_size: int = 200
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 30.0
    ready_on_close: bool = True
    """Read a file as soon as inotify reports it closed after writing or moved in (Linux);
    False: every file waits ``stable_seconds`` (for writers that close and reopen a file)."""


@dataclass(slots=True)
class BackfillProgress:
    total: int = 0
    done: int = 0
    outcomes: list[FileOutcome] = field(default_factory=list)


class FileWatcher:
    """Watches one inbox directory. One instance runs one ``run`` or ``backfill`` at a time."""

    def __init__(
        self,
        config: WatcherConfig,
        ledger: Ledger,
        publisher: Publisher,
        on_outcome: Callable[[FileOutcome], None] | None = None,
        on_backfill_start: Callable[[int], None] | None = None,
    ) -> None:
        self._config = config
        self._inbox = config.inbox.resolve()
        self._ledger = ledger
        self._publisher = publisher
        self._on_outcome = on_outcome
        self._on_backfill_start = on_backfill_start
        self._pending = PendingFiles(self._inbox, ledger)
        self._preparer = FilePreparer(
            self._inbox,
            ledger,
            self._pending,
            config.max_file_bytes,
            config.max_deadletter_payload_bytes,
        )
        self._publish_failures = 0

    async def reconcile_with_broker(self) -> None:
        """Called once at start: make the ledger agree with what the broker holds.

        * An in-memory broker (the embedded default) starts empty; the ledger describes what an
          earlier broker held, so every file must be published again to the new one.
        * Intents left in the ledger mean the last watcher stopped between publishing a batch
          and recording it. Files whose event the broker holds are recorded now, without
          publishing them again; the others are handled again from scratch.
        """
        if self._ledger.count(Outcome.PUBLISHED) and await self._publisher.raw_log_is_empty():
            forgotten = self._ledger.forget_all()
            log.warning(
                "the raw-article topic is empty but the ledger lists %d handled files: "
                "the broker lost its log (in-memory broker restarted?); publishing again",
                forgotten,
            )
        intents = self._ledger.intents()
        if not intents:
            return
        held = await self._publisher.held_keys(
            {i.key for i in intents if i.record.outcome is Outcome.PUBLISHED},
            {i.key for i in intents if i.record.outcome is Outcome.DEADLETTER},
        )
        done = [i.record for i in intents if i.key in held]
        self._ledger.record(done)
        dropped = self._ledger.drop_intents()
        log.warning(
            "the last watcher stopped between publishing and recording %d files: %d are on the "
            "broker already (recorded now, not published again), %d are handled again",
            len(intents),
            len(done),
            dropped,
        )

    async def backfill(self) -> BackfillProgress:
        """Handle every file present now (waiting for each to be stable); return what happened."""
        await self.reconcile_with_broker()
        self._pending.scan()
        progress = BackfillProgress(total=len(self._pending))
        if self._on_backfill_start:
            self._on_backfill_start(progress.total)
        while self._pending:
            outcomes = await self._handle_ready()
            progress.done += len(outcomes)
            progress.outcomes.extend(outcomes)
            if self._pending and not outcomes:
                await asyncio.sleep(self._tick_seconds())
                self._pending.scan(only=set(self._pending))
        return progress

    async def run(self, stop: asyncio.Event) -> None:
        """Backfill, then follow the inbox until ``stop`` is set."""
        # Paths inotify reported since the last look -> whether the latest report was "finished".
        changed: dict[str, bool] = {}
        wake = asyncio.Event()
        overflowed = False

        def on_change(rel: str, change: inotify.Change) -> None:
            nonlocal overflowed
            if change is inotify.Change.OVERFLOW:
                overflowed = True
            else:
                changed[rel] = change is inotify.Change.FINISHED
            wake.set()

        # Watching starts before the backfill's scan, so no file falls between the two.
        tree = self._start_tree_watch(on_change)
        try:
            await self.backfill()
            # Without inotify, watchfiles reports the changes (every file then waits the window).
            watch_task = (
                asyncio.create_task(self._follow_watchfiles(stop, on_change))
                if tree is None
                else None
            )
            last_rescan = time.monotonic()
            try:
                while not stop.is_set():
                    if watch_task is not None and watch_task.done():
                        watch_task.result()  # surface a crashed file watcher instead of hiding it
                    if overflowed or time.monotonic() - last_rescan >= self._config.rescan_seconds:
                        overflowed = False
                        changed.clear()
                        self._pending.scan()
                        last_rescan = time.monotonic()
                    elif changed or self._pending:
                        finished = {rel for rel, done in changed.items() if done}
                        paths = set(changed) | set(self._pending)
                        changed.clear()
                        self._pending.scan(only=paths, finished=finished)
                    await self._handle_ready()
                    await self._idle(stop, wake)
            finally:
                if watch_task is not None:
                    watch_task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watch_task
        finally:
            if tree is not None:
                tree.close()

    def _start_tree_watch(
        self, on_change: Callable[[str, inotify.Change], None]
    ) -> inotify.TreeWatch | None:
        """The inotify watch that knows when files are finished, or None (``watchfiles``)."""
        if not (self._config.ready_on_close and inotify.available()):
            return None
        tree = inotify.TreeWatch(self._inbox, on_change)
        try:
            tree.start()
        except OSError as exc:
            log.warning(
                "inotify refused (%s); every file waits %.1f s to be stable",
                exc,
                self._config.stable_seconds,
            )
            return None
        return tree

    async def _idle(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        """Wait one tick, or less when a change is reported or ``stop`` is set."""
        waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())}
        try:
            await asyncio.wait(
                waiters, timeout=self._tick_seconds(), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        wake.clear()

    def _tick_seconds(self) -> float:
        return min(0.25, max(0.02, self._config.stable_seconds / 4))

    async def _follow_watchfiles(
        self, stop: asyncio.Event, on_change: Callable[[str, inotify.Change], None]
    ) -> None:
        # Portable, but it cannot tell a finished file from one being written: every reported
        # file waits stable_seconds.
        async for changes in awatch(self._inbox, stop_event=stop, recursive=True, step=50):
            for _change, raw_path in changes:
                rel = self._relative(Path(raw_path))
                if rel is not None:
                    on_change(rel, inotify.Change.CHANGED)

    def _relative(self, path: Path) -> str | None:
        try:
            return path.relative_to(self._inbox).as_posix()
        except ValueError:
            return None

    # --- handling ------------------------------------------------------------------------------

    async def _handle_ready(self) -> list[FileOutcome]:
        ready = self._pending.ready(self._config.stable_seconds, self._config.batch_size)
        if not ready:
            return []
        prepared = await asyncio.to_thread(self._preparer.prepare_batch, ready)
        articles = [p.article for p in prepared if p.article is not None]
        deadletters = [p.deadletter for p in prepared if p.deadletter is not None]
        if articles or deadletters:
            self._ledger.record_intents(
                Intent(p.record, key) for p in prepared if (key := p.kafka_key()) is not None
            )
            try:
                await self._publisher.publish(articles, deadletters)
            except Exception as exc:
                # Broker down or unreachable: nothing is recorded, the files stay pending and
                # are read and sent again once it answers (bounded backoff, never a give-up).
                self._publish_failures += 1
                delay = min(
                    self._config.retry_max_seconds,
                    self._config.retry_initial_seconds * 2 ** (self._publish_failures - 1),
                )
                log.error(
                    "publishing %d events failed (%s: %s); %d files stay pending, retry in %.1f s",
                    len(articles) + len(deadletters),
                    type(exc).__name__,
                    exc,
                    len(self._pending),
                    delay,
                )
                await asyncio.sleep(delay)
                return []
            if self._publish_failures:
                log.warning("publishing works again after %d failed tries", self._publish_failures)
                self._publish_failures = 0
        self._ledger.record(p.record for p in prepared)
        outcomes = []
        for item in prepared:
            self._pending.forget(item.record.path)
            outcomes.append(item.outcome)
            if self._on_outcome:
                self._on_outcome(item.outcome)
        # Files that changed while being read stay pending (not in ``prepared``) and come back.
        return outcomes
