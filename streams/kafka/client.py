"""How every newsstream process connects to Kafka (or the embedded Tansu).

:class:`KafkaConnection` holds the connection settings and turns them into keyword arguments for
aiokafka's producer, consumer and admin client; :func:`new_producer` / :func:`new_consumer`
build those clients with the Tansu workarounds (:mod:`streams.kafka.compat`) when the broker is
the embedded Tansu. :func:`faust_broker_settings` gives the Faust app the same settings as plain
data (faust may only be imported inside ``streams.app``).

Secrets (SASL password, SSL key password) stay in :class:`pydantic.SecretStr` everywhere except
in the keyword dictionaries handed to aiokafka, which must therefore never be logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

from aiokafka import (  # type: ignore[import-untyped, unused-ignore]
    AIOKafkaConsumer,
    AIOKafkaProducer,
)
from aiokafka.helpers import create_ssl_context  # type: ignore[import-untyped, unused-ignore]
from pydantic import SecretStr

from streams.kafka.compat import adapt_consumer, adapt_producer

if TYPE_CHECKING:
    from streams.config import Settings

__all__ = [
    "FaustBrokerSettings",
    "KafkaConnection",
    "SaslMechanism",
    "SecurityProtocol",
    "faust_broker_settings",
    "new_consumer",
    "new_producer",
    "started_producer",
]

log = logging.getLogger(__name__)

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

_SASL_PROTOCOLS: Final = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
_SSL_PROTOCOLS: Final = frozenset({"SSL", "SASL_SSL"})

#: The settings a connection takes from the CLI's settings under the same name: how to
#: authenticate (the address comes from ``broker``). The CLI's Kafka flags include them.
SECURITY_SETTINGS: Final = (
    "security_protocol",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "ssl_cafile",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_key_password",
)

#: Producer batching delay: the watcher publishes one file's events at a time, so a few
#: milliseconds group a file's events without adding noticeable latency.
PRODUCER_LINGER_MS: Final = 5
#: Upper bound of one request round trip (aiokafka's default is 40 s).
REQUEST_TIMEOUT_MS: Final = 30_000


def _masked(secret: SecretStr | None) -> str:
    return "None" if secret is None else "'**********'"


@dataclass(frozen=True, repr=False)
class KafkaConnection:
    """Where the brokers are and how to authenticate; immutable and safe to log via ``repr``.

    Built once per process (by the CLI, from ``Settings`` via :meth:`from_settings`) and passed
    to whatever needs Kafka. Construction validates the combination of protocol, SASL and SSL
    settings and raises ``ValueError`` on contradictions, so a bad configuration fails at start
    rather than at the first connection.
    """

    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_key_password: SecretStr | None = None
    is_tansu: bool = False
    client_id: str = "newsstream"

    def __post_init__(self) -> None:
        # Every problem is collected so one start shows all of them.
        problems: list[str] = []
        if not self.servers:
            problems.append("bootstrap_servers is empty")
        for server in self.servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                problems.append(f"bootstrap server {server!r} is not host:port")
        if self.security_protocol not in get_args(SecurityProtocol):
            problems.append(f"unknown security_protocol {self.security_protocol!r}")
        for name in ("sasl_password", "ssl_key_password"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, SecretStr):
                # A plain str would print in repr and tracebacks.
                raise TypeError(f"{name} must be a pydantic SecretStr, not {type(value).__name__}")
        sasl_given = [
            name
            for name in ("sasl_mechanism", "sasl_username", "sasl_password")
            if getattr(self, name) is not None
        ]
        if self.security_protocol in _SASL_PROTOCOLS:
            missing = {"sasl_mechanism", "sasl_username", "sasl_password"} - set(sasl_given)
            if missing:
                problems.append(f"{self.security_protocol} needs {', '.join(sorted(missing))}")
            if self.sasl_mechanism is not None and self.sasl_mechanism not in get_args(
                SaslMechanism
            ):
                problems.append(f"unknown sasl_mechanism {self.sasl_mechanism!r}")
        elif sasl_given:
            problems.append(
                f"{', '.join(sasl_given)} set but security_protocol is {self.security_protocol}"
            )
        ssl_given = [
            name
            for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_key_password")
            if getattr(self, name) is not None
        ]
        if self.security_protocol not in _SSL_PROTOCOLS and ssl_given:
            problems.append(
                f"{', '.join(ssl_given)} set but security_protocol is {self.security_protocol}"
            )
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            problems.append("ssl_keyfile needs ssl_certfile")
        if self.ssl_key_password is not None and self.ssl_certfile is None:
            problems.append("ssl_key_password needs ssl_certfile")
        if self.is_tansu and self.security_protocol != "PLAINTEXT":
            problems.append("the embedded Tansu broker speaks PLAINTEXT only")
        if problems:
            raise ValueError("Kafka connection: " + "; ".join(problems))

    @classmethod
    def from_settings(
        cls, settings: Settings, bootstrap: str | None = None, *, is_tansu: bool | None = None
    ) -> KafkaConnection:
        """Build the connection from the CLI's settings.

        With ``settings.broker == "embedded"`` the caller has started the embedded broker and
        passes its ``bootstrap``. Otherwise ``bootstrap`` (if given) overrides
        ``settings.broker``. ``is_tansu`` defaults to ``settings.broker_is_tansu`` where
        Settings defines it (an external address that is a Tansu started by another newsstream
        process), else to ``settings.embedded``.
        """
        if settings.embedded:
            if bootstrap is None or bootstrap == settings.broker:
                raise ValueError(
                    "broker is 'embedded': start the embedded broker and pass its bootstrap"
                )
            servers = bootstrap
        else:
            servers = bootstrap or settings.broker
        if is_tansu is None:
            is_tansu = bool(getattr(settings, "broker_is_tansu", settings.embedded))
        security = {name: getattr(settings, name) for name in SECURITY_SETTINGS}
        return cls(bootstrap_servers=servers, is_tansu=is_tansu, **security)

    def __repr__(self) -> str:
        return (
            f"KafkaConnection(bootstrap_servers={self.bootstrap_servers!r}, "
            f"security_protocol={self.security_protocol!r}, "
            f"sasl_mechanism={self.sasl_mechanism!r}, sasl_username={self.sasl_username!r}, "
            f"sasl_password={_masked(self.sasl_password)}, "
            f"ssl_cafile={self.ssl_cafile!r}, ssl_certfile={self.ssl_certfile!r}, "
            f"ssl_keyfile={self.ssl_keyfile!r}, "
            f"ssl_key_password={_masked(self.ssl_key_password)}, "
            f"is_tansu={self.is_tansu!r}, client_id={self.client_id!r})"
        )

    @property
    def servers(self) -> list[str]:
        """The bootstrap servers as a list of ``host:port``."""
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    def ssl_context(self) -> ssl.SSLContext | None:
        """A fresh SSL context for SSL/SASL_SSL (hostname checking on), else ``None``.

        Raises ``OSError``/``ssl.SSLError`` if a file is missing, unreadable, or the key
        password is wrong: called while building clients, so this fails at start.
        """
        if self.security_protocol not in _SSL_PROTOCOLS:
            return None
        context: ssl.SSLContext = create_ssl_context(
            cafile=self.ssl_cafile,
            certfile=self.ssl_certfile,
            keyfile=self.ssl_keyfile,
            password=(
                None if self.ssl_key_password is None else self.ssl_key_password.get_secret_value()
            ),
        )
        return context

    def _security_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol in _SASL_PROTOCOLS:
            assert self.sasl_password is not None  # checked in __post_init__
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password.get_secret_value()
        if self.security_protocol in _SSL_PROTOCOLS:
            kwargs["ssl_context"] = self.ssl_context()
        return kwargs

    def producer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaProducer``: durable, idempotent, lightly batched.

        ``acks="all"`` + ``enable_idempotence=True``: a send is acknowledged only once every
        in-sync replica has it, and retries never duplicate or reorder a partition's records.
        Contains the secrets in clear: never log it.
        """
        return {
            "bootstrap_servers": self.servers,
            "client_id": self.client_id,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": PRODUCER_LINGER_MS,
            "request_timeout_ms": REQUEST_TIMEOUT_MS,
            **self._security_kwargs(),
        }

    def consumer_kwargs(self, group_id: str | None) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaConsumer`` that commits explicitly.

        No auto-commit (the caller commits after its effects are durable: at-least-once), a
        group without committed offsets starts at the beginning, and ``read_committed`` hides
        records of aborted transactions on Kafka. ``group_id=None`` for ``assign()``-only
        consumers. Contains the secrets in clear: never log it.
        """
        return {
            "bootstrap_servers": self.servers,
            "client_id": self.client_id,
            "group_id": group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "isolation_level": "read_committed",
            "request_timeout_ms": REQUEST_TIMEOUT_MS,
            **self._security_kwargs(),
        }

    def admin_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaAdminClient``. Contains secrets: never log it."""
        return {
            "bootstrap_servers": self.servers,
            "client_id": self.client_id,
            "request_timeout_ms": REQUEST_TIMEOUT_MS,
            **self._security_kwargs(),
        }


