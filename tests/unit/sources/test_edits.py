"""A file edited in the inbox: its new content is a new article that supersedes the old one.

What a consumer sees is the raw topic (``RecordingPublisher`` stands where Kafka stands): every
version stays there, and each new version names the one it replaces in ``supersedes``, across
restarts and crashes between publishing and recording.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from streams.sources.ledger import Ledger
from streams.sources.parse import article_id_for
from tests.unit.sources.test_watcher import DyingPublisher, RecordingPublisher, _watcher

V1 = "De top in Hanoi begint morgen."
V2 = "De top in Hanoi begint morgen, meldt het Witte Huis."
V3 = "De top in Hanoi is afgelopen zonder akkoord."


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    path = tmp_path / "inbox"
    path.mkdir()
    return path


def _write(path: Path, text: str) -> None:
    """Write ``text``; an edit gets a later mtime even on a file system with coarse clocks."""
    before = path.stat().st_mtime_ns if path.exists() else None
    path.write_text(text, encoding="utf-8")
    if before is not None and path.stat().st_mtime_ns <= before:
        os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


async def _backfill(inbox: Path, data: Path, broker: RecordingPublisher) -> None:
    """One watcher run over the inbox, then stopped (each call is a restart)."""
    watcher, ledger = _watcher(inbox, data, broker)
    try:
        await watcher.backfill()
    finally:
        ledger.close()


async def _edit(
    inbox: Path, data: Path, broker: RecordingPublisher, *texts: str, name: str = "top.txt"
) -> None:
    """Write each of ``texts`` to ``inbox/name`` in turn, each followed by one watcher run (a
    restart), so each text is a new version of the file."""
    for text in texts:
        _write(inbox / name, text)
        await _backfill(inbox, data, broker)


async def _crash_after_acknowledgement(
    inbox: Path, data: Path, broker: RecordingPublisher, text: str, *, kept: bool
) -> None:
    """Write ``text`` to ``inbox/top.txt`` and run a watcher that dies once the broker
    acknowledged the batch, before its ledger records it. ``kept``: the acknowledged batch is
    on ``broker``'s topic afterwards; otherwise it is lost with the acknowledgement."""
    _write(inbox / "top.txt", text)
    dying = DyingPublisher()
    dying.articles = broker.articles if kept else list(broker.articles)
    with pytest.raises(SystemExit):
        await _backfill(inbox, data, dying)


def _versions(broker: RecordingPublisher) -> list[tuple[str, str, str | None]]:
    return [(a.source_path, a.body, a.supersedes) for a in broker.articles]


async def test_an_edited_file_is_a_new_article_that_supersedes_the_old_one(
    inbox: Path, tmp_path: Path
) -> None:
    broker = RecordingPublisher()
    # Each version by a restarted watcher: it remembers the old version.
    await _edit(inbox, tmp_path, broker, V1, V2, V3)

    first, second, third = broker.articles
    assert _versions(broker) == [
        ("top.txt", V1, None),
        ("top.txt", V2, first.article_id),
        ("top.txt", V3, second.article_id),
    ]
    assert first.source_id == second.source_id == third.source_id == "top"
    assert len({first.article_id, second.article_id, third.article_id}) == 3


async def test_a_running_watcher_publishes_the_edit_as_a_new_version(
    inbox: Path, tmp_path: Path
) -> None:
    broker = RecordingPublisher()
    watcher, ledger = _watcher(inbox, tmp_path, broker)
    _write(inbox / "top.txt", V1)
    await watcher.backfill()
    _write(inbox / "top.txt", V2)
    await watcher.backfill()
    ledger.close()
    assert [a.supersedes for a in broker.articles] == [None, broker.articles[0].article_id]


async def test_an_edit_that_changes_only_whitespace_publishes_nothing(
    inbox: Path, tmp_path: Path
) -> None:
    broker = RecordingPublisher()
    await _edit(inbox, tmp_path, broker, V1, V1.replace(" ", "  ") + "\n", V2)
    assert _versions(broker) == [
        ("top.txt", V1, None),
        ("top.txt", V2, broker.articles[0].article_id),
    ]


async def test_restoring_an_earlier_version_publishes_nothing_and_the_next_edit_supersedes_the_last(
    inbox: Path, tmp_path: Path
) -> None:
    # Publishing V1 again would make V1 and V2 supersede each other: no version would be current.
    broker = RecordingPublisher()
    await _edit(inbox, tmp_path, broker, V1, V2, V1, V3)
    v1, v2, _v3 = broker.articles
    assert _versions(broker) == [
        ("top.txt", V1, None),
        ("top.txt", V2, v1.article_id),
        ("top.txt", V3, v2.article_id),
    ]


