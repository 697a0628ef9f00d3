"""The one place events become bytes and bytes become events (JSON via orjson).

Values are plain UTF-8 JSON objects so any Kafka client can read them; no pickle anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from schemas.events import (
    READABLE_SCHEMA_VERSIONS,
    ArticleEnriched,
    ArticleIngested,
    DeadLetter,
    EntityMentioned,
    EntityTrending,
    Event,
    QuoteSaid,
    StoryUpdated,
)

EVENT_TYPES: Final[Mapping[str, type[Event]]] = {
    cls.__name__: cls
    for cls in (
        ArticleIngested,
        ArticleEnriched,
        EntityMentioned,
        QuoteSaid,
        EntityTrending,
        StoryUpdated,
        DeadLetter,
    )
}

E = TypeVar("E", bound=Event)


class DecodeError(ValueError):
    """Bytes that are not a valid event of the expected type; ``reason`` is machine-readable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def encode(event: BaseModel) -> bytes:
    """Serialise an event to compact UTF-8 JSON (datetimes as RFC 3339 with offset)."""
    return orjson.dumps(event.model_dump(mode="python"))


def decode(data: bytes | bytearray | memoryview | str, expected: type[E]) -> E:
    """Parse bytes into an event of type ``expected``.

    Raises DecodeError with reason 'invalid-json', 'not-an-object', 'wrong-event-type',
    'unsupported-schema-version' or 'invalid-event'.
    """
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("invalid-json", str(exc)) from None
    return from_mapping(raw, expected)


def from_mapping(raw: Any, expected: type[E]) -> E:
    """Validate an already-parsed JSON value as an event of type ``expected``."""
    if not isinstance(raw, dict):
        raise DecodeError("not-an-object", f"expected a JSON object, got {type(raw).__name__}")
    event_type = raw.get("event_type")
    if event_type is not None and event_type != expected.__name__:
        raise DecodeError("wrong-event-type", f"expected {expected.__name__}, got {event_type!r}")
    version = raw.get("schema_version")
    if version is not None and version not in READABLE_SCHEMA_VERSIONS:
        readable = ", ".join(map(str, READABLE_SCHEMA_VERSIONS))
        raise DecodeError(
            "unsupported-schema-version", f"schema_version {version!r} is not one of {readable}"
        )
    try:
        return expected.model_validate(raw)
    except ValidationError as exc:
        raise DecodeError("invalid-event", _summarise(exc)) from None


def _summarise(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "<root>"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema (draft 2020-12) of every event type, keyed by event type name."""
    schemas: dict[str, dict[str, Any]] = {}
    for name, cls in EVENT_TYPES.items():
        schema = TypeAdapter(cls).json_schema(mode="serialization")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://newsstream.dev/schemas/v1/{name}.json"
        schemas[name] = schema
    return schemas


def dumps_schema(schema: Mapping[str, Any]) -> str:
    """Pretty, stable text of a schema, for files people read and diff."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
