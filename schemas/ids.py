"""Deterministic event ids: the same parts always give the same id.

Every producer of an event derives its ``event_id`` from what identifies the event (its origin,
the enrichers' versions, a window and its figures, ...), so a redelivered or replayed event
keeps its id and sinks can upsert on it.
"""

from __future__ import annotations

import hashlib


def event_id(*parts: object) -> str:
    """32 hex characters of SHA-256 over ``parts`` (as text) joined by NUL.

    NUL cannot occur in the parts used (topic names, ids, numbers), so different part lists
    never join to the same text.
    """
    return hashlib.sha256("\0".join(str(part) for part in parts).encode()).hexdigest()[:32]
