"""Frog's wire protocol: the text as it is safe to send, and the answer parsed into tokens.

A request is UTF-8 text then a line ``EOT``; the answer is one tab-separated line per token, a
blank line after each sentence, then ``READY`` and one more blank line (see the package doc).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from streams.enrich.frog.errors import FrogError

_ANSWER_END: Final = b"READY\n"


@dataclass(frozen=True, slots=True)
class FrogToken:
    """One token line of Frog's answer."""

    word: str
    tag: str
    """CGN part-of-speech tag, e.g. ``SPEC(deeleigen)``, ``N(eigen,ev,basis,zijd,stan)``."""
    confidence: float
    ner: str
    """BIO tag in upper case: ``O``, ``B-PER``, ``I-LOC``, ..."""


_CGN_TAG = re.compile(r"[A-Z]+\(.*\)")
_BIO_TAG = re.compile(r"O|[BI]-[A-Z]+", re.IGNORECASE)


def parse_frog_answer(answer: str) -> list[list[FrogToken]]:
    """Split one answer (everything before ``READY``) into sentences of tokens.

    The tag, confidence and NER columns are found by their form rather than their position, so
    an extra or missing column in another Frog version does not shift them. Raises FrogError on
    a line that is not a token line (the connection is then out of step).
    """
    sentences: list[list[FrogToken]] = []
    current: list[FrogToken] = []
    for line in answer.split("\n"):
        if not line.strip():
            if current:
                sentences.append(current)
                current = []
            continue
        if line == "READY":
            break
        current.append(_parse_token_line(line))
    if current:
        sentences.append(current)
    return sentences


def _parse_token_line(line: str) -> FrogToken:
    fields = line.split("\t")
    if len(fields) >= 5 and fields[0].isdigit():
        for i in range(2, len(fields) - 2):
            if _CGN_TAG.fullmatch(fields[i]) and _BIO_TAG.fullmatch(fields[i + 2]):
                try:
                    confidence = float(fields[i + 1])
                except ValueError:
                    continue
                return FrogToken(fields[1], fields[i], confidence, fields[i + 2].upper())
    raise FrogError(f"unexpected line in frog's answer: {line[:200]!r}")


# C0/C1 controls except tab and newline (carriage return included: Frog strips it, which turns
# "EOT\r" into the terminator) and lone surrogates (not encodable as UTF-8). They become spaces;
# alignment ignores them anyway.
_WIRE_BLANKS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_EOT_LINE = re.compile(r"^EOT$", re.MULTILINE)


def wire_text(text: str) -> str:
    """The text as it is safe to send: no line reads ``EOT``, no control characters.

    Only what Frog sees changes; tokens are aligned to the original text, not to this.
    """
    return _EOT_LINE.sub("EOT ", _WIRE_BLANKS.sub(" ", text))


def answer_end(buf: bytearray) -> int:
    if buf.lstrip(b"\n").startswith(_ANSWER_END):
        return buf.index(_ANSWER_END) + len(_ANSWER_END)
    at = buf.find(b"\n" + _ANSWER_END)
    return at + 1 + len(_ANSWER_END) if at >= 0 else -1
