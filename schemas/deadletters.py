"""The dead letter of a Kafka record that could not be processed.

Every consumer that gives up on a record (the worker's agents, the sink runner) builds its
``DeadLetter`` here, so they agree on the event id, the origin and the payload limit.
"""

from __future__ import annotations

import base64
from typing import Protocol

from schemas.events import DeadLetter, DeadLetterStage, TopicOrigin, utc_now
from schemas.ids import event_id


class Record(Protocol):
    """A consumed Kafka record, as any client gives it (aiokafka's ``ConsumerRecord``,
    Faust's message, ``streams.processing.batch.RawRecord``)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


def record_deadletter(
    record: Record,
    stage: DeadLetterStage,
    reason: str,
    detail: str,
    *,
    max_payload_bytes: int,
    consumer: str | None = None,
) -> DeadLetter:
    """The dead letter of ``record``.

    Its first ``max_payload_bytes`` bytes travel in ``payload_b64`` (``payload_truncated`` says
    whether that was all); the key is kept as text. The event id is derived from the stage,
    ``consumer`` (set where several consumers may dead-letter the same record, e.g. one per
    sink) and the record's position, so dead-lettering a redelivered record again gives the
    same id.
    """
    payload = record.value or b""
    key = record.key
    scope = stage.value if consumer is None else f"{stage.value}:{consumer}"
    return DeadLetter(
        event_id=event_id(scope, record.topic, record.partition, record.offset),
        stage=stage,
        reason=reason,
        detail=detail,
        origin=TopicOrigin(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=key.decode("utf-8", "replace") if key is not None else None,
        ),
        payload_b64=base64.b64encode(payload[:max_payload_bytes]).decode("ascii"),
        payload_truncated=len(payload) > max_payload_bytes,
        occurred_at=utc_now(),
    )
