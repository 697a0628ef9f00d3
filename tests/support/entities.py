"""Checks shared by the NER tests."""

from __future__ import annotations

from collections.abc import Sequence

from schemas import Entity


def assert_aligned(body: str, entities: Sequence[Entity]) -> None:
    """There are entities; each is its span of ``body``, stripped, after the one before it."""
    assert entities
    previous_end = 0
    for e in entities:
        assert e.text == body[e.start : e.end]
        assert e.text == e.text.strip()
        assert e.start >= previous_end
        previous_end = e.end
