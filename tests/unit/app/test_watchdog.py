"""The stuck-consumer watchdog's decision, on a controlled clock, and its thread's action."""

from __future__ import annotations

import threading

import pytest

from streams.app.watchdog import Watchdog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("stuck_seconds", "idle_before", "lag", "then", "status"),
    [
        pytest.param(60, 0, 0, 3600, "idle", id="an-idle-worker-is-never-stuck"),
        # Idle for an hour, then work arrives: the lag is 30 s old, not an hour.
        pytest.param(60, 3600, 5, 30, "ok", id="lag-counts-from-when-it-appeared"),
        pytest.param(0, 0, 7, 10_000, "disabled", id="disabled-watchdog-never-fires"),
    ],
)
def test_no_alarm(
    stuck_seconds: float, idle_before: float, lag: int, then: float, status: str
) -> None:
    clock = Clock()
    dog = Watchdog(stuck_seconds=stuck_seconds, clock=clock)
    clock.now += idle_before
    dog.observe_lag(lag)
    clock.now += then
    assert not dog.check()
    assert dog.state().status == status


def test_a_worker_that_keeps_finishing_batches_is_not_stuck() -> None:
    clock = Clock()
    dog = Watchdog(stuck_seconds=60, clock=clock)
    dog.observe_lag(1000)
    for _ in range(10):
        clock.now += 30
        dog.progress()
        dog.observe_lag(900)
        assert not dog.check()
    assert dog.state().batches == 10


def test_lag_without_progress_is_reported_once_and_in_the_state() -> None:
    clock = Clock()
    dog = Watchdog(stuck_seconds=60, clock=clock)
    dog.observe_lag(7)
    clock.now += 61
    assert dog.check()
    assert not dog.check()  # reported once
    health = dog.state().as_dict()
    assert health["status"] == "stuck"
    assert health["lag"] == 7
    assert health["seconds_without_progress"] >= 61


def test_the_thread_fires_on_stuck_with_the_real_clock() -> None:
    fired = threading.Event()
    dog = Watchdog(stuck_seconds=0.3, on_stuck=fired.set, grace_seconds=0.0)
    dog.observe_lag(3)
    dog.start(interval=0.05)
    try:
        assert fired.wait(5)
    finally:
        dog.stop()
    assert dog.state().status == "stuck"


class _Consumer:
    """What ``unprocessed`` reads of Faust's consumer: assignment, fetch high watermarks and
    committed offsets."""

    def __init__(self, highwaters: dict[tuple[str, int], int | None]) -> None:
        from aiokafka import TopicPartition

        self._tps = {tp: TopicPartition(*tp) for tp in highwaters}
        self._highwaters = {self._tps[tp]: hw for tp, hw in highwaters.items()}
        self._committed_offset = {self._tps[("story", 0)]: 2}

    def assignment(self) -> set[object]:
        return set(self._tps.values())

    def highwater(self, tp: object) -> int | None:
        return self._highwaters[tp]  # type: ignore[index]


def test_the_watchdog_counts_work_waiting_on_the_story_input_as_well_as_on_the_raw_topic() -> None:
    from types import SimpleNamespace

    from streams.app.health import unprocessed

    consumer = _Consumer({("raw", 0): 10, ("raw", 1): None, ("story", 0): 9, ("other", 0): 50})
    app = SimpleNamespace(consumer=consumer)
    processed = {("raw", 0): 10, ("story", 0): 4}
    # raw 0 is done, raw 1 was not fetched yet (no evidence), 5 story records wait, and
    # topics the agents do not watch never count.
    assert unprocessed(app, {"raw", "story"}, processed) == 5  # type: ignore[arg-type]
    # Before the stories agent did anything here, the committed offset is where it resumes.
    assert unprocessed(app, {"raw", "story"}, {("raw", 0): 10}) == 7  # type: ignore[arg-type]