def new_producer(conn: KafkaConnection, **overrides: Any) -> AIOKafkaProducer:
    """An unstarted ``AIOKafkaProducer`` for ``conn``; ``overrides`` replace defaults.

    Call from inside the running event loop (aiokafka binds to it); the caller ``start()``s and
    always ``stop()``s it. For Tansu it carries the compat (idempotent producers work there).
    """
    producer = AIOKafkaProducer(**(conn.producer_kwargs() | overrides))
    if conn.is_tansu:
        adapt_producer(producer)
    log.debug("producer for %s (tansu: %s)", conn.bootstrap_servers, conn.is_tansu)
    return producer


@contextlib.asynccontextmanager
async def started_producer(conn: KafkaConnection) -> AsyncIterator[AIOKafkaProducer]:
    """A started producer (:func:`new_producer`), always stopped on exit."""
    producer = new_producer(conn)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


def new_consumer(
    conn: KafkaConnection, *topics: str, group_id: str | None, **overrides: Any
) -> AIOKafkaConsumer:
    """An unstarted ``AIOKafkaConsumer`` subscribed to ``topics`` (none: use ``assign()``).

    Call from inside the running event loop; the caller ``start()``s and always ``stop()``s it.
    For Tansu its ``end_offsets()``/``seek_to_end()`` report the true log end.
    """
    consumer = AIOKafkaConsumer(*topics, **(conn.consumer_kwargs(group_id) | overrides))
    if conn.is_tansu:
        adapt_consumer(consumer)
    log.debug(
        "consumer for %s group %s topics %s (tansu: %s)",
        conn.bootstrap_servers,
        group_id,
        topics,
        conn.is_tansu,
    )
    return consumer


