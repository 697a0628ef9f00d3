"""Quote marks: where the quoted spans of a text are, before anyone is attributed.

Called by the attribution step (``frames``) once per document; pure functions of the body.
"""

from __future__ import annotations

import re
from typing import Final

# Opening mark -> the closing marks that end it. Dutch newspapers use „…”, ‘…’, ,,…'' (AD,
# Telegraaf, regional titles; often closed by " too) and, in headlines, ’…’; English ones
# “…” and ‘…’; plain ASCII quotes come from wire copy and from corpora that flattened them,
# where a ,, that became " keeps its closing '' ("Daar kozen we voor.'').
_PAIRS: Final[dict[str, tuple[str, ...]]] = {
    ",,": ("''", '"', "”", "“"),
    "„": ("”", "“", '"'),
    "“": ("”", '"'),
    '"': ('"', "”", "''"),
    "‘": ("’", "'"),
    "’": ("’",),
    "'": ("'", "’"),
    "«": ("»",),
}
_SINGLE: Final = frozenset("‘’'")
WORD: Final = re.compile(r"[^\W\d_][\w'’-]*")
"""A word: letters, with inner apostrophes and hyphens ("zo'n", "PvdA-Kamerlid")."""
MAX_QUOTE_CHARS: Final = 2000
"""A longer span between two marks is a missing closing mark, not a quote."""


def find_quotes(body: str) -> list[tuple[int, int]]:
    """Spans of quoted text (inside the marks), in order, never nested or crossing a paragraph."""
    spans: list[tuple[int, int]] = []
    at = 0
    while at < len(body):
        mark = ",," if body.startswith(",,", at) else body[at]
        closers = _PAIRS.get(mark)
        if body.startswith("''", at):
            at += 2  # a closing '' whose opening we missed never opens a quote
            continue
        if closers is None or not _opens(body, at, mark):
            at += 1
            continue
        found = _closing(body, at + len(mark), mark, closers)
        if found is None:
            at += len(mark)
            continue
        end, width = found
        inner_start, inner_end = _trim(body, at + len(mark), end)
        if inner_end > inner_start:
            spans.append((inner_start, inner_end))
        at = end + width
    return spans


_ELISION: Final = re.compile(r"[‘’'][stn](?![^\W\d_])")
"""Dutch elisions that start with an apostrophe: ’s avonds, ’s-Hertogenbosch, ’t, ’n."""


def _opens(body: str, at: int, mark: str) -> bool:
    before = body[at - 1] if at else " "
    after = body[at + len(mark)] if at + len(mark) < len(body) else " "
    if after.isspace() and mark != "„":
        return False  # an opening mark hugs its first word („ is sometimes set apart)
    if mark in _SINGLE and _ELISION.match(body, at):
        return False
    # An opening mark follows a space, a bracket, a dash or another opening mark: never a letter.
    return not (before.isalnum() or (mark in _SINGLE and before in "’'"))


def _closing(body: str, start: int, mark: str, closers: tuple[str, ...]) -> tuple[int, int] | None:
    """Offset and width of the closing mark for a quote whose text starts at ``start`` after
    the opening ``mark``; width 0 where the quote ends unclosed because its next paragraph
    opens with the same mark (the convention for a quote that runs over paragraphs)."""
    limit = min(len(body), start + MAX_QUOTE_CHARS)
    for at in range(start, limit):
        char = body[at]
        if char == "\n" and body.startswith("\n\n", at):
            # Quotes do not run across paragraphs, except where the next one re-opens.
            return (at, 0) if body[at:].lstrip().startswith(mark) else None
        if at > start and _reopens(body, at, mark):
            return at, 0
        if at == start:
            continue
        if body.startswith("''", at):
            # ,,…'' closes with both marks; a '…' quote ends at a '' too (never opens there).
            if "''" in closers or "'" in closers:
                return at, 2
            continue
        if char not in closers:
            continue
        after = body[at + 1] if at + 1 < len(body) else " "
        if char in _SINGLE and after.isalnum():
            continue  # an apostrophe inside a word ("zo’n", "Trump's")
        if char in _SINGLE and body[at - 1].isspace():
            continue  # a single mark after a space opens (a nested quote), it does not close
        return at, 1
    return None


def _reopens(body: str, at: int, mark: str) -> bool:
    """At ``at`` the quote's own opening mark starts a new sentence ("… was. 'We streven"):
    a quote over paragraphs whose paragraph breaks the corpus flattened. A quote nested in it
    would take the other kind of mark, so the same mark there is a new paragraph."""
    if not body.startswith(mark, at) or not body[at - 1].isspace():
        return False
    after = body[at + len(mark) : at + len(mark) + 1]
    return body[:at].rstrip()[-1:] in {".", "?", "!"} and after.isupper()


def continues(body: str, previous_end: int, start: int) -> bool:
    """The quote whose text starts at ``start`` goes on from the one ending at
    ``previous_end``: nothing but space (or a paragraph break) and its opening mark between,
    so the earlier one was never closed (a quote over several paragraphs)."""
    return previous_end <= start and not body[previous_end : mark_start(body, start)].strip()


def _trim(body: str, start: int, end: int) -> tuple[int, int]:
    """Without surrounding space, and without the comma English puts inside the marks."""
    while start < end and body[start].isspace():
        start += 1
    while end > start and (body[end - 1].isspace() or body[end - 1] in ",;"):
        end -= 1
    return start, end


def word_count(body: str, start: int, end: int) -> int:
    return len(WORD.findall(body[start:end]))


def mark_start(body: str, start: int) -> int:
    """Offset of the opening mark before the quoted text that starts at ``start``."""
    at = start
    while at > 0 and body[at - 1].isspace():
        at -= 1
    return max(0, at - (2 if body[max(0, at - 2) : at] == ",," else 1))


def mark_end(body: str, end: int) -> int:
    """Offset just after the closing mark of the quoted text that ends at ``end``."""
    at = end
    while at < len(body) and (body[at].isspace() or body[at] in ",;"):
        at += 1
    return at + (2 if body.startswith("''", at) else 1)
