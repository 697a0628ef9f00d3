"""Scoring the sentiment model on labelled texts: accuracy, macro-F1, per-class P/R/F1,
confusion matrix and sentences per second (what ``newsstream eval sentiment`` prints; the
texts come from ``streams.evaluation.labelled``, and ``EnricherSentences`` puts them through
the enricher the worker runs)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from streams.enrich.base import Document, Span
from streams.enrich.e5.sentiment_reader import CLASSES as LABELS
from streams.enrich.sentiment import SentenceSentimentEnricher
from streams.evaluation.labelled import IntArray


@dataclass(frozen=True)
class SentimentReport:
    """Scores of predicted against gold classes (indices in LABELS order)."""

    confusion: IntArray
    """[true, predicted]."""
    seconds: float = 0.0
    unit: str = "sentences"
    """What one scored item is (``targets`` for sentiment toward entities), for ``format``."""

    @classmethod
    def of(
        cls,
        gold: Sequence[int],
        predicted: Sequence[int],
        seconds: float = 0.0,
        unit: str = "sentences",
    ) -> Self:
        confusion = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
        for g, p in zip(gold, predicted, strict=True):
            confusion[g, p] += 1
        return cls(confusion, seconds, unit)

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(self.n, 1))

    def per_class(self) -> list[tuple[float, float, float, int]]:
        """(precision, recall, F1, support) per class."""
        out = []
        for k in range(len(LABELS)):
            tp = float(self.confusion[k, k])
            predicted = float(self.confusion[:, k].sum())
            support = int(self.confusion[k].sum())
            p = tp / predicted if predicted else 0.0
            r = tp / support if support else 0.0
            f = 2 * p * r / (p + r) if p + r else 0.0
            out.append((p, r, f, support))
        return out

    @property
    def macro_f1(self) -> float:
        return float(np.mean([f for _p, _r, f, _s in self.per_class()]))

    @property
    def sentences_per_second(self) -> float:
        return self.n / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "per_class": {
                label: {
                    "precision": round(p, 4),
                    "recall": round(r, 4),
                    "f1": round(f, 4),
                    "support": s,
                }
                for label, (p, r, f, s) in zip(LABELS, self.per_class(), strict=True)
            },
            "confusion": self.confusion.tolist(),
            "sentences_per_second": round(self.sentences_per_second),
        }

    def format(self) -> str:
        lines = [
            f"{self.unit:<11}{self.n}",
            f"accuracy   {self.accuracy:.4f}",
            f"macro-F1   {self.macro_f1:.4f}",
            "",
            f"{'class':>10} {'precision':>10} {'recall':>10} {'F1':>10} {'support':>8}",
        ]
        for label, (p, r, f, s) in zip(LABELS, self.per_class(), strict=True):
            lines.append(f"{label:>10} {p:>10.4f} {r:>10.4f} {f:>10.4f} {s:>8}")
        lines += ["", "confusion (rows true, columns predicted):"]
        lines.append(" " * 10 + "".join(f"{label:>10}" for label in LABELS))
        for label, row in zip(LABELS, self.confusion.tolist(), strict=True):
            lines.append(f"{label:>10}" + "".join(f"{v:>10}" for v in row))
        if self.seconds > 0:
            lines += ["", f"speed      {self.sentences_per_second:,.0f} {self.unit}/s"]
        return "\n".join(lines)


def evaluate(model: Any, texts: Sequence[str], labels: Sequence[int]) -> SentimentReport:
    """Classify ``texts`` with ``model`` (``probabilities(texts) -> [n, 3]``) and score them;
    the time is the model call (tokenizing included)."""
    started = time.perf_counter()
    probs = model.probabilities(list(texts))
    seconds = time.perf_counter() - started
    predicted = np.asarray(probs).argmax(axis=1).tolist()
    return SentimentReport.of(list(labels), predicted, seconds)


class EnricherSentences:
    """Sentence sentiment as the product gives it: each text is a one-sentence document
    without a title, through the sentiment enricher; ``probabilities`` as
    ``streams.evaluation.sentiment.evaluate`` asks."""

    def __init__(self, enricher: SentenceSentimentEnricher) -> None:
        self.enricher = enricher

    def probabilities(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        docs = [Document(body=t) for t in texts]
        spans = [(Span(0, len(t)),) for t in texts]
        rows = [p.sentences[0] for p in self.enricher.probabilities(docs, spans)]
        return np.asarray(rows, dtype=np.float64).reshape(-1, 3)
