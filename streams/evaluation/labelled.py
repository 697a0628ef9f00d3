"""Reading a labelled sentiment CSV file, and the held-out split training uses.

The CSV needs a text column and a label column. Labels may be ``-1/0/1`` (ecosent's
``value``) or ``negative/neutral/positive``. Default columns: the first of ``headline``,
``text``, ``sentence`` and the first of ``value``, ``label``, ``sentiment`` present in the
header. ``stratified_split`` gives the part of an ecosent-style file that
``python -m training.joint`` holds out (identical texts merged by majority, stratified 15%,
seed 20190301): training and ``newsstream eval sentiment --held-out`` both use these
functions, so the two always agree.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from streams.enrich.e5.sentiment_reader import CLASSES as LABELS

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
    (training holds out this part, so ``--held-out`` scores only texts it never saw)."""
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for cls in range(len(LABELS)):
        members = rng.permutation(np.flatnonzero(labels == cls))
        held.extend(members[: round(fraction * len(members))].tolist())
    mask = np.zeros(len(labels), dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)
