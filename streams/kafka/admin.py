"""Topic creation and broker readiness, for startup code and tests."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka.admin import (  # type: ignore[import-untyped, unused-ignore]
    AIOKafkaAdminClient,
    NewTopic,
)
from aiokafka.errors import KafkaError  # type: ignore[import-untyped, unused-ignore]

from streams.kafka.client import KafkaConnection

__all__ = [
    "BrokerUnavailableError",
    "TopicCreationError",
    "TopicSpec",
    "ensure_topics",
    "wait_for_broker",
]

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS: Final = 36
#: Kafka's rule for topic names (Tansu accepts more; checking here keeps tests honest).
_LEGAL_TOPIC: Final = re.compile(r"[a-zA-Z0-9._-]{1,249}")
_BACKOFF_FIRST_S: Final = 0.1
_BACKOFF_MAX_S: Final = 2.0


class BrokerUnavailableError(RuntimeError):
    """No broker answered within the allowed time."""


class TopicCreationError(RuntimeError):
    """The broker refused to create some topics, or they did not become usable in time."""


@dataclass(frozen=True)
class TopicSpec:
    """How a topic is created. ``configs`` are Kafka topic configs, e.g. ``cleanup.policy``.

    On the embedded Tansu, configs are stored but compaction/retention are never applied.
    """

    partitions: int = 1
    replication_factor: int = 1
    configs: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {self.partitions}")
        if self.replication_factor < 1:
            raise ValueError(f"replication_factor must be >= 1, got {self.replication_factor}")
        for key, value in self.configs.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"topic config {key!r}={value!r}: keys and values are strings")


async def ensure_topics(
    conn: KafkaConnection,
    topics: Mapping[str, TopicSpec],
    *,
    # A parameter rather than the caller's asyncio.timeout: expiry becomes a clear error.
    timeout: float = 30.0,  # noqa: ASYNC109
) -> list[str]:
    """Create the topics that do not exist yet; return the names this call created.

    Called at startup (and by tests) before producing. Idempotent: a topic that already exists
    (error 36) is left as it is, with a warning if its partition count differs from the spec.
    Returns once every topic has a leader for each partition, so producers can send at once.
    Raises :class:`TopicCreationError` for any other refusal or if topics are not usable within
    ``timeout`` seconds, and ``ValueError`` for names Kafka would reject.
    """
    bad = [name for name in topics if not _LEGAL_TOPIC.fullmatch(name)]
    if bad:
        raise ValueError(f"illegal Kafka topic names: {bad}")
    if not topics:
        return []
    admin = AIOKafkaAdminClient(**conn.admin_kwargs())
    try:
        async with asyncio.timeout(timeout):
            await admin.start()
            response = await admin.create_topics(
                [
                    NewTopic(
                        name,
                        spec.partitions,
                        spec.replication_factor,
                        topic_configs=dict(spec.configs),
                    )
                    for name, spec in topics.items()
                ]
            )
            created, existing, failures = _creation_outcome(response.topic_errors)
            if failures:
                raise TopicCreationError("cannot create topics: " + "; ".join(failures))
            await _wait_usable(admin, topics, existing)
    except TimeoutError as exc:
        raise TopicCreationError(
            f"topics {sorted(topics)} not usable at {conn.bootstrap_servers} within {timeout:g} s"
        ) from exc
    finally:
        await admin.close()
    if created:
        log.info("created topics %s", ", ".join(sorted(created)))
    return created


def _creation_outcome(
    topic_errors: list[tuple[Any, ...]],
) -> tuple[list[str], set[str], list[str]]:
    created: list[str] = []
    existing: set[str] = set()
    failures: list[str] = []
    # v0 answers (topic, code); v1+ add a message.
    for name, code, *rest in topic_errors:
        if code == 0:
            created.append(name)
        elif code == _TOPIC_ALREADY_EXISTS:
            existing.add(name)
        else:
            message = rest[0] if rest and rest[0] else ""
            failures.append(f"{name}: error {code} {message}".rstrip())
    return created, existing, failures


async def _wait_usable(admin: Any, topics: Mapping[str, TopicSpec], existing: set[str]) -> None:
    delay = _BACKOFF_FIRST_S
    warned: set[str] = set()
    while True:
        described = await admin.describe_topics(list(topics))
        usable = 0
        for entry in described:
            name = entry["topic"]
            partitions = entry["partitions"]
            if entry["error_code"] != 0 or not partitions:
                continue
            if all(p["leader"] >= 0 for p in partitions):
                usable += 1
            wanted = topics[name].partitions
            if name in existing and len(partitions) != wanted and name not in warned:
                warned.add(name)
                log.warning(
                    "topic %s exists with %d partitions, not the %d configured",
                    name,
                    len(partitions),
                    wanted,
                )
        if usable == len(topics):
            return
        await asyncio.sleep(delay)
        delay = min(delay * 2, _BACKOFF_MAX_S)


async def wait_for_broker(
    conn: KafkaConnection,
    # A parameter rather than the caller's asyncio.timeout: it bounds the retries and expiry
    # becomes an error naming the address, the attempts and the last failure.
    timeout: float = 30.0,  # noqa: ASYNC109
) -> None:
    """Return once a broker at ``conn`` answers a metadata request.

    Called by processes at startup (a broker started alongside may still be coming up). Retries
    with exponential backoff (0.1 s doubling to 2 s) and raises
    :class:`BrokerUnavailableError` naming the address, attempts and last error after
    ``timeout`` seconds. While it waits, aiokafka's own log records (an ERROR per failed
    connection) are held back unless the ``aiokafka`` logger is at DEBUG: the failures are
    expected, and the last one is in the error.
    """
    with _quiet_client_logs():
        await _wait_for_broker(conn, timeout)


@contextlib.contextmanager
def _quiet_client_logs() -> Iterator[None]:
    logger = logging.getLogger("aiokafka")
    if logger.getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)


async def _wait_for_broker(conn: KafkaConnection, timeout: float) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    delay = _BACKOFF_FIRST_S
    attempts = 0
    last_error: BaseException | None = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrokerUnavailableError(
                f"no Kafka broker answered at {conn.bootstrap_servers} within {timeout:g} s "
                f"({attempts} attempts; last error: {_describe(last_error)})"
            )
        attempts += 1
        admin = AIOKafkaAdminClient(**conn.admin_kwargs())
        try:
            async with asyncio.timeout(remaining):
                await admin.start()
                await admin.describe_cluster()
        except (KafkaError, OSError, TimeoutError) as exc:
            last_error = exc
        else:
            log.debug("broker at %s answered after %d attempts", conn.bootstrap_servers, attempts)
            return
        finally:
            await admin.close()
        await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, _BACKOFF_MAX_S)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "none"
    text = str(error).strip()
    name = type(error).__name__
    if not text:
        return name
    # "Unable to bootstrap from [('host', port, <AddressFamily...>)]": the address is known.
    text = text.split(" from [", 1)[0] if "Unable to bootstrap" in text else text
    # aiokafka's messages often start with the class name already.
    return text if text.startswith(name) else f"{name}: {text}"