async def test_editing_a_file_whose_copy_is_still_in_the_inbox_supersedes_nothing(
    inbox: Path, tmp_path: Path
) -> None:
    broker = RecordingPublisher()
    await _edit(inbox, tmp_path, broker, V1)
    # A duplicate: not published, but it holds V1.
    await _edit(inbox, tmp_path, broker, V1, name="kopie.txt")
    await _edit(inbox, tmp_path, broker, V2)
    (inbox / "kopie.txt").unlink()
    await _edit(inbox, tmp_path, broker, V3)
    assert _versions(broker) == [
        ("top.txt", V1, None),
        ("top.txt", V2, None),  # kopie.txt still holds V1: it stays current
        ("top.txt", V3, broker.articles[1].article_id),
    ]


async def test_a_copy_and_an_edit_made_while_the_watcher_was_down_supersede_nothing(
    inbox: Path, tmp_path: Path
) -> None:
    # Both files come back in one batch: the copy is a duplicate recorded with the edit.
    broker = RecordingPublisher()
    await _edit(inbox, tmp_path, broker, V1)
    _write(inbox / "kopie.txt", V1)
    _write(inbox / "top.txt", V2)
    await _backfill(inbox, tmp_path, broker)
    assert _versions(broker) == [("top.txt", V1, None), ("top.txt", V2, None)]


async def test_a_crash_between_acknowledgement_and_ledger_keeps_the_versions_right(
    inbox: Path, tmp_path: Path
) -> None:
    broker = RecordingPublisher()
    await _edit(inbox, tmp_path, broker, V1)
    await _crash_after_acknowledgement(inbox, tmp_path, broker, V2, kept=True)
    # The restarted watcher finds V2 on the broker: it records it without publishing it again,
    # and the next edit supersedes V2, not V1.
    await _edit(inbox, tmp_path, broker, V3)
    v1, v2, _v3 = broker.articles
    assert _versions(broker) == [
        ("top.txt", V1, None),
        ("top.txt", V2, v1.article_id),
        ("top.txt", V3, v2.article_id),
    ]


async def test_an_edit_the_broker_never_got_is_published_again_still_superseding_the_old_one(
    inbox: Path, tmp_path: Path
) -> None:
    broker = RecordingPublisher()
    await _edit(inbox, tmp_path, broker, V1)
    await _crash_after_acknowledgement(inbox, tmp_path, broker, V2, kept=False)
    await _backfill(inbox, tmp_path, broker)
    assert _versions(broker) == [
        ("top.txt", V1, None),
        ("top.txt", V2, broker.articles[0].article_id),
    ]


async def test_a_ledger_from_before_versions_is_upgraded_and_remembers_the_published_article(
    inbox: Path, tmp_path: Path
) -> None:
    _write(inbox / "top.txt", V1)
    v1_id = article_id_for(None, V1)
    _version_1_ledger(tmp_path / "ledger.sqlite3", inbox, "top.txt", v1_id)
    broker = _NotEmpty()
    await _backfill(inbox, tmp_path, broker)  # V1 is recorded: nothing to publish
    await _edit(inbox, tmp_path, broker, V2)
    assert [(a.body, a.supersedes) for a in broker.articles] == [(V2, v1_id)]
    ledger = Ledger(tmp_path / "ledger.sqlite3", inbox)
    assert ledger.is_published(v1_id)
    ledger.close()


def _version_1_ledger(db_path: Path, inbox: Path, rel: str, article_id: str) -> None:
    """A ledger as version 1 wrote it, recording ``rel`` (as it is now) as published."""
    st = (inbox / rel).stat()
    db = sqlite3.connect(db_path)
    db.executescript(_LEDGER_V1)
    db.execute(
        "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, 'published', 0)",
        (str(inbox.resolve()), rel, st.st_size, st.st_mtime_ns, "0" * 64, article_id),
    )
    db.commit()
    db.close()


class _NotEmpty(RecordingPublisher):
    """A broker whose raw topic holds articles published before this test's records."""

    async def raw_log_is_empty(self) -> bool:
        return False


_LEDGER_V1 = """
CREATE TABLE ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO ledger_meta VALUES ('schema_version', '1');
CREATE TABLE files (inbox TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL, article_id TEXT, outcome TEXT NOT NULL,
    recorded_at REAL NOT NULL, PRIMARY KEY (inbox, path));
CREATE INDEX files_article ON files (inbox, article_id, outcome);
CREATE TABLE intents (inbox TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL, article_id TEXT, outcome TEXT NOT NULL,
    kafka_key TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (inbox, path));
"""
"""The ledger's tables as version 1 (before ``last_published``) created them."""
