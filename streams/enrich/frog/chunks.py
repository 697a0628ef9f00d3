"""The body cut into the pieces sent to Frog one request each: paragraphs, long ones split."""

from __future__ import annotations

import re
from typing import Final

DEFAULT_MAX_CHUNK_CHARS: Final = 10_000
"""Longest text sent in one request. Paragraphs are sent whole up to this size; longer ones are
cut after the last sentence end before it. Frog reads a request whole before it answers."""

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*\s")
_WHITESPACE = re.compile(r"\s")


def paragraph_chunks(body: str, max_chars: int = DEFAULT_MAX_CHUNK_CHARS) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` of the body to send one request each, in order.

    One per paragraph (blank-line separated), trimmed of surrounding whitespace, empty ones
    left out. A paragraph longer than ``max_chars`` is cut after its last sentence end within
    the limit, else at its last whitespace, else hard at the limit.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    spans: list[tuple[int, int]] = []
    start = 0
    for brk in [*_PARAGRAPH_BREAK.finditer(body), None]:
        end = brk.start() if brk is not None else len(body)
        _add_chunks(body, start, end, max_chars, spans)
        if brk is not None:
            start = brk.end()
    return spans


def _add_chunks(
    body: str, start: int, end: int, max_chars: int, spans: list[tuple[int, int]]
) -> None:
    while end > start and body[end - 1].isspace():
        end -= 1
    while True:
        while start < end and body[start].isspace():
            start += 1
        if start >= end:
            return
        if end - start <= max_chars:
            spans.append((start, end))
            return
        window = body[start : start + max_chars]
        cut = 0
        for match in _SENTENCE_END.finditer(window):
            cut = match.end()
        if cut == 0:
            # ``start`` is not whitespace, so the last whitespace is at 1 or later.
            for match in _WHITESPACE.finditer(window):
                cut = match.start()
        piece_end = start + (cut or max_chars)
        trimmed_end = piece_end
        while body[trimmed_end - 1].isspace():
            trimmed_end -= 1
        spans.append((start, trimmed_end))
        start = piece_end
