"""The seed articles and the checks the NER tests share."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from schemas import Entity

_ARTICLES = Path(__file__).resolve().parents[2] / "streams" / "samples" / "articles"
SEED_000 = _ARTICLES / "000_7b201681f24eebfa.txt"
SEED_002 = _ARTICLES / "002_5e518ff5de4b58f3.txt"


def assert_aligned(body: str, entities: Sequence[Entity]) -> None:
    """There are entities; each is its span of ``body``, stripped, after the one before it."""
    assert entities
    previous_end = 0
    for e in entities:
        assert e.text == body[e.start : e.end]
        assert e.text == e.text.strip()
        assert e.start >= previous_end
        previous_end = e.end
