"""The inotify binding: what it reports about files written, renamed and put in new folders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from streams.sources import inotify
from streams.sources.inotify import Change, TreeWatch

Reports = list[tuple[str, Change]]


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[Path, Reports]]:
    reports: Reports = []
    watch = TreeWatch(tmp_path, lambda rel, change: reports.append((rel, change)))
    watch.start()
    try:
        yield tmp_path, reports
    finally:
        watch.close()
        watch.close()  # closing twice is allowed


async def _settle() -> None:
    # The reader runs on the loop: give it a few turns to deliver what the kernel queued.
    for _ in range(10):
        await asyncio.sleep(0.01)


def test_available_on_linux() -> None:
    # The project's machines and images are Linux: the fast path must be the one they get.
    assert inotify.available()


async def test_a_file_is_finished_only_when_its_writer_closes_it(
    watched: tuple[Path, Reports],
) -> None:
    root, reports = watched
    with (root / "a.txt").open("w") as handle:
        handle.write("eerste deel")
        handle.flush()
        await _settle()
        assert ("a.txt", Change.FINISHED) not in reports
        assert ("a.txt", Change.CHANGED) in reports
    await _settle()
    assert reports[-1] == ("a.txt", Change.FINISHED)


async def test_a_file_renamed_into_place_is_finished_and_its_temporary_name_only_changed(
    watched: tuple[Path, Reports],
) -> None:
    root, reports = watched
    (root / ".a.txt.part").write_text("klaar")
    await _settle()
    reports.clear()
    (root / ".a.txt.part").rename(root / "a.txt")
    await _settle()
    assert reports == [(".a.txt.part", Change.CHANGED), ("a.txt", Change.FINISHED)]


async def test_new_folders_are_watched_with_their_subfolders_and_moved_away_ones_are_not(
    watched: tuple[Path, Reports], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root, reports = watched
    (root / "x").mkdir()
    await _settle()
    (root / "x" / "y").mkdir()
    await _settle()
    (root / "x" / "y" / "b.txt").write_text("diep")
    await _settle()
    assert ("x", Change.CHANGED) in reports
    assert ("x/y/b.txt", Change.FINISHED) in reports
    outside = tmp_path_factory.mktemp("outside") / "x"
    (root / "x").rename(outside)
    await _settle()
    reports.clear()
    (outside / "y" / "c.txt").write_text("niet meer hier")
    await _settle()
    assert reports == []
