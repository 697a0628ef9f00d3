"""The loop every agent of the worker runs: take input, hand its outputs to the producer, and
acknowledge the input once the broker acknowledged them.

Each agent (:func:`add_agent`) supplies what differs: how it reads its stream
(:func:`each_event`, or Faust's ``take_events`` for batches), the outputs of an input, and what
else a delivered input means (the progress it reports). Delivery is the same for all:
at-least-once, with successive inputs' outputs in the broker's hands at once
(:class:`~streams.processing.delivery.DeliveryWindow`).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faust

from streams.processing.delivery import DeliveryWindow, Handoff, Output, Send, hold

OutputsOf = Callable[[Sequence[Any]], Awaitable[Sequence[Output]]]
"""The output records of a group of input events (one event, or a batch)."""


@dataclass(frozen=True, slots=True)
class Outlet:
    """How the agents' outputs reach the broker: ``handoff`` queues a record in the producer
    (see :data:`~streams.processing.delivery.Handoff`), ``send`` sends one again, until the
    broker acknowledged it, when its handoff failed."""

    handoff: Handoff
    send: Send


def _ignore(event: Any) -> None:
    pass


async def deliver_outputs(
    inputs: AsyncIterable[Sequence[Any]],
    outputs_of: OutputsOf,
    outlet: Outlet,
    *,
    in_flight: int,
    on_delivered: Callable[[Any], None] = _ignore,
) -> None:
    """Run an agent over ``inputs``, groups of Faust events, until the stream ends or the
    agent is cancelled.

    Each group's outputs are handed to the producer, at most ``in_flight`` groups' worth
    waiting for the broker, and the agent goes on with the next group meanwhile. Once the
    group's outputs, and every earlier group's, were acknowledged (in input order), each of
    its events is acknowledged to Faust and passed to ``on_delivered``; Faust's own
    acknowledgement of the events is held back until then (:func:`hold`). What is still
    outstanding when the loop ends is never acknowledged, so it comes again after a restart.
    """
    window = DeliveryWindow(outlet.handoff, outlet.send, limit=in_flight)
    try:
        async for events in inputs:
            outputs = await outputs_of(events)
            hold(events)
            await window.submit(outputs, functools.partial(_acknowledge, events, on_delivered))
    finally:
        window.close()


def _acknowledge(events: Sequence[Any], on_delivered: Callable[[Any], None]) -> None:
    # The events' outputs (and every earlier input's) were acknowledged by the broker.
    for event in events:
        event.ack()
        on_delivered(event)


async def each_event(stream: Any) -> AsyncIterator[list[Any]]:
    """The events of a Faust ``stream`` one at a time, each as a group of one.

    Per event, not ``take_events``: Faust tables can only be changed while iterating a
    stream's events, not over a ``take`` buffer.
    """
    async for event in stream.events():
        yield [event]


def add_agent(
    app: faust.App,
    channel: Any,
    name: str,
    outputs_of: OutputsOf,
    outlet: Outlet,
    *,
    in_flight: int,
    on_delivered: Callable[[Any], None] = _ignore,
    inputs: Callable[[Any], AsyncIterable[Sequence[Any]]] = each_event,
) -> None:
    """Add the agent ``name`` on ``channel`` to ``app``: it runs :func:`deliver_outputs` over
    ``inputs(stream)`` (one event at a time unless told otherwise)."""

    async def agent(stream: Any) -> None:
        await deliver_outputs(
            inputs(stream), outputs_of, outlet, in_flight=in_flight, on_delivered=on_delivered
        )

    app.agent(channel, name=name)(agent)
