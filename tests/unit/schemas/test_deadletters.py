"""``schemas.deadletters`` and ``schemas.ids``: one dead letter and one event id for a record."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from schemas import DeadLetter, DeadLetterStage, TopicOrigin, decode, encode
from schemas.deadletters import record_deadletter
from schemas.ids import event_id


@dataclass(frozen=True)
class Record:
    topic: str = "news.articles.raw"
    partition: int = 2
    offset: int = 7
    key: bytes | None = b"a1"
    value: bytes | None = b"{oops"


def _decode_letter(record: Record, limit: int = 8, consumer: str | None = None) -> DeadLetter:
    return record_deadletter(
        record,
        DeadLetterStage.DECODE,
        "invalid-json",
        "not JSON",
        max_payload_bytes=limit,
        consumer=consumer,
    )


def test_an_event_id_is_the_sha256_of_the_parts_joined_by_nul() -> None:
    expected = hashlib.sha256(b"decode\0news.articles.raw\x002\x007").hexdigest()[:32]
    assert event_id("decode", "news.articles.raw", 2, 7) == expected


def test_the_dead_letter_carries_the_record_s_origin_and_bytes() -> None:
    letter = _decode_letter(Record())

    assert letter.stage is DeadLetterStage.DECODE
    assert (letter.reason, letter.detail) == ("invalid-json", "not JSON")
    assert letter.origin == TopicOrigin(topic="news.articles.raw", partition=2, offset=7, key="a1")
    assert base64.b64decode(letter.payload_b64 or "") == b"{oops"
    assert not letter.payload_truncated
    assert decode(encode(letter), DeadLetter) == letter


def test_the_payload_is_cut_at_the_limit() -> None:
    letter = _decode_letter(Record(value=b"0123456789"), limit=8)

    assert base64.b64decode(letter.payload_b64 or "") == b"01234567"
    assert letter.payload_truncated


def test_a_record_without_value_or_key_has_an_empty_payload() -> None:
    letter = _decode_letter(Record(key=None, value=None))

    assert letter.origin == TopicOrigin(topic="news.articles.raw", partition=2, offset=7)
    assert letter.payload_b64 == ""
    assert not letter.payload_truncated


def test_the_id_depends_on_stage_consumer_and_position_only() -> None:
    first = _decode_letter(Record())
    again = _decode_letter(Record(value=b"another value"))
    by_sink = _decode_letter(Record(), consumer="jsonl")
    enrich = record_deadletter(Record(), DeadLetterStage.ENRICH, "r", "", max_payload_bytes=8)

    assert first.event_id == again.event_id == event_id("decode", "news.articles.raw", 2, 7)
    assert by_sink.event_id == event_id("decode:jsonl", "news.articles.raw", 2, 7)
    assert enrich.event_id == event_id("enrich", "news.articles.raw", 2, 7)
