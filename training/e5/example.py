"""One training example of an e5 model, whatever the task."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Example:
    """One window: piece ids (with ``<s>``/``</s>``), first-piece positions, word labels (for a
    sentence classifier: the class as the one label, at position 0)."""

    ids: tuple[int, ...]
    starts: tuple[int, ...]
    labels: tuple[int, ...]
    lang: str
    """Language code of the corpus it comes from."""
