"""The sentiment model's reading of a document, placed on body offsets: per sentence its own
class logits and what sentiment toward any span of it (an entity) needs.

Target logits for a span are the mean over the span's pieces of the model's target part plus
the mean over the sentence's pieces of its context part (a linear head commutes with the
mean; ``streams.enrich.e5.sentiment_reader``), so a reading keeps per word the sum of its
pieces' target part and their count, and one reading serves every entity of the sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

LOGIT_DECIMALS: Final = 3
"""Logits are rounded to this many decimals before the softmax: ONNX Runtime's kernels differ
in the last bits with the batch's shape, and a sentence must score the same in any batch."""


@dataclass(frozen=True, slots=True, eq=False)
class SentenceReading:
    """The model's outputs for one sentence (or the title).

    ``start``, ``end``: the sentence's span in the body (the title's: in the title).
    ``words``: body offsets ``(start, end)`` of each word the reader saw (title words:
    offsets into the title). ``sentence``, ``context``: the sentence's class logits and the context
    part of a target's logits ``[3]``. ``word_target``: per word, the sum over its pieces of
    the target part ``[words, 3]``; ``word_pieces``: its piece count.
    """

    start: int
    end: int
    words: tuple[tuple[int, int], ...]
    sentence: F32
    context: F32
    word_target: F32
    word_pieces: tuple[int, ...]

    def sentence_probabilities(self) -> F64:
        """Class probabilities (negative, neutral, positive) of the sentence."""
        return softmax(self.sentence)

    def target_probabilities(self, start: int, end: int) -> F64 | None:
        """Class probabilities of how the sentence portrays the span ``start:end`` (the
        words that overlap it); None when no word of this sentence does."""
        picked = [i for i, (s, e) in enumerate(self.words) if s < end and e > start]
        if not picked:
            return None
        pieces = sum(self.word_pieces[i] for i in picked)
        target = self.word_target[picked].sum(axis=0) / max(pieces, 1)
        return softmax(target + self.context)


@dataclass(frozen=True, slots=True, eq=False)
class Readings:
    """The readings of one document: each body sentence read, in body order, and the title's
    (None without a title)."""

    sentences: tuple[SentenceReading, ...]
    title: SentenceReading | None

    def sentence_at(self, offset: int) -> SentenceReading | None:
        """The reading of the body sentence whose span holds ``offset``."""
        for reading in self.sentences:
            if reading.start <= offset < reading.end:
                return reading
        return None


def softmax(logits: F32 | F64) -> F64:
    """Softmax in float64 of logits rounded to LOGIT_DECIMALS."""
    x = np.round(np.asarray(logits, dtype=np.float64), LOGIT_DECIMALS)
    x = x - x.max()
    e = np.exp(x)
    result: F64 = e / e.sum()
    return result
