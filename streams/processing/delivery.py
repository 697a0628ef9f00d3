"""Sending records until the broker acknowledged all of them, and acknowledging inputs after.

Faust acknowledges the input events of an agent's loop even when the loop body raises
(``take_events`` and per-event iteration both acknowledge in ``finally``), so an agent that
gives up on a failed send loses its input. Outputs are therefore sent with :func:`deliver`,
which retries what failed, with capped backoff, until it is acknowledged. The worker's agents
do not wait for that per input: they hand outputs to a :class:`DeliveryWindow`, :func:`hold`
the input so that Faust's own acknowledgement is not the last, and the window acknowledges
the inputs, in order, once their outputs were. A worker that stays stuck here (broker gone for
good) is the watchdog's to restart; its input is then redelivered from the last committed
offset.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

Output = tuple[str, bytes, bytes]
"""An output record: (topic, key, value)."""

Send = Callable[[str, bytes, bytes], Awaitable[None]]
"""Sends one record and returns once the broker acknowledged it (acks=all)."""


async def deliver(
    send: Send,
    outputs: Sequence[Output],
    *,
    initial_seconds: float = 0.5,
    max_seconds: float = 30.0,
) -> None:
    """Send ``outputs`` concurrently; return once every one was acknowledged.

    Only the records that failed are sent again (after ``initial_seconds``, doubling up to
    ``max_seconds``), so a retry can reorder records of different keys but never drops one;
    consumers see at-least-once, and the records' deterministic event ids make repeats
    harmless. Cancellation (worker shutdown) propagates at once.
    """
    pending = list(outputs)
    delay = initial_seconds
    while pending:
        results = await asyncio.gather(
            *(send(topic, key, value) for topic, key, value in pending), return_exceptions=True
        )
        failed: list[tuple[Output, BaseException]] = []
        for output, result in zip(pending, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                failed.append((output, result))
        if not failed:
            return
        first = failed[0][1]
        log.error(
            "%d of %d records not acknowledged (%s: %s); sending them again in %.1f s",
            len(failed),
            len(pending),
            type(first).__name__,
            first,
            delay,
        )
        pending = [output for output, _ in failed]
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_seconds)


Handoff = Callable[[str, bytes, bytes], Awaitable[Awaitable[object]]]
"""Hands one record to the producer and returns what resolves once the broker acknowledged it
(or fails). Awaiting the handoff itself waits only while the producer's buffer is full."""


class DeliveryWindow:
    """Sends the outputs of successive inputs without waiting for each acknowledgement.

    An agent calls :meth:`submit` once per input (or input batch) with that input's outputs and
    a callback that acknowledges the input. ``submit`` hands the outputs to the producer and
    returns, so the agent goes on with the next input while the broker works; it waits only
    while ``limit`` groups are outstanding (bounded memory and backpressure). A group is
    complete once every one of its outputs was acknowledged: an output that failed is sent
    again with :func:`deliver`'s capped backoff, never dropped. The callbacks run in the
    order the groups were submitted, whatever order the acknowledgements come in, so an input
    is acknowledged only after its outputs and those of every earlier input (Faust commits
    the first consecutive run of acknowledged offsets, and from a partition's first record on
    it could not tell a later run from the start: in-order acknowledgement never leaves a
    hole to skip). Delivery stays at-least-once with idempotent effects.

    :meth:`close` cancels what is outstanding: those inputs are never acknowledged, so a
    worker that stops re-processes them after its restart.
    """

    def __init__(
        self,
        handoff: Handoff,
        send: Send,
        *,
        limit: int,
        initial_seconds: float = 0.5,
        max_seconds: float = 30.0,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self._handoff = handoff
        self._send = send
        self._limit = limit
        self._initial = initial_seconds
        self._max = max_seconds
        self._outstanding: collections.deque[asyncio.Task[None]] = collections.deque()

    @property
    def outstanding(self) -> int:
        """Groups submitted whose callback has not run yet."""
        return len(self._outstanding)

    async def submit(self, outputs: Sequence[Output], on_delivered: Callable[[], None]) -> None:
        """Hand ``outputs`` to the producer; ``on_delivered`` runs once they and every earlier
        group's were acknowledged. Returns once fewer than ``limit`` groups are outstanding."""
        while self._outstanding and self._outstanding[0].done():
            await self._finish_oldest()
        pending: list[tuple[Output, Awaitable[object]]] = []
        for output in outputs:
            try:
                pending.append((output, await self._handoff(*output)))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused before it was queued: sent again below
                pending.append((output, _failed(exc)))
        previous = self._outstanding[-1] if self._outstanding else None
        self._outstanding.append(
            asyncio.ensure_future(self._complete(pending, previous, on_delivered))
        )
        while len(self._outstanding) >= self._limit:
            await self._finish_oldest()

    async def drain(self) -> None:
        """Wait until every submitted group's callback has run."""
        while self._outstanding:
            await self._finish_oldest()

    async def _finish_oldest(self) -> None:
        """Wait for the oldest group and drop it; its callback's error surfaces here."""
        if not self._outstanding[0].done():
            await asyncio.wait({self._outstanding[0]})
        self._outstanding.popleft().result()

    def close(self) -> None:
        """Cancel the outstanding groups; their inputs stay unacknowledged."""
        while self._outstanding:
            self._outstanding.popleft().cancel()

    async def _complete(
        self,
        pending: Sequence[tuple[Output, Awaitable[object]]],
        previous: asyncio.Task[None] | None,
        on_delivered: Callable[[], None],
    ) -> None:
        # Shielded: cancelling the group (close) must not cancel the producer's own futures.
        results = await asyncio.gather(
            *(asyncio.shield(ack) for _, ack in pending), return_exceptions=True
        )
        failed = []
        for (output, _), result in zip(pending, results, strict=True):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                failed.append(output)
        if failed:
            log.error(
                "%d of %d records not acknowledged; sending them again", len(failed), len(pending)
            )
            await deliver(self._send, failed, initial_seconds=self._initial, max_seconds=self._max)
        if previous is not None:
            await asyncio.wait({previous})
            if previous.cancelled() or previous.exception() is not None:
                # An earlier input was never acknowledged (closed, or its acknowledgement
                # cancelled or failed): acknowledging this one would let Faust commit past it.
                # Its error surfaces in submit/drain, first, since groups are popped in order.
                raise asyncio.CancelledError
        on_delivered()


def hold(events: Sequence[Any]) -> None:
    """Keep Faust from acknowledging ``events`` by itself.

    Faust acknowledges an event when the agent's loop moves on (``take_events``: after the
    batch's body; ``events()``: when the next event is taken). An agent that hands its outputs
    to a :class:`DeliveryWindow` moves on before they were acknowledged, so it takes one more
    reference on each message: Faust's own acknowledgement then only drops that reference, and
    the window's callback (``event.ack()``) is the last one, the one that lets the offset be
    committed.
    """
    for event in events:
        event.message.incref()


def _failed(exc: Exception) -> asyncio.Future[object]:
    failed: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    failed.set_exception(exc)
    return failed
