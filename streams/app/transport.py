"""Faust's aiokafka transport as the worker needs it: idempotent producers, a consumer that
seeks back without losing records, and the broker credentials.

Used by :class:`streams.app.factory.NewsApp` (its transports) and
:func:`streams.app.factory.create_app` (:func:`credentials`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.kafka.client import FaustBrokerSettings, stopped_despite_fetcher

log = logging.getLogger(__name__)


class _IdempotentProducer(faust_aiokafka.Producer):
    """Faust's aiokafka producer with idempotence on outside transactions too.

    Faust enables idempotence only for exactly-once transactions; at-least-once processing
    still needs it so that a retried send after a lost acknowledgement is not written twice.
    """

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread, whose stop survives aiokafka's fetcher close with no broker
    (see :func:`streams.kafka.client.stopped_despite_fetcher`)."""

    async def on_thread_stop(self) -> None:
        await stopped_despite_fetcher(super().on_thread_stop())


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        """Seek every stream partition back to where processing must resume, losing nothing.

        Faust calls this when a rebalance's recovery ends, just before it clears the streams'
        queues and resumes the flow (and when a fetch finds the flow stopped). Faust 0.15 with
        aiokafka 0.14 loses records here in two ways; both were seen in the worker takeover
        fault test (``tests/faults/test_worker_takeover.py``), on Tansu, and neither depends
        on the broker:

        1. Faust resumes the stream partitions before this seek, so the fetcher delivers
           records into the queues while it runs, and the queues are cleared after it. Only
           a seek back makes those records come again, but aiokafka's ``seek_to_committed``
           leaves alone a partition whose committed offset is None or 0: a partition new to
           the group, or one whose previous owner was killed before its first commit. Its
           fetch then goes on after the cleared records, which are never processed. When the
           partition is the story input, those articles' raw offsets were already committed
           by the dead worker, and the articles never reach the enriched topic.
        2. Records the fetch loop fetched before the seek are still delivered after it and
           move Faust's read offset ahead; the records fetched again from the committed
           offset are then dropped as already read.

        So: stop the flow first (the fetch loop delivers nothing more and drops the rest of
        its batch; every caller resumes the flow after this returns), seek to the committed
        offsets, and seek each stream partition with no committed offset to its beginning,
        where this app's consumers start (``auto_offset_reset="earliest"``). What was already
        processed since then comes again: at-least-once, and outputs are idempotent. If the
        seek fails the flow stays stopped: the worker stalls and the watchdog restarts it,
        which loses nothing, where resuming without the seek could.
        """
        self.stop_flow()
        await super().perform_seek()
        uncommitted = [
            tp
            for tp in self.assignment()
            if not self._is_changelog_tp(tp) and not self._committed_offset.get(tp)
        ]
        if uncommitted:
            beginnings = await self.earliest_offsets(*uncommitted)
            for tp in uncommitted:
                await self.seek(tp, beginnings.get(tp) or 0)
            log.debug("rewound partitions with no committed offset: %s", sorted(uncommitted))


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with the consumer and producer above; NewsApp's consumer
    and producer transports are both this one."""

    Consumer = _Consumer
    Producer = _IdempotentProducer


def credentials(broker: FaustBrokerSettings) -> Any:
    """Faust's credentials object for SASL and/or SSL, or None for PLAINTEXT."""
    if broker.sasl_mechanism is not None:
        password = broker.sasl_password.get_secret_value() if broker.sasl_password else None
        return faust.SASLCredentials(
            username=broker.sasl_username,
            password=password,
            mechanism=broker.sasl_mechanism,
            ssl_context=broker.ssl_context,
        )
    if broker.ssl_context is not None:
        return faust.SSLCredentials(broker.ssl_context)
    return None
