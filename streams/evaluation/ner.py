"""conlleval-style NER scoring: entity-level precision, recall and F1.

``chunks`` finds entities in a tag sequence the way ``conlleval.pl`` does (IOB1 and IOB2
alike: an ``I-`` tag after ``O`` or after another type starts an entity), and ``score`` counts
them like conlleval: an entity is correct only when its type and both boundaries match.
``evaluate_ner`` runs any ``WordTagger`` over a CoNLL file (``streams.evaluation.conll``) and
reports scores and speed; it is what ``newsstream eval ner`` prints.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from streams.evaluation.conll import DEFAULT_SENTENCES_PER_DOCUMENT, conll_documents, read_conll


def _split(tag: str) -> tuple[str, str]:
    if tag == "O" or len(tag) < 3 or tag[1] != "-":
        return "O", ""
    return tag[0], tag[2:]


def chunks(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Entities ``(start, end, type)`` (end exclusive) of one sentence, as conlleval finds them."""
    found: list[tuple[int, int, str]] = []
    start = -1
    prev_tag, prev_type = "O", ""
    for i, raw in enumerate([*tags, "O"]):
        tag, kind = _split(raw)
        ends = prev_tag != "O" and (tag in ("B", "O") or kind != prev_type)
        starts = tag != "O" and (tag == "B" or prev_tag == "O" or kind != prev_type)
        if ends and start >= 0:
            found.append((start, i, prev_type))
            start = -1
        if starts:
            start = i
        prev_tag, prev_type = tag, kind
    return found


@dataclass(frozen=True, slots=True)
class TypeScore:
    precision: float
    recall: float
    f1: float
    gold: int
    predicted: int
    correct: int


def _prf(correct: int, predicted: int, gold: int) -> TypeScore:
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return TypeScore(p, r, f, gold, predicted, correct)


@dataclass(frozen=True, slots=True)
class NerReport:
    overall: TypeScore
    by_type: dict[str, TypeScore]
    token_accuracy: float
    sentences: int
    words: int
    seconds: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def words_per_second(self) -> float:
        return self.words / self.seconds if self.seconds > 0 else 0.0

    def format(self) -> str:
        """A conlleval-like table."""
        o = self.overall
        lines = [
            f"sentences {self.sentences}, words {self.words}; entities: gold {o.gold}, "
            f"predicted {o.predicted}, correct {o.correct}",
            f"token accuracy {self.token_accuracy:.4f}; precision {o.precision:.4f}, "
            f"recall {o.recall:.4f}, F1 {o.f1:.4f}",
            f"{'type':6} {'precision':>9} {'recall':>9} {'F1':>9} {'gold':>6} {'pred':>6}",
        ]
        for kind, s in sorted(self.by_type.items()):
            lines.append(
                f"{kind:6} {s.precision:9.4f} {s.recall:9.4f} {s.f1:9.4f} {s.gold:6d} "
                f"{s.predicted:6d}"
            )
        if self.seconds > 0:
            lines.append(f"speed: {self.words_per_second:,.0f} words/s ({self.seconds:.1f} s)")
        lines.extend(f"{key}: {value}" for key, value in self.extra.items())
        return "\n".join(lines)


def score(gold: Iterable[Sequence[str]], predicted: Iterable[Sequence[str]]) -> NerReport:
    """conlleval counts over sentences of gold and predicted tags (same lengths)."""
    counts: dict[str, list[int]] = {}
    right = total = sentences = 0
    for g, p in zip(gold, predicted, strict=True):
        if len(g) != len(p):
            raise ValueError(f"sentence {sentences}: {len(g)} gold tags but {len(p)} predicted")
        sentences += 1
        total += len(g)
        right += sum(1 for a, b in zip(g, p, strict=True) if a == b)
        gold_chunks, pred_chunks = set(chunks(g)), set(chunks(p))
        for _s, _e, kind in gold_chunks:
            counts.setdefault(kind, [0, 0, 0])[0] += 1
        for _s, _e, kind in pred_chunks:
            counts.setdefault(kind, [0, 0, 0])[1] += 1
        for _s, _e, kind in gold_chunks & pred_chunks:
            counts[kind][2] += 1
    by_type = {kind: _prf(c[2], c[1], c[0]) for kind, c in counts.items()}
    overall = _prf(
        sum(c[2] for c in counts.values()),
        sum(c[1] for c in counts.values()),
        sum(c[0] for c in counts.values()),
    )
    return NerReport(overall, by_type, right / total if total else 0.0, sentences, total)


class WordTagger(Protocol):
    """Anything that tags pre-tokenised sentences with IOB2 tags (PER/LOC/ORG/MISC), the
    sentences of each document read together (document context)."""

    def tag_documents(
        self, documents: Sequence[Sequence[Sequence[str]]]
    ) -> list[list[list[str]]]: ...


def evaluate_ner(
    tagger: WordTagger,
    conll_path: Path,
    sentences_per_document: int = DEFAULT_SENTENCES_PER_DOCUMENT,
) -> NerReport:
    """Tag every sentence of a CoNLL file, its articles (``conll_documents``) one document
    each, and score it; ``seconds`` is the tagging time only."""
    groups = conll_documents(read_conll(conll_path), sentences_per_document)
    started = time.perf_counter()
    predicted = tagger.tag_documents([[s.words for s in group] for group in groups])
    seconds = time.perf_counter() - started
    report = score(
        [s.tags for group in groups for s in group],
        [tags for document in predicted for tags in document],
    )
    return replace(report, seconds=seconds, extra={"file": str(conll_path)})
