"""Score the sentiment model on a labelled CSV file: accuracy, macro-F1, per-class P/R/F1,
confusion matrix and sentences per second.

    python -m streams.evaluation.sentiment --csv ../shared/corpora/ecosent/train.csv --held-out

The CSV needs a text column and a label column. Labels may be ``-1/0/1`` (ecosent's
``value``) or ``negative/neutral/positive``. Default columns: the first of ``headline``,
``text``, ``sentence`` and the first of ``value``, ``label``, ``sentiment`` present in the
header. ``--held-out`` scores only the part of an ecosent-style file that
``python -m training.sentiment`` held out (identical texts merged by majority, stratified 15%,
seed 20190301): the rest was training data. The loading and split functions here are the
ones training uses, so the two always agree.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from streams.enrich.e5.classifier import LABELS

IntArray = npt.NDArray[np.int64]

LABEL_ALIASES: Final = {
    "-1": 0,
    "0": 1,
    "1": 2,
    "negative": 0,
    "neutral": 1,
    "positive": 2,
}
TEXT_COLUMNS: Final = ("headline", "text", "sentence")
LABEL_COLUMNS: Final = ("value", "label", "sentiment")
HELD_OUT_FRACTION: Final = 0.15
SPLIT_SEED: Final = 20190301
"""The held-out split of training (and of the earlier linear head): same seed, same part."""


class LabelledFileError(ValueError):
    """The CSV file is missing, lacks the columns, or holds a label that is not a class."""


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    labels: IntArray
    rows_read: int
    duplicates_merged: int
    conflicts_dropped: int


def read_labelled_csv(
    path: Path,
    text_column: str | None = None,
    label_column: str | None = None,
    merge_duplicates: bool = True,
) -> LabelledTexts:
    """Texts (whitespace collapsed, empty ones skipped) and class indices in LABELS order.

    ``merge_duplicates``: identical texts become one, with the majority label (ties dropped),
    so the same text never sits on both sides of a split. Raises LabelledFileError.
    """
    if not path.is_file():
        raise LabelledFileError(f"labelled file not found: {path}")
    votes: dict[str, list[int]] = defaultdict(list)
    rows = 0
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or ())
        text_col = text_column or next((c for c in TEXT_COLUMNS if c in header), None)
        label_col = label_column or next((c for c in LABEL_COLUMNS if c in header), None)
        for what, col in (("text", text_col), ("label", label_col)):
            if col is None or col not in header:
                raise LabelledFileError(
                    f"{path}: no {what} column {col or ''!r} (header: {header}); "
                    f"name it with --{what}-column"
                )
        assert text_col is not None
        assert label_col is not None
        for line, record in enumerate(reader, start=2):
            raw = (record[label_col] or "").strip().lower()
            if raw not in LABEL_ALIASES:
                raise LabelledFileError(
                    f"{path}:{line}: label {raw!r} is not -1/0/1 or negative/neutral/positive"
                )
            text = " ".join((record[text_col] or "").split())
            if text:
                votes[text].append(LABEL_ALIASES[raw])
                rows += 1
    texts: list[str] = []
    labels: list[int] = []
    merged = conflicts = 0
    for text, classes in votes.items():
        if not merge_duplicates:
            texts.extend([text] * len(classes))
            labels.extend(classes)
            continue
        merged += len(classes) - 1
        (top, n), *rest = Counter(classes).most_common()
        if rest and rest[0][1] == n:
            conflicts += 1
            continue
        texts.append(text)
        labels.append(top)
    return LabelledTexts(texts, np.asarray(labels, dtype=np.int64), rows, merged, conflicts)


def stratified_split(
    labels: IntArray, fraction: float = HELD_OUT_FRACTION, seed: int = SPLIT_SEED
) -> tuple[IntArray, IntArray]:
    """Indices (train, held-out): ``fraction`` of every class held out, shuffled from ``seed``
    (the same algorithm as ``training.sentiment_head``, so both hold out the same texts)."""
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for cls in range(len(LABELS)):
        members = rng.permutation(np.flatnonzero(labels == cls))
        held.extend(members[: round(fraction * len(members))].tolist())
    mask = np.zeros(len(labels), dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


@dataclass(frozen=True)
class SentimentReport:
    """Scores of predicted against gold classes (indices in LABELS order)."""

    confusion: IntArray
    """[true, predicted]."""
    seconds: float = 0.0

    @classmethod
    def of(cls, gold: Sequence[int], predicted: Sequence[int], seconds: float = 0.0) -> Any:
        confusion = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
        for g, p in zip(gold, predicted, strict=True):
            confusion[g, p] += 1
        return cls(confusion, seconds)

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
                label: {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}
                | {"support": s}
                for label, (p, r, f, s) in zip(LABELS, self.per_class(), strict=True)
            },
            "confusion": self.confusion.tolist(),
            "sentences_per_second": round(self.sentences_per_second),
        }

    def format(self) -> str:
        lines = [
            f"sentences  {self.n}",
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
            lines += ["", f"speed      {self.sentences_per_second:,.0f} sentences/s"]
        return "\n".join(lines)


def evaluate(model: Any, texts: Sequence[str], labels: Sequence[int]) -> SentimentReport:
    """Classify ``texts`` with ``model`` (``probabilities(texts) -> [n, 3]``) and score them;
    the time is the model call (tokenizing included)."""
    started = time.perf_counter()
    probs = model.probabilities(list(texts))
    seconds = time.perf_counter() - started
    predicted = np.asarray(probs).argmax(axis=1).tolist()
    report: SentimentReport = SentimentReport.of(list(labels), predicted, seconds)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streams.evaluation.sentiment --csv FILE``: score the shipped model."""
    from streams.enrich.e5.classifier import (
        DEFAULT_MODEL_DIR,
        E5SentenceClassifier,
        SentimentModelError,
    )

    parser = argparse.ArgumentParser(
        prog="python -m streams.evaluation.sentiment",
        description="Accuracy, macro-F1, confusion matrix and speed of the sentiment model.",
    )
    parser.add_argument("--csv", type=Path, required=True, help="labelled CSV file")
    parser.add_argument("--text-column", default=None, help="default: headline/text/sentence")
    parser.add_argument("--label-column", default=None, help="default: value/label/sentiment")
    parser.add_argument(
        "--held-out",
        action="store_true",
        help="score only training's held-out part (duplicates merged, stratified 15%%, "
        f"seed {SPLIT_SEED})",
    )
    parser.add_argument("--variant", default=None, help="int8 or fp32 (default: the manifest's)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="rebuilt-model cache")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    args = parser.parse_args(argv)
    try:
        data = read_labelled_csv(
            args.csv, args.text_column, args.label_column, merge_duplicates=args.held_out
        )
    except LabelledFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    texts, labels = data.texts, data.labels
    if args.held_out:
        _train, held = stratified_split(labels)
        texts, labels = [texts[i] for i in held], labels[held]
    try:
        model = E5SentenceClassifier(
            DEFAULT_MODEL_DIR, args.cache_dir, variant=args.variant, threads=args.threads
        )
    except SentimentModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        report = evaluate(model, texts, labels.tolist())
    finally:
        model.close()
    part = " (held-out part)" if args.held_out else ""
    print(f"== {args.csv}{part} (sentiment-e5 {model.variant.name}, {args.threads} threads)")
    print(report.format(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
