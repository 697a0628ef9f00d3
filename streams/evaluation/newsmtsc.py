"""Sentiment toward entities, scored on NewsMTSC-format files (what ``newsstream eval
entity-sentiment`` prints).

A NewsMTSC file has one JSON object a line: the sentence (``sentence_normalized``) and its
``targets``, each with character offsets ``from``/``to``, the ``mention`` they cover and a
``polarity`` (2.0 negative, 4.0 neutral, 6.0 positive). The scores are the ones
``streams.evaluation.sentiment`` computes for sentences (accuracy, macro-F1 — NewsMTSC's
published measure —, per-class P/R/F1, confusion), counted per target.

What is scored is a ``TargetSentimentPredictor``: anything that gives a class per target of
each sentence. ``EnricherTargets`` is what the product does (the sentiment enricher's label
for each target as an entity of a one-sentence document).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol, TypeGuard

from schemas import Entity, EntityLabel
from streams.enrich.base import Document, Span
from streams.enrich.sentiment import LABELS as SENTIMENT_LABELS
from streams.enrich.sentiment import SentenceSentimentEnricher
from streams.evaluation.sentiment import SentimentReport

POLARITY_CLASSES: Final = {2.0: 0, 4.0: 1, 6.0: 2}
"""NewsMTSC's polarity codes to class indices in ``LABELS`` order (negative, neutral,
positive)."""


class NewsMtscFormatError(ValueError):
    """The file is missing or a line is not a NewsMTSC sentence; the message names the line."""


@dataclass(frozen=True, slots=True)
class Target:
    """One mention whose sentiment is asked: ``sentence[start:end] == mention``."""

    start: int
    end: int
    mention: str
    label: int
    """Gold class index (``LABELS`` order)."""


@dataclass(frozen=True, slots=True)
class TargetSentence:
    text: str
    targets: tuple[Target, ...]
    line: int
    """Line number in its file (from 1), for messages."""


class TargetSentimentPredictor(Protocol):
    """Called once per evaluation with every sentence of the file; returns, for each sentence,
    one class index (``LABELS`` order) per target, in the order of ``sentence.targets``. It
    must not read the targets' gold labels."""

    def __call__(self, sentences: Sequence[TargetSentence]) -> Sequence[Sequence[int]]: ...


class EnricherTargets:
    """What the product does: each sentence goes through the sentiment enricher the worker
    runs (``sentiment-e5``: the e5 reader's pass and the sentiment rules) as a one-sentence
    document whose entities are the gold targets, and each target takes the label the
    enricher gives that entity."""

    def __init__(self, enricher: SentenceSentimentEnricher) -> None:
        self.enricher = enricher

    def __call__(self, sentences: Sequence[TargetSentence]) -> list[list[int]]:
        docs = [
            Document(
                body=s.text,
                sentences=(Span(0, len(s.text)),),
                entities=tuple(
                    Entity(
                        text=t.mention,
                        label=EntityLabel.MISC,
                        start=t.start,
                        end=t.end,
                        canonical=t.mention,
                    )
                    for t in s.targets
                ),
            )
            for s in sentences
        ]
        out: list[list[int]] = []
        for doc in self.enricher.enrich_batch(docs):
            out.append(
                [
                    SENTIMENT_LABELS.index(e.sentiment.label) if e.sentiment else 1
                    for e in doc.entities
                ]
            )
        return out


def read_newsmtsc(path: Path) -> list[TargetSentence]:
    """Every sentence of a NewsMTSC-format file with its targets (``further_mentions`` are
    automatic coreferences, not gold targets, and are not read).

    Raises NewsMtscFormatError, naming the line, for a missing file, a line that is not JSON,
    a missing or mistyped field, a polarity other than 2.0/4.0/6.0, or offsets that do not
    cover the mention; blank lines are skipped.
    """
    if not path.is_file():
        raise NewsMtscFormatError(
            f"NewsMTSC file not found: {path} (this project's copy lives in "
            "../shared/corpora/newsmtsc; see ../shared/corpora/README.md)"
        )
    sentences: list[TargetSentence] = []
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                sentences.append(_sentence(raw, f"{path}:{number}", number))
    return sentences


def _sentence(raw: str, where: str, number: int) -> TargetSentence:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise NewsMtscFormatError(f"{where}: not a JSON object ({exc.msg})") from None
    if not isinstance(record, dict):
        raise NewsMtscFormatError(f"{where}: not a JSON object")
    text = record.get("sentence_normalized")
    targets = record.get("targets")
    if not isinstance(text, str):
        raise NewsMtscFormatError(f"{where}: no string 'sentence_normalized'")
    if not isinstance(targets, list) or not targets:
        raise NewsMtscFormatError(f"{where}: no non-empty list 'targets'")
    return TargetSentence(text, tuple(_target(t, text, where) for t in targets), number)


def _target(item: object, text: str, where: str) -> Target:
    if not isinstance(item, dict):
        raise NewsMtscFormatError(f"{where}: a target is not a JSON object")
    start, end, mention = item.get("from"), item.get("to"), item.get("mention")
    polarity = item.get("polarity")
    # bool is an int in Python; true/false offsets are a broken file, not positions 1/0.
    if not _is_offset(start) or not _is_offset(end):
        raise NewsMtscFormatError(f"{where}: target offsets 'from'/'to' must be integers")
    if not isinstance(mention, str) or not 0 <= start < end <= len(text):
        raise NewsMtscFormatError(f"{where}: target {start}-{end} is not a span of the sentence")
    if text[start:end] != mention:
        raise NewsMtscFormatError(
            f"{where}: target {start}-{end} covers {text[start:end]!r}, not its mention {mention!r}"
        )
    if isinstance(polarity, bool) or not isinstance(polarity, int | float):
        raise NewsMtscFormatError(f"{where}: target polarity {polarity!r} is not a number")
    if float(polarity) not in POLARITY_CLASSES:
        raise NewsMtscFormatError(
            f"{where}: target polarity {polarity!r} is not 2.0, 4.0 or 6.0 (neg/neu/pos)"
        )
    return Target(start, end, mention, POLARITY_CLASSES[float(polarity)])


def _is_offset(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def evaluate_targets(
    predictor: TargetSentimentPredictor, sentences: Sequence[TargetSentence]
) -> SentimentReport:
    """Score ``predictor`` on every target of ``sentences``; the time is the predictor call.

    Raises ValueError if the predictor does not give one class per target."""
    started = time.perf_counter()
    predicted = predictor(sentences)
    seconds = time.perf_counter() - started
    if len(predicted) != len(sentences):
        raise ValueError(f"predictor gave {len(predicted)} results for {len(sentences)} sentences")
    gold: list[int] = []
    flat: list[int] = []
    for sentence, classes in zip(sentences, predicted, strict=True):
        if len(classes) != len(sentence.targets):
            raise ValueError(
                f"line {sentence.line}: predictor gave {len(classes)} classes for "
                f"{len(sentence.targets)} targets"
            )
        gold.extend(t.label for t in sentence.targets)
        flat.extend(int(c) for c in classes)
    return SentimentReport.of(gold, flat, seconds, unit="targets")
