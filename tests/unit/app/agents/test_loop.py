"""The agents' shared loop: outputs handed over, inputs acknowledged in order once delivered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from streams.app.agents.loop import Outlet, deliver_outputs, each_event
from streams.processing.delivery import Output
from tests.unit.app.agents.fakes import Message, Stream, StreamEvent


class Broker:
    """A producer whose acknowledgements the test gives, one record (key) at a time."""

    def __init__(self) -> None:
        self.pending: dict[bytes, asyncio.Future[object]] = {}

    async def handoff(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[object]:
        self.pending[key] = asyncio.get_running_loop().create_future()
        return self.pending[key]

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        raise AssertionError("nothing failed, so nothing is sent again")

    def acknowledge(self, key: bytes) -> None:
        self.pending[key].set_result(None)


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def _events(count: int) -> list[StreamEvent]:
    return [StreamEvent(Message("in", 0, n, None, b"%d" % n)) for n in range(count)]


async def _one_output_each(events: Sequence[Any]) -> list[Output]:
    return [("out", event.value, b"") for event in events]


async def test_events_are_acknowledged_in_input_order_once_their_outputs_were() -> None:
    broker = Broker()
    events = _events(3)
    finish = asyncio.Event()
    delivered: list[int] = []

    async def inputs() -> AsyncIterator[list[StreamEvent]]:
        for event in events:
            yield [event]
        await finish.wait()

    task = asyncio.create_task(
        deliver_outputs(
            inputs(),
            _one_output_each,
            Outlet(broker.handoff, broker.send),
            in_flight=8,
            on_delivered=lambda event: delivered.append(event.message.offset),
        )
    )
    await _settle()
    assert set(broker.pending) == {b"0", b"1", b"2"}  # all handed over, none waited for
    assert [event.message.refs for event in events] == [2, 2, 2]  # held from Faust's own ack

    broker.acknowledge(b"2")
    await _settle()
    assert delivered == []  # the earlier inputs' outputs are not acknowledged yet

    broker.acknowledge(b"0")
    await _settle()
    assert delivered == [0]
    broker.acknowledge(b"1")
    await _settle()
    assert delivered == [0, 1, 2]
    assert [event.acked for event in events] == [1, 1, 1]

    finish.set()
    await task


async def test_what_is_outstanding_when_the_stream_ends_is_never_acknowledged() -> None:
    broker = Broker()
    events = _events(2)
    delivered: list[Any] = []

    await deliver_outputs(
        each_event(Stream(events)),
        _one_output_each,
        Outlet(broker.handoff, broker.send),
        in_flight=8,
        on_delivered=delivered.append,
    )
    broker.acknowledge(b"0")
    broker.acknowledge(b"1")
    await _settle()

    assert delivered == []
    assert [event.acked for event in events] == [0, 0]
