"""``up`` stops its sinks through their stop event and waits for them: their last commit
happens while the broker still runs (cancelled, it failed with an ERROR and a traceback)."""

from __future__ import annotations

import asyncio

import pytest

from streams.cli import up


async def test_the_sinks_finish_their_batch_and_the_follower_is_cancelled() -> None:
    stop = asyncio.Event()
    done: list[str] = []

    async def sink(name: str) -> None:
        await stop.wait()
        await asyncio.sleep(0.05)  # the last batch's commit, in flight when stop is set
        done.append(name)

    async def follower() -> None:
        await asyncio.Event().wait()

    sinks: list[asyncio.Task[object]] = [asyncio.create_task(sink(n)) for n in ("a", "b")]
    following: asyncio.Task[object] = asyncio.create_task(follower())
    await asyncio.sleep(0)
    await up._stop_tasks(stop, sinks, following)
    assert sorted(done) == ["a", "b"]
    assert not any(task.cancelled() for task in sinks)
    assert following.cancelled()


async def test_a_sink_that_does_not_stop_in_time_is_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(up, "_STOP_SECONDS", 0.05)
    stuck: asyncio.Task[object] = asyncio.create_task(asyncio.Event().wait())
    following: asyncio.Task[object] = asyncio.create_task(asyncio.Event().wait())
    await up._stop_tasks(asyncio.Event(), [stuck], following)
    assert stuck.cancelled()
    assert following.cancelled()
