"""The watcher's decisions, with an in-memory publisher standing where Kafka stands.

The Kafka path itself is covered by tests/integration; here we check what gets published,
dead-lettered, skipped and recorded, file by file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from schemas import ArticleIngested, DeadLetter, DeadLetterStage, FileOrigin
from streams.sources.ledger import Ledger, Outcome
from streams.sources.watcher import FileWatcher, WatcherConfig

SAMPLES = Path(__file__).parents[3] / "streams" / "samples" / "articles"


class RecordingPublisher:
    """Keeps what a broker would hold; can be told to fail, like a broker that is down."""

    def __init__(self) -> None:
        self.articles: list[ArticleIngested] = []
        self.deadletters: list[DeadLetter] = []
        self.fail = False

    async def publish(
        self, articles: Sequence[ArticleIngested], deadletters: Sequence[DeadLetter]
    ) -> None:
        if self.fail:
            raise ConnectionError("broker unavailable")
        self.articles.extend(articles)
        self.deadletters.extend(deadletters)

    async def raw_log_is_empty(self) -> bool:
        return not self.articles

    async def held_keys(self, article_keys: set[str], deadletter_keys: set[str]) -> set[str]:
        return (article_keys & {a.article_id for a in self.articles}) | (
            deadletter_keys & {d.event_id for d in self.deadletters}
        )


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    path = tmp_path / "inbox"
    path.mkdir()
    return path


def _watcher(
    inbox: Path, data: Path, publisher: RecordingPublisher, **config: float
) -> tuple[FileWatcher, Ledger]:
    ledger = Ledger(data / "ledger.sqlite3", inbox)
    cfg = WatcherConfig(inbox=inbox, stable_seconds=config.pop("stable_seconds", 0.05))
    return FileWatcher(cfg, ledger, publisher), ledger


async def test_backfill_publishes_each_seed_once_and_a_restart_publishes_nothing(
    inbox: Path, tmp_path: Path
) -> None:
    for seed in SAMPLES.iterdir():
        shutil.copy(seed, inbox / seed.name)
    publisher = RecordingPublisher()
    watcher, ledger = _watcher(inbox, tmp_path, publisher)
    progress = await watcher.backfill()
    ledger.close()
    assert progress.total == 2
    assert progress.done == 2
    assert sorted(a.source_id for a in publisher.articles) == [
        "000_7b201681f24eebfa",
        "002_5e518ff5de4b58f3",
    ]
    dated = next(a for a in publisher.articles if a.source_id.startswith("002"))
    assert dated.published is not None
    assert dated.published.year == 2019
    assert not dated.body.startswith(" date")

    again, ledger = _watcher(inbox, tmp_path, publisher)
    progress = await again.backfill()
    ledger.close()
    assert progress.total == 0
    assert len(publisher.articles) == 2


async def test_same_content_under_another_name_is_a_duplicate(inbox: Path, tmp_path: Path) -> None:
    seed = next(SAMPLES.iterdir())
    shutil.copy(seed, inbox / "first.txt")
    publisher = RecordingPublisher()
    watcher, ledger = _watcher(inbox, tmp_path, publisher)
    await watcher.backfill()
    (inbox / "copy.txt").write_bytes(seed.read_bytes().replace(b"\n\n", b"\n\n\n"))
    progress = await watcher.backfill()
    ledger.close()
    assert [o.outcome for o in progress.outcomes] == [Outcome.DUPLICATE]
    assert len(publisher.articles) == 1


async def test_bad_files_are_dead_lettered_with_origin_and_bytes_and_not_retried(
    inbox: Path, tmp_path: Path
) -> None:
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "binary.txt").write_bytes(b"\x00\x01\x02PNG")
    (inbox / "latin1.txt").write_bytes(b"caf\xe9")
    (inbox / "bad.json").write_bytes(b"{nope")
    (inbox / "big.txt").write_bytes(b"a" * 2000)
    (inbox / "link.txt").symlink_to("/etc/passwd")
    (inbox / "good.txt").write_text("Kim en Trump spraken in Hanoi.", encoding="utf-8")
    publisher = RecordingPublisher()
    ledger = Ledger(tmp_path / "ledger.sqlite3", inbox)
    watcher = FileWatcher(
        WatcherConfig(inbox=inbox, stable_seconds=0.05, max_file_bytes=1000),
        ledger,
        publisher,
    )
    await watcher.backfill()
    reasons = {d.origin.path: d.reason for d in publisher.deadletters}  # type: ignore[union-attr]
    assert reasons == {
        "empty.txt": "empty-file",
        "binary.txt": "binary",
        "latin1.txt": "undecodable-text",
        "bad.json": "invalid-json",
        "big.txt": "too-large",
        "link.txt": "symlink",
    }
    assert [a.source_path for a in publisher.articles] == ["good.txt"]
    latin1 = next(d for d in publisher.deadletters if d.reason == "undecodable-text")
    assert latin1.stage is DeadLetterStage.WATCH
    assert isinstance(latin1.origin, FileOrigin)
    assert latin1.origin.size == 4
    assert latin1.payload_b64 == "Y2Fm6Q=="  # the original bytes, nothing lost
    big = next(d for d in publisher.deadletters if d.reason == "too-large")
    assert big.payload_truncated is False  # 2000 bytes fit the payload limit
    link = next(d for d in publisher.deadletters if d.reason == "symlink")
    assert link.payload_b64 is None  # the link target was never read
    await watcher.backfill()
    ledger.close()
    assert len(publisher.deadletters) == 6  # not retried


async def test_a_file_still_being_written_is_not_read_half_way(inbox: Path, tmp_path: Path) -> None:
    publisher = RecordingPublisher()
    ledger = Ledger(tmp_path / "ledger.sqlite3", inbox)
    # Pauses between writes are 10x shorter than the stability window, so a slow machine
    # cannot make the test pass or fail by accident.
    watcher = FileWatcher(WatcherConfig(inbox=inbox, stable_seconds=1.0), ledger, publisher)
    path = inbox / "slow.txt"

    async def write_slowly() -> None:
        with path.open("w", encoding="utf-8") as handle:
            for i in range(6):
                handle.write(f"Zin nummer {i} van een lang artikel. ")
                handle.flush()
                os.fsync(handle.fileno())
                await asyncio.sleep(0.1)

    writer = asyncio.create_task(write_slowly())
    await asyncio.sleep(0.05)
    await watcher.backfill()
    await writer
    ledger.close()
    assert len(publisher.articles) == 1
    assert publisher.articles[0].body.count("Zin nummer") == 6


async def test_while_the_broker_is_down_nothing_is_recorded_and_files_are_sent_later(
    inbox: Path, tmp_path: Path
) -> None:
    (inbox / "a.txt").write_text("Een artikel over de top.", encoding="utf-8")
    publisher = RecordingPublisher()
    publisher.fail = True
    ledger = Ledger(tmp_path / "ledger.sqlite3", inbox)
    watcher = FileWatcher(
        WatcherConfig(inbox=inbox, stable_seconds=0.05, retry_initial_seconds=0.05),
        ledger,
        publisher,
    )
    backfill = asyncio.create_task(watcher.backfill())
    await asyncio.sleep(0.5)
    assert not backfill.done()  # still trying, not crashed
    assert ledger.count() == 0  # nothing recorded that the broker did not acknowledge
    publisher.fail = False  # the broker is back
    await asyncio.wait_for(backfill, 5)
    assert [a.source_path for a in publisher.articles] == ["a.txt"]
    assert ledger.count(Outcome.PUBLISHED) == 1
    ledger.close()


async def test_an_emptied_broker_gets_every_file_again(inbox: Path, tmp_path: Path) -> None:
    (inbox / "a.txt").write_text("Een artikel over de top.", encoding="utf-8")
    first = RecordingPublisher()
    watcher, ledger = _watcher(inbox, tmp_path, first)
    await watcher.backfill()
    ledger.close()
    fresh_broker = RecordingPublisher()
    watcher, ledger = _watcher(inbox, tmp_path, fresh_broker)
    await watcher.backfill()
    ledger.close()
    assert [a.source_path for a in fresh_broker.articles] == ["a.txt"]


async def test_run_follows_new_files_until_stopped(inbox: Path, tmp_path: Path) -> None:
    publisher = RecordingPublisher()
    watcher, ledger = _watcher(inbox, tmp_path, publisher)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    await asyncio.sleep(0.3)
    (inbox / "sub").mkdir()
    (inbox / "sub" / "new.md").write_text("# Titel\n\nNieuw artikel.", encoding="utf-8")
    for _ in range(100):
        if publisher.articles:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    ledger.close()
    assert [(a.source_path, a.title) for a in publisher.articles] == [("sub/new.md", "Titel")]


class DyingPublisher(RecordingPublisher):
    """The broker acknowledges the batch, then the watcher process dies (before the ledger)."""

    async def publish(
        self, articles: Sequence[ArticleIngested], deadletters: Sequence[DeadLetter]
    ) -> None:
        await super().publish(articles, deadletters)
        raise SystemExit(137)


async def test_a_crash_between_acknowledgement_and_ledger_publishes_nothing_twice(
    inbox: Path, tmp_path: Path
) -> None:
    (inbox / "a.txt").write_text("Een artikel over de top.", encoding="utf-8")
    (inbox / "b.txt").write_text("Een ander artikel over Hanoi.", encoding="utf-8")
    (inbox / "empty.txt").write_bytes(b"")
    broker = DyingPublisher()
    watcher, ledger = _watcher(inbox, tmp_path, broker)
    with pytest.raises(SystemExit):
        await watcher.backfill()
    ledger.close()
    assert len(broker.articles) == 2
    assert len(broker.deadletters) == 1

    # The restarted watcher talks to the same broker, which holds the events already.
    same_broker = RecordingPublisher()
    same_broker.articles, same_broker.deadletters = broker.articles, broker.deadletters
    (inbox / "c.txt").write_text("Een derde, nieuw artikel.", encoding="utf-8")
    watcher, ledger = _watcher(inbox, tmp_path, same_broker)
    progress = await watcher.backfill()
    assert ledger.count(Outcome.PUBLISHED) == 3
    assert ledger.count(Outcome.DEADLETTER) == 1
    assert ledger.intents() == []
    ledger.close()
    assert [o.path for o in progress.outcomes] == ["c.txt"]
    assert sorted(a.source_path for a in same_broker.articles) == ["a.txt", "b.txt", "c.txt"]
    assert len(same_broker.deadletters) == 1


async def test_intents_the_broker_never_got_are_published_on_restart(
    inbox: Path, tmp_path: Path
) -> None:
    (inbox / "a.txt").write_text("Een artikel over de top.", encoding="utf-8")
    lost = DyingPublisher()
    watcher, ledger = _watcher(inbox, tmp_path, lost)
    with pytest.raises(SystemExit):
        await watcher.backfill()
    ledger.close()
    # A broker that never stored the batch (the acknowledgement was never sent).
    fresh = RecordingPublisher()
    fresh.articles = [a for a in lost.articles if a.source_path != "a.txt"]
    watcher, ledger = _watcher(inbox, tmp_path, fresh)
    await watcher.backfill()
    ledger.close()
    assert [a.source_path for a in fresh.articles] == ["a.txt"]


# --- finished files are read at once (inotify), unfinished ones never ----------------------------

LONG_WINDOW = 30.0
"""A stability window no test waits for: a file read before it passed was known finished."""


async def _published(publisher: RecordingPublisher, count: int, within: float) -> bool:
    for _ in range(int(within / 0.02)):
        if len(publisher.articles) >= count:
            return True
        await asyncio.sleep(0.02)
    return len(publisher.articles) >= count


@contextlib.asynccontextmanager
async def _following(
    inbox: Path, data: Path, config: WatcherConfig
) -> AsyncIterator[RecordingPublisher]:
    """A watcher running (``run``) on ``inbox`` meanwhile; what it published."""
    publisher = RecordingPublisher()
    ledger = Ledger(data / "ledger.sqlite3", inbox)
    stop = asyncio.Event()
    task = asyncio.create_task(FileWatcher(config, ledger, publisher).run(stop))
    await asyncio.sleep(0.2)  # backfill of the empty inbox done, inotify watching
    try:
        yield publisher
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        ledger.close()


async def test_a_file_moved_in_or_closed_by_its_writer_is_read_without_waiting(
    inbox: Path, tmp_path: Path
) -> None:
    config = WatcherConfig(inbox=inbox, stable_seconds=LONG_WINDOW)
    async with _following(inbox, tmp_path, config) as publisher:
        part = inbox / ".renamed.txt.part"
        part.write_text("Een artikel dat in een keer verschijnt.", encoding="utf-8")
        part.rename(inbox / "renamed.txt")
        assert await _published(publisher, 1, within=5.0)
        (inbox / "sub").mkdir()
        # Once the new folder is watched (files written before that wait for the window).
        await asyncio.sleep(0.2)
        (inbox / "sub" / "written.txt").write_text("Een artikel dat gewoon wordt geschreven.")
        assert await _published(publisher, 2, within=5.0)
    assert sorted(a.source_path for a in publisher.articles) == ["renamed.txt", "sub/written.txt"]


async def test_a_file_still_open_for_writing_is_read_only_after_its_writer_closes_it(
    inbox: Path, tmp_path: Path
) -> None:
    config = WatcherConfig(inbox=inbox, stable_seconds=LONG_WINDOW)
    async with _following(inbox, tmp_path, config) as publisher:
        with (inbox / "slow.txt").open("w", encoding="utf-8") as handle:
            for i in range(6):
                handle.write(f"Zin nummer {i} van een lang artikel. ")
                handle.flush()
                await asyncio.sleep(0.1)
            assert publisher.articles == []  # modified, flushed, but not closed: not finished
        assert await _published(publisher, 1, within=5.0)
    assert publisher.articles[0].body.count("Zin nummer") == 6


async def test_without_ready_on_close_a_finished_file_waits_for_the_stability_window(
    inbox: Path, tmp_path: Path
) -> None:
    # watchfiles reports the file; it is read once unchanged for the window, not before.
    config = WatcherConfig(inbox=inbox, stable_seconds=2.0, ready_on_close=False)
    async with _following(inbox, tmp_path, config) as publisher:
        (inbox / "a.txt").write_text("Een artikel over de top.", encoding="utf-8")
        assert not await _published(publisher, 1, within=1.0)
        assert await _published(publisher, 1, within=10.0)
