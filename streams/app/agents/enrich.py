"""The ``enrich`` agent: raw articles in, enriched events (to the story input), entities,
quotes and dead letters out.

:func:`install_enrich` is called once by :func:`streams.app.factory.create_app`. Delivery is
at-least-once with idempotent effects: an input batch is acknowledged to Faust only after every
output event of the batch (and of every earlier batch) was acknowledged by the broker (acks=all,
idempotent producer), so a crash re-delivers at most the unacknowledged batches; their outputs
carry the same deterministic ``event_id`` and sinks upsert on it. The agent enriches the next
batch while the broker acknowledges the last ones
(:class:`~streams.processing.delivery.DeliveryWindow`, ``AppConfig.batches_in_flight``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import faust

from streams.app.agents.loop import Outlet, add_agent
from streams.processing.batch import BatchProcessor, RawRecord
from streams.processing.delivery import Output


def install_enrich(
    app: faust.App,
    raw_topic: str,
    processor: BatchProcessor,
    outlet: Outlet,
    on_done: Callable[[Any], None],
    *,
    partitions: int,
    batch_max: int,
    batch_within_seconds: float,
    in_flight: int,
) -> None:
    """Add the raw topic and the ``enrich`` agent, which turns batches of up to ``batch_max``
    raw records (or what came within ``batch_within_seconds``) into outputs with ``processor``.

    Outputs go to ``outlet``, at most ``in_flight`` batches' worth waiting for the broker.
    ``on_done(event)`` is called for each input event once its outputs were acknowledged.
    """
    raw = app.topic(raw_topic, partitions=partitions, config={"retention.ms": "-1"})

    async def outputs_of(events: Sequence[Any]) -> list[Output]:
        return await processor.outputs(
            [
                RawRecord(
                    topic=e.message.topic,
                    partition=e.message.partition,
                    offset=e.message.offset,
                    key=e.message.key,
                    value=e.message.value,
                )
                for e in events
            ]
        )

    # Batches overlap: while the broker acknowledges a batch's outputs, the next one is
    # enriched. Each input is acknowledged only once its outputs were.
    add_agent(
        app,
        raw,
        "enrich",
        outputs_of,
        outlet,
        in_flight=in_flight,
        on_delivered=on_done,
        inputs=lambda stream: stream.take_events(batch_max, within=batch_within_seconds),
    )
