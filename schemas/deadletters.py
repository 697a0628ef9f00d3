"""The dead letter of a Kafka record that could not be processed.

Every consumer that gives up on a record (the worker's agents, the sink runner) builds its
``DeadLetter`` here, so they agree on the event id, the origin and the payload limit.
"""

from __future__ import annotations

import base64

from schemas.events import DeadLetter, DeadLetterStage, TopicOrigin, utc_now
from schemas.ids import event_id


def record_deadletter(
    *,
    stage: DeadLetterStage,
    reason: str,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    max_payload_bytes: int,
    consumer: str | None = None,
) -> DeadLetter:
    """The dead letter of the record at ``topic[partition]@offset``.

    Its first ``max_payload_bytes`` bytes travel in ``payload_b64`` (``payload_truncated`` says
    whether that was all); the key is kept as text. The event id is derived from the stage,
    ``consumer`` (set where several consumers may dead-letter the same record, e.g. one per
    sink) and the record's position, so dead-lettering a redelivered record again gives the
    same id.
    """
    payload = value or b""
    return DeadLetter(
        event_id=event_id(
            stage.value if consumer is None else f"{stage.value}:{consumer}",
            topic,
            partition,
            offset,
        ),
        stage=stage,
        reason=reason,
        detail=detail,
        origin=TopicOrigin(
            topic=topic,
            partition=partition,
            offset=offset,
            key=key.decode("utf-8", "replace") if key is not None else None,
        ),
        payload_b64=base64.b64encode(payload[:max_payload_bytes]).decode("ascii"),
        payload_truncated=len(payload) > max_payload_bytes,
        occurred_at=utc_now(),
    )