@dataclass(frozen=True, repr=False, eq=False)
class FaustBrokerSettings:
    """What the Faust app needs to reach the brokers, as plain data (no faust import here).

    The app package turns it into Faust settings: ``broker_url`` and the credentials of
    :func:`streams.app.transport.credentials` (SASL and/or SSL, or None for PLAINTEXT); if
    ``is_tansu``, :func:`streams.kafka.compat.apply_tansu_compat` runs before the app starts.
    """

    broker_url: str
    security_protocol: SecurityProtocol
    sasl_mechanism: SaslMechanism | None
    sasl_username: str | None
    sasl_password: SecretStr | None
    ssl_context: ssl.SSLContext | None
    is_tansu: bool

    def __repr__(self) -> str:
        return (
            f"FaustBrokerSettings(broker_url={self.broker_url!r}, "
            f"security_protocol={self.security_protocol!r}, "
            f"sasl_mechanism={self.sasl_mechanism!r}, sasl_username={self.sasl_username!r}, "
            f"sasl_password={_masked(self.sasl_password)}, "
            f"ssl_context={'set' if self.ssl_context is not None else None}, "
            f"is_tansu={self.is_tansu!r})"
        )


def faust_broker_settings(conn: KafkaConnection) -> FaustBrokerSettings:
    """Faust's view of ``conn``: ``kafka://h1:p1;h2:p2`` plus credentials as plain data.

    Called by the app package when it builds the Faust app; builds the SSL context (so missing
    certificate files fail here, at start).
    """
    return FaustBrokerSettings(
        broker_url=";".join(f"kafka://{server}" for server in conn.servers),
        security_protocol=conn.security_protocol,
        sasl_mechanism=conn.sasl_mechanism,
        sasl_username=conn.sasl_username,
        sasl_password=conn.sasl_password,
        ssl_context=conn.ssl_context(),
        is_tansu=conn.is_tansu,
    )


async def stopped_despite_fetcher(stopping: Awaitable[None]) -> None:
    """Await a consumer's stop, also when the broker is gone.

    aiokafka 0.14 ``Fetcher.close()`` cancels its pending fetch tasks and awaits them without
    catching: a fetch in its retry back-off (broker unreachable) re-raises that
    ``CancelledError`` out of ``stop()``. Left alone it ends a sink with a traceback and
    status 1, and keeps Faust's consumer thread from ever reporting its shutdown (SIGTERM then
    waits for mode's 60 s timeout). That leftover is swallowed here; a cancellation of the
    calling task itself still propagates.
    """
    try:
        await stopping
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("the Kafka consumer stopped without a broker (fetches were retrying)")


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop ``consumer`` (see :func:`stopped_despite_fetcher`); every consumer stops this way."""
    await stopped_despite_fetcher(consumer.stop())
