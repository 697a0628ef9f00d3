"""KafkaConnection: client settings, SASL/SSL pass-through, secrets; the compat's wire format."""

from __future__ import annotations

import logging
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiokafka import (  # type: ignore[import-untyped, unused-ignore]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    TopicPartition,
)
from aiokafka.errors import (  # type: ignore[import-untyped, unused-ignore]
    NotLeaderForPartitionError,
)
from aiokafka.helpers import create_ssl_context  # type: ignore[import-untyped, unused-ignore]
from aiokafka.protocol.api import (  # type: ignore[import-untyped, unused-ignore]
    RequestHeader_v2,
)
from aiokafka.protocol.transaction import (  # type: ignore[import-untyped, unused-ignore]
    InitProducerIdRequest_v0,
)
from pydantic import SecretStr

from streams.config import Settings
from streams.kafka import compat
from streams.kafka.client import (
    FaustBrokerSettings,
    KafkaConnection,
    faust_broker_settings,
    new_consumer,
    new_producer,
)

SASL_SECRET = "sasl-s3cr3t-value"
KEY_SECRET = "key-s3cr3t-value"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed certificate and its key encrypted with KEY_SECRET (Debian's openssl)."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl (Debian package openssl) is needed to make test certificates"
    out = tmp_path_factory.mktemp("tls")
    cert, key = out / "cert.pem", out / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-passout",
            f"pass:{KEY_SECRET}",
        ],
        check=True,
        capture_output=True,
    )
    return {"cert": cert, "key": key}


def sasl_ssl(tls_files: dict[str, Path], **changes: Any) -> KafkaConnection:
    fields: dict[str, Any] = {
        "bootstrap_servers": "k1.example:9093,k2.example:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "newsstream",
        "sasl_password": SecretStr(SASL_SECRET),
        "ssl_cafile": tls_files["cert"],
        "ssl_certfile": tls_files["cert"],
        "ssl_keyfile": tls_files["key"],
        "ssl_key_password": SecretStr(KEY_SECRET),
    }
    return KafkaConnection(**(fields | changes))


# --- kwargs -----------------------------------------------------------------------------------


def test_plaintext_producer_kwargs_are_durable_and_idempotent() -> None:
    kwargs = KafkaConnection("127.0.0.1:9092").producer_kwargs()
    assert kwargs["bootstrap_servers"] == ["127.0.0.1:9092"]
    assert kwargs["acks"] == "all"
    assert kwargs["enable_idempotence"] is True
    assert 0 < kwargs["linger_ms"] <= 50
    assert kwargs["security_protocol"] == "PLAINTEXT"
    assert not {"sasl_mechanism", "sasl_plain_password", "ssl_context"} & kwargs.keys()


def test_consumer_kwargs_commit_explicitly_from_the_start() -> None:
    kwargs = KafkaConnection("a:1, b:2").consumer_kwargs("workers")
    assert kwargs["bootstrap_servers"] == ["a:1", "b:2"]
    assert kwargs["group_id"] == "workers"
    assert kwargs["enable_auto_commit"] is False
    assert kwargs["auto_offset_reset"] == "earliest"
    assert kwargs["isolation_level"] == "read_committed"
    assert KafkaConnection("a:1").consumer_kwargs(None)["group_id"] is None


def test_admin_kwargs() -> None:
    kwargs = KafkaConnection("a:1").admin_kwargs()
    assert kwargs["bootstrap_servers"] == ["a:1"]
    assert kwargs["security_protocol"] == "PLAINTEXT"
    assert "acks" not in kwargs
    assert "group_id" not in kwargs


def test_sasl_plaintext_passes_credentials_and_no_ssl_context() -> None:
    conn = KafkaConnection(
        "k:9092",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password=SecretStr(SASL_SECRET),
    )
    for kwargs in (conn.producer_kwargs(), conn.consumer_kwargs("g"), conn.admin_kwargs()):
        assert kwargs["security_protocol"] == "SASL_PLAINTEXT"
        assert kwargs["sasl_mechanism"] == "PLAIN"
        assert kwargs["sasl_plain_username"] == "u"
        assert kwargs["sasl_plain_password"] == SASL_SECRET
        assert "ssl_context" not in kwargs


