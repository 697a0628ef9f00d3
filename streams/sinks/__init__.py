"""Sinks: durable, idempotent stores of enriched articles behind one contract (``Sink``).

``JsonlSink`` appends to a JSON Lines log; ``SqliteSink`` keeps one queryable row per article;
``streams.sinks.postgres.PostgresSink`` (imported only when used: it needs psycopg) adds a
Dutch full-text index.
No sink imports faust or aiokafka; the loop that feeds them (``streams.sinks.runner``) reads
and commits through a feed the Kafka layer hands in (``streams.kafka.feed``).
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
