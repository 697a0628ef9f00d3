"""Sending a record set until the broker acknowledged all of it.

Faust acknowledges the input events of an agent's loop even when the loop body raises
(``take_events`` and per-event iteration both acknowledge in ``finally``), so an agent that
gives up on a failed send loses its input. Agents therefore send their outputs with
:func:`deliver`, which retries what failed, with capped backoff, until it is acknowledged. A
worker that stays stuck here (broker gone for good) is the watchdog's to restart; its input
is then redelivered from the last committed offset.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

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