def test_sasl_ssl_builds_the_context_from_the_configured_files(
    tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def spy(**kwargs: Any) -> ssl.SSLContext:
        calls.append(kwargs)
        context: ssl.SSLContext = create_ssl_context(**kwargs)
        return context

    monkeypatch.setattr("streams.kafka.client.create_ssl_context", spy)
    kwargs = sasl_ssl(tls_files).producer_kwargs()
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["ssl_context"].check_hostname is True
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_password"] == SASL_SECRET
    assert calls == [
        {
            "cafile": tls_files["cert"],
            "certfile": tls_files["cert"],
            "keyfile": tls_files["key"],
            "password": KEY_SECRET,
        }
    ]


def test_ssl_only_passes_a_context_and_no_sasl(tls_files: dict[str, Path]) -> None:
    conn = KafkaConnection("k:9093", security_protocol="SSL", ssl_cafile=tls_files["cert"])
    kwargs = conn.consumer_kwargs("g")
    assert kwargs["security_protocol"] == "SSL"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert "sasl_plain_password" not in kwargs


def test_wrong_key_password_fails_when_building_clients(tls_files: dict[str, Path]) -> None:
    conn = sasl_ssl(tls_files, ssl_key_password=SecretStr("wrong"))
    with pytest.raises(ssl.SSLError):
        conn.producer_kwargs()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"bootstrap_servers": ""}, "bootstrap_servers is empty"),
        ({"bootstrap_servers": "kafka"}, "not host:port"),
        ({"bootstrap_servers": "kafka:99999"}, "not host:port"),
        ({"security_protocol": "SASL_SSL"}, "needs sasl_mechanism, sasl_password, sasl_username"),
        ({"sasl_username": "u"}, "sasl_username set but security_protocol is PLAINTEXT"),
        ({"ssl_cafile": Path("/ca.pem")}, "ssl_cafile set but security_protocol is PLAINTEXT"),
        (
            {"security_protocol": "SSL", "ssl_keyfile": Path("/k.pem")},
            "ssl_keyfile needs ssl_certfile",
        ),
        ({"security_protocol": "SSL", "is_tansu": True}, "PLAINTEXT only"),
    ],
)
def test_contradictory_settings_fail_at_construction(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KafkaConnection(**({"bootstrap_servers": "k:9092"} | fields))


def test_a_plain_string_password_is_refused() -> None:
    with pytest.raises(TypeError, match="SecretStr"):
        KafkaConnection(
            "k:9092",
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_username="u",
            sasl_password=SASL_SECRET,  # type: ignore[arg-type]
        )


# --- from_settings / faust ----------------------------------------------------------------------


def test_from_settings_embedded_needs_the_started_brokers_address() -> None:
    settings = Settings(broker="embedded")
    for missing in (None, "embedded"):
        with pytest.raises(ValueError, match="embedded"):
            KafkaConnection.from_settings(settings, missing)
    conn = KafkaConnection.from_settings(settings, "127.0.0.1:40000")
    assert conn.is_tansu
    assert conn.servers == ["127.0.0.1:40000"]


def test_from_settings_external_broker_carries_security(tls_files: dict[str, Path]) -> None:
    settings = Settings(
        broker="k1:9093,k2:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="u",
        sasl_password=SecretStr(SASL_SECRET),
        ssl_cafile=tls_files["cert"],
    )
    conn = KafkaConnection.from_settings(settings)
    assert not conn.is_tansu
    assert conn.servers == ["k1:9093", "k2:9093"]
    assert conn.sasl_mechanism == "SCRAM-SHA-256"
    assert conn.sasl_password is not None
    assert conn.sasl_password.get_secret_value() == SASL_SECRET
    assert conn.ssl_cafile == tls_files["cert"]


def test_faust_settings_for_sasl_ssl(tls_files: dict[str, Path]) -> None:
    settings = faust_broker_settings(sasl_ssl(tls_files))
    assert settings.broker_url == "kafka://k1.example:9093;kafka://k2.example:9093"
    assert settings.security_protocol == "SASL_SSL"
    assert settings.sasl_mechanism == "SCRAM-SHA-512"
    assert settings.sasl_username == "newsstream"
    assert settings.sasl_password is not None
    assert settings.sasl_password.get_secret_value() == SASL_SECRET
    assert isinstance(settings.ssl_context, ssl.SSLContext)
    assert settings.is_tansu is False


def test_faust_settings_for_embedded_tansu() -> None:
    settings = faust_broker_settings(KafkaConnection("127.0.0.1:4000", is_tansu=True))
    assert settings.broker_url == "kafka://127.0.0.1:4000"
    assert settings.ssl_context is None
    assert settings.sasl_password is None
    assert settings.is_tansu is True


# --- secrets ------------------------------------------------------------------------------------


def test_secrets_are_not_in_repr_or_str(tls_files: dict[str, Path]) -> None:
    conn = sasl_ssl(tls_files)
    faust_settings = faust_broker_settings(conn)
    for text in (repr(conn), str(conn), repr(faust_settings), str(faust_settings)):
        assert SASL_SECRET not in text
        assert KEY_SECRET not in text
        assert "**********" in text
    assert "sasl_username='newsstream'" in repr(conn)
    assert isinstance(faust_settings, FaustBrokerSettings)


async def test_secrets_are_not_logged(
    tls_files: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    conn = sasl_ssl(tls_files)
    logging.getLogger("test").info("connection: %s", conn)
    producer = new_producer(conn)
    consumer = new_consumer(conn, "t", group_id="g")
    try:
        faust_broker_settings(conn)
    finally:
        await producer.stop()
        await consumer.stop()
    assert "connection: KafkaConnection(" in caplog.text
    assert SASL_SECRET not in caplog.text
    assert KEY_SECRET not in caplog.text


# --- factories ----------------------------------------------------------------------------------


async def test_new_producer_marks_only_tansu_clients() -> None:
    plain = new_producer(KafkaConnection("127.0.0.1:1"), linger_ms=50)
    tansu = new_producer(KafkaConnection("127.0.0.1:1", is_tansu=True))
    try:
        assert isinstance(plain, AIOKafkaProducer)
        assert plain._message_accumulator._linger_time == 0.05
        assert plain._txn_manager is not None  # idempotence on
        assert not getattr(plain.client, compat._TANSU_MARK, False)
        assert getattr(tansu.client, compat._TANSU_MARK, False) is True
    finally:
        await plain.stop()
        await tansu.stop()


async def test_new_consumer_subscribes_and_marks_only_tansu_clients() -> None:
    plain = new_consumer(KafkaConnection("127.0.0.1:1"), "a", "b", group_id="g")
    tansu = new_consumer(KafkaConnection("127.0.0.1:1", is_tansu=True), group_id=None)
    try:
        assert isinstance(plain, AIOKafkaConsumer)
        assert plain.subscription() == {"a", "b"}
        assert plain._group_id == "g"
        assert plain._enable_auto_commit is False
        assert not getattr(plain._client, compat._TANSU_MARK, False)
        assert getattr(tansu._client, compat._TANSU_MARK, False) is True
    finally:
        await plain.stop()
        await tansu.stop()


# --- compat: InitProducerId wire format ----------------------------------------------------------


def test_init_producer_id_v3_is_sent_where_the_broker_advertises_it() -> None:
    request = compat.NegotiatingInitProducerIdRequest(None, 60_000).prepare({22: (0, 5)})
    assert isinstance(request, compat.InitProducerIdRequest_v3)
    # compact null string, timeout, producer id -1, epoch -1, no tagged fields
    assert request.encode() == (
        b"\x00" + (60_000).to_bytes(4, "big") + b"\xff" * 8 + b"\xff\xff" + b"\x00"
    )
    header = request.build_request_header(correlation_id=7, client_id="c")
    assert isinstance(header, RequestHeader_v2)

    transactional = compat.NegotiatingInitProducerIdRequest("tx", 1).prepare({22: (0, 4)})
    assert transactional.encode().startswith(b"\x03tx")


def test_init_producer_id_falls_back_to_v0_on_old_brokers() -> None:
    request = compat.NegotiatingInitProducerIdRequest(None, 60_000).prepare({22: (0, 2)})
    assert isinstance(request, InitProducerIdRequest_v0)


def test_init_producer_id_v3_response_decodes() -> None:
    payload = (
        (0).to_bytes(4, "big")  # throttle
        + (0).to_bytes(2, "big")  # error
        + (42).to_bytes(8, "big")
        + (3).to_bytes(2, "big")
        + b"\x00"  # tagged fields
    )
    response = compat.InitProducerIdResponse_v3.decode(payload)
    assert (response.error_code, response.producer_id, response.producer_epoch) == (0, 42, 3)


def test_process_wide_switch_is_idempotent_and_reversible() -> None:
    was = compat.tansu_compat_applied()
    try:
        compat.apply_tansu_compat()
        compat.apply_tansu_compat()
        assert compat.tansu_compat_applied()
        compat.remove_tansu_compat()
        assert not compat.tansu_compat_applied()
    finally:
        if was:
            compat.apply_tansu_compat()


def test_from_settings_can_mark_an_external_tansu() -> None:
    settings = Settings(broker="127.0.0.1:40000")
    assert KafkaConnection.from_settings(settings, is_tansu=True).is_tansu
    assert not KafkaConnection.from_settings(settings).is_tansu


# --- compat: confirming end offsets (against a scripted broker) ----------------------------------


class _FetchAnswer:
    def __init__(self, partitions: list[tuple[Any, ...]]) -> None:
        self.API_VERSION = 11
        self.error_code = 0
        self.topics = [("t", partitions)] if partitions else []


class _ScriptedClient:
    def __init__(self, *answers: _FetchAnswer) -> None:
        self.answers = list(answers)
        self.waits: list[int] = []

    async def send(self, node_id: int, request: Any) -> _FetchAnswer:
        self.waits.append(request._max_wait_ms)
        return self.answers.pop(0)


def _partition(hwm: int, lso: int, error: int = 0) -> tuple[Any, ...]:
    # v11 layout: partition, error, high watermark, LSO, log start, aborted, replica, records
    return (0, error, hwm, lso, 0, [], -1, b"")


TP0 = TopicPartition("t", 0)


async def test_confirm_retries_with_longer_waits_while_partitions_are_missing() -> None:
    client = _ScriptedClient(_FetchAnswer([]), _FetchAnswer([_partition(15, 15)]))
    assert await compat.confirm_end_offsets(client, 1, {TP0: 11}, 0) == {TP0: 15}
    assert client.waits[0] > 0  # Tansu answers max_wait 0 with no partitions
    assert client.waits[1] > client.waits[0]


async def test_confirm_uses_the_last_stable_offset_for_read_committed() -> None:
    committed = _ScriptedClient(_FetchAnswer([_partition(15, 12)]))
    assert await compat.confirm_end_offsets(committed, 1, {TP0: 11}, 1) == {TP0: 12}
    uncommitted = _ScriptedClient(_FetchAnswer([_partition(15, 12)]))
    assert await compat.confirm_end_offsets(uncommitted, 1, {TP0: 11}, 0) == {TP0: 15}


async def test_confirm_never_goes_below_the_reported_offset() -> None:
    client = _ScriptedClient(_FetchAnswer([_partition(5, 5)]))
    assert await compat.confirm_end_offsets(client, 1, {TP0: 7}, 0) == {TP0: 7}


async def test_confirm_raises_partition_errors_and_persistent_gaps() -> None:
    client = _ScriptedClient(_FetchAnswer([_partition(0, 0, error=6)]))
    with pytest.raises(NotLeaderForPartitionError):
        await compat.confirm_end_offsets(client, 1, {TP0: 3}, 0)
    silent = _ScriptedClient(*[_FetchAnswer([]) for _ in range(10)])
    with pytest.raises(compat.EndOffsetNotConfirmedError) as caught:
        await compat.confirm_end_offsets(silent, 1, {TP0: 3}, 0)
    assert caught.value.retriable
