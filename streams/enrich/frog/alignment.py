"""Frog's tokens aligned back to the text they came from, as character offsets."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from typing import Final

_CHAR_FOLD: Final[dict[str, str]] = {
    # Double quotes (straight, low-9, curly, reversed, guillemets, CJK and full-width) count
    # as two single ones, so a tokenizer that turns '' or `` into " (or back) still matches.
    **dict.fromkeys('"\u201e\u201c\u201d\u201f\u00ab\u00bb\u301d\u301e\uff02', "''"),
    # Apostrophes and single quotes: straight, curly, low-9, reversed, grave, acute, prime,
    # single guillemets, full-width.
    **dict.fromkeys("'\u2018\u2019\u201a\u201b`\u00b4\u2032\u2039\u203a\uff07", "'"),
    # hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus sign
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
}
_ALIGN_SLACK: Final = 32
"""How many folded characters a token may lie ahead of the cursor (text Frog dropped)."""


@functools.lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Mn", "Me"):
        return ""
    mapped = _CHAR_FOLD.get(ch)
    if mapped is not None:
        return mapped
    decomposed = unicodedata.normalize("NFKD", ch)
    return "".join(
        c for c in decomposed if not unicodedata.combining(c) and not c.isspace()
    ).casefold()


def _fold(text: str) -> tuple[str, list[int]]:
    folded: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        f = _fold_char(ch)
        folded.append(f)
        origin.extend([i] * len(f))
    return "".join(folded), origin


def align_tokens(text: str, words: Sequence[str]) -> list[tuple[int, int] | None]:
    """The span of each word in ``text``, found left to right; None for a word not found.

    Guarantees: spans are in order, never overlap except inside one ligature, and each span
    starts and ends on a character that the word matched (trailing combining marks included),
    so ``text[start:end]`` is the word as written in ``text``.
    """
    folded, origin = _fold(text)
    spans: list[tuple[int, int] | None] = []
    cursor = 0
    for word in words:
        key = "".join(_fold_char(ch) for ch in word)
        if not key:
            spans.append(None)
            continue
        if folded.startswith(key, cursor):
            at = cursor
        else:
            at = folded.find(key, cursor, cursor + len(key) + _ALIGN_SLACK)
            if at < 0:
                spans.append(None)
                continue
        start = origin[at]
        end = origin[at + len(key) - 1] + 1
        while end < len(text) and unicodedata.combining(text[end]):
            end += 1
        spans.append((start, end))
        cursor = at + len(key)
    return spans
