"""The loop every agent of the worker runs: take input, hand its outputs to the producer, and
acknowledge the input once the broker acknowledged them.

Each agent (:func:`add_agent`) supplies what differs: how it reads its stream
(:func:`each_event`, or Faust's ``take_events`` for batches), the outputs of an input, and what
acknowledging an input means (``event.ack()`` and the progress it reports). Delivery is the
same for all: at-least-once, with successive inputs' outputs in the broker's hands at once
(:class:`~streams.processing.delivery.DeliveryWindow`).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import faust

from streams.processing.delivery import DeliveryWindow, Handoff, Output, Send, hold

OutputsOf = Callable[[Sequence[Any]], Awaitable[Sequence[Output]]]
"""The output records of a group of input events (one event, or a batch)."""


async def deliver_outputs(
    inputs: AsyncIterable[Sequence[Any]],
    outputs_of: OutputsOf,
    on_delivered: Callable[[Sequence[Any]], None],
    *,
    handoff: Handoff,
    send: Send,
    in_flight: int,
) -> None:
    """Run an agent over ``inputs``, groups of Faust events, until the stream ends or the
    agent is cancelled.

    Each group's outputs are handed to the producer with ``handoff``, at most ``in_flight``
    groups' worth waiting for the broker (``send`` sends again what failed), and the agent
    goes on with the next group meanwhile. ``on_delivered(group)`` runs once the group's
    outputs, and every earlier group's, were acknowledged, in input order; Faust's own
    acknowledgement of the events is held back until then (:func:`hold`). What is still
    outstanding when the loop ends is never acknowledged, so it comes again after a restart.
    """
    window = DeliveryWindow(handoff, send, limit=in_flight)
    try:
        async for events in inputs:
            outputs = await outputs_of(events)
            hold(events)
            await window.submit(outputs, functools.partial(on_delivered, events))
    finally:
        window.close()


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
    *,
    name: str,
    outputs_of: OutputsOf,
    on_delivered: Callable[[Sequence[Any]], None],
    handoff: Handoff,
    send: Send,
    in_flight: int,
    inputs: Callable[[Any], AsyncIterable[Sequence[Any]]] = each_event,
) -> None:
    """Add the agent ``name`` on ``channel`` to ``app``: it runs :func:`deliver_outputs` over
    ``inputs(stream)`` (one event at a time unless told otherwise)."""

    async def agent(stream: Any) -> None:
        await deliver_outputs(
            inputs(stream),
            outputs_of,
            on_delivered,
            handoff=handoff,
            send=send,
            in_flight=in_flight,
        )

    app.agent(channel, name=name)(agent)
