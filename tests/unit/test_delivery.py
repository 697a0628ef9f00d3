"""Outputs are sent until the broker acknowledged every one (nothing dropped on a failure)."""

from __future__ import annotations

import asyncio

import pytest

from streams.app.delivery import deliver


class FlakyBroker:
    """Refuses the first ``failures`` sends of each record, then acknowledges it."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.tries: dict[bytes, int] = {}
        self.acked: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.tries[key] = self.tries.get(key, 0) + 1
        if self.tries[key] <= self.failures and key != b"always-ok":
            raise ConnectionError("broker unavailable")
        self.acked.append((topic, key, value))


async def test_failed_records_are_sent_again_until_acknowledged() -> None:
    broker = FlakyBroker(failures=3)
    outputs = [("t", b"a", b"1"), ("t", b"always-ok", b"2"), ("u", b"c", b"3")]
    await deliver(broker.send, outputs, initial_seconds=0.001, max_seconds=0.004)
    assert sorted(broker.acked) == sorted(outputs)
    assert broker.tries == {b"a": 4, b"always-ok": 1, b"c": 4}  # the acknowledged one once


async def test_cancellation_stops_the_retries() -> None:
    broker = FlakyBroker(failures=10**6)
    task = asyncio.create_task(
        deliver(broker.send, [("t", b"a", b"1")], initial_seconds=0.01, max_seconds=0.01)
    )
    await asyncio.sleep(0.05)
    assert not task.done()  # still trying: nothing given up
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert broker.acked == []
