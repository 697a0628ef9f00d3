"""Outputs are sent until the broker acknowledged every one (nothing dropped on a failure)."""

from __future__ import annotations

import asyncio

import pytest

from streams.processing.delivery import DeliveryWindow, deliver


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


class ControlledBroker:
    """Hands each record a future the test resolves, like a producer waiting on the broker."""

    def __init__(self) -> None:
        self.pending: dict[bytes, asyncio.Future[object]] = {}
        self.resent: list[bytes] = []

    async def handoff(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[object]:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        return future

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        self.resent.append(key)

    def acknowledge(self, key: bytes) -> None:
        self.pending.pop(key).set_result(None)

    def fail(self, key: bytes) -> None:
        self.pending.pop(key).set_exception(ConnectionError("broker unavailable"))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_inputs_are_acknowledged_in_order_once_their_outputs_are() -> None:
    broker = ControlledBroker()
    window = DeliveryWindow(broker.handoff, broker.send, limit=10)
    acknowledged: list[str] = []
    await window.submit([("t", b"a1", b""), ("t", b"a2", b"")], lambda: acknowledged.append("a"))
    await window.submit([("t", b"b1", b"")], lambda: acknowledged.append("b"))
    await window.submit([], lambda: acknowledged.append("c"))  # nothing to send: still in order
    assert window.outstanding == 3  # submit returned without any acknowledgement

    broker.acknowledge(b"b1")
    broker.acknowledge(b"a1")
    await settle()
    assert acknowledged == []  # a2 is still with the broker, so nothing after it either

    broker.acknowledge(b"a2")
    await window.drain()
    assert acknowledged == ["a", "b", "c"]
    assert window.outstanding == 0


async def test_a_failed_output_is_sent_again_before_its_input_is_acknowledged() -> None:
    broker = ControlledBroker()
    window = DeliveryWindow(broker.handoff, broker.send, limit=10, initial_seconds=0.001)
    acknowledged: list[str] = []
    await window.submit([("t", b"a", b""), ("t", b"b", b"")], lambda: acknowledged.append("x"))
    broker.fail(b"a")
    broker.acknowledge(b"b")
    await window.drain()
    assert broker.resent == [b"a"]
    assert acknowledged == ["x"]


async def test_a_record_the_producer_refuses_at_once_is_sent_again() -> None:
    broker = ControlledBroker()

    async def refusing(topic: str, key: bytes, value: bytes) -> asyncio.Future[object]:
        raise ConnectionError("producer closed")

    window = DeliveryWindow(refusing, broker.send, limit=10, initial_seconds=0.001)
    acknowledged: list[str] = []
    await window.submit([("t", b"a", b"")], lambda: acknowledged.append("x"))
    await window.drain()
    assert broker.resent == [b"a"]
    assert acknowledged == ["x"]


async def test_submit_waits_while_the_limit_of_groups_is_outstanding() -> None:
    broker = ControlledBroker()
    window = DeliveryWindow(broker.handoff, broker.send, limit=2)
    await window.submit([("t", b"a", b"")], lambda: None)
    blocked = asyncio.create_task(window.submit([("t", b"b", b"")], lambda: None))
    await settle()
    assert not blocked.done()  # two groups outstanding: the agent waits

    broker.acknowledge(b"a")
    await asyncio.wait_for(blocked, 1.0)
    assert window.outstanding == 1
    broker.acknowledge(b"b")
    await window.drain()


async def test_close_leaves_outstanding_inputs_unacknowledged() -> None:
    broker = ControlledBroker()
    window = DeliveryWindow(broker.handoff, broker.send, limit=10)
    acknowledged: list[str] = []
    await window.submit([("t", b"a", b"")], lambda: acknowledged.append("a"))
    window.close()
    broker.acknowledge(b"a")
    await settle()
    assert acknowledged == []  # a restarted worker processes that input again
    assert window.outstanding == 0


async def test_no_input_is_acknowledged_after_one_that_never_was() -> None:
    # A producer that stops cancels what it still held: the inputs after that one must stay
    # unacknowledged too, or Faust would commit past the one that was not delivered.
    broker = ControlledBroker()
    window = DeliveryWindow(broker.handoff, broker.send, limit=10)
    acknowledged: list[str] = []
    await window.submit([("t", b"a", b"")], lambda: acknowledged.append("a"))
    await window.submit([("t", b"b", b"")], lambda: acknowledged.append("b"))
    broker.pending.pop(b"a").cancel()
    broker.acknowledge(b"b")
    with pytest.raises(asyncio.CancelledError):
        await window.drain()
    with pytest.raises(asyncio.CancelledError):
        await window.drain()
    assert acknowledged == []
    assert window.outstanding == 0
