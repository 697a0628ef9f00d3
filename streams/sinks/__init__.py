"""Sinks: durable, idempotent stores of enriched articles behind one contract (``Sink``).

``JsonlSink`` appends to a JSON Lines log; ``SqliteSink`` keeps one queryable row per article.
Neither imports faust or aiokafka; the consumer loop that feeds them lives in ``streams.app``.
"""

from streams.sinks.base import (
    Sink,
    SinkCorruptError,
    SinkError,
    SinkStateError,
    WriteResult,
)
from streams.sinks.jsonl import JsonlSink
from streams.sinks.sqlite import SqliteSink

__all__ = [
    "JsonlSink",
    "Sink",
    "SinkCorruptError",
    "SinkError",
    "SinkStateError",
    "SqliteSink",
    "WriteResult",
]
