"""CoNLL NER files and conlleval-style scoring (entity-level precision, recall and F1).

``read_conll`` reads the CoNLL-2002/2003 column format (one ``word ... TAG`` line per token,
the tag in the last column, a blank line between sentences, ``-DOCSTART-`` lines between
documents). ``chunks`` finds entities in a tag sequence the way ``conlleval.pl`` does (IOB1
and IOB2 alike: an ``I-`` tag after ``O`` or after another type starts an entity), and
``score`` counts them like conlleval: an entity is correct only when its type and both
boundaries match. ``evaluate_ner`` runs any ``WordTagger`` over a file and reports scores
and speed; it is what ``newsstream eval ner`` prints.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class ConllFormatError(ValueError):
    """A CoNLL file could not be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class ConllSentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]
    document: int
    """Index of the document (``-DOCSTART-`` block) the sentence belongs to; 0 without any."""


def read_conll(path: Path) -> list[ConllSentence]:
    """The sentences of a CoNLL NER file (UTF-8; tags in the last column).

    Raises FileNotFoundError with a clear message when the file is absent, ConllFormatError
    for a line with fewer than two columns or a tag that is neither ``O`` nor ``B-``/``I-``.
    """
    if not path.is_file():
        raise FileNotFoundError(
            f"CoNLL file {path} not found (the corpora live in ../shared/corpora; "
            "see ../shared/corpora/README.md)"
        )
    sentences: list[ConllSentence] = []
    words: list[str] = []
    tags: list[str] = []
    document = 0
    seen_docstart = False

    def flush() -> None:
        if words:
            sentences.append(ConllSentence(tuple(words), tuple(tags), document))
            words.clear()
            tags.clear()

    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            fields = line.split()
            if not fields:
                flush()
                continue
            if fields[0] == "-DOCSTART-":
                flush()
                if seen_docstart or sentences:
                    document += 1
                seen_docstart = True
                continue
            if len(fields) < 2:
                raise ConllFormatError(f"{path}:{number}: expected 'word ... TAG', got {line!r}")
            tag = fields[-1]
            if tag != "O" and (len(tag) < 3 or tag[1] != "-" or tag[0] not in "BI"):
                raise ConllFormatError(f"{path}:{number}: {tag!r} is not an IOB tag")
            words.append(fields[0])
            tags.append(tag)
    flush()
    return sentences


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
    """Anything that tags pre-tokenised sentences with IOB2 tags (PER/LOC/ORG/MISC)."""

    def tag_words(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]: ...


def evaluate_ner(tagger: WordTagger, conll_path: Path) -> NerReport:
    """Tag every sentence of a CoNLL file and score it; ``seconds`` is the tagging time only."""
    sentences = read_conll(conll_path)
    started = time.perf_counter()
    predicted = tagger.tag_words([s.words for s in sentences])
    seconds = time.perf_counter() - started
    report = score([s.tags for s in sentences], predicted)
    return NerReport(
        report.overall,
        report.by_type,
        report.token_accuracy,
        report.sentences,
        report.words,
        seconds,
        {"file": str(conll_path)},
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streams.evaluation.ner FILE...``: score the shipped e5 NER model."""
    import argparse

    from streams.enrich.e5.tagger import DEFAULT_MODEL_DIR, E5Tagger, NerModelError

    parser = argparse.ArgumentParser(
        prog="python -m streams.evaluation.ner",
        description="Entity-level P/R/F1 (conlleval counting) of the e5 NER model on CoNLL files.",
    )
    parser.add_argument("files", nargs="+", type=Path, help="CoNLL files (tag in last column)")
    parser.add_argument("--variant", default=None, help="int8 or fp32 (default: the manifest's)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="rebuilt-model cache")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    args = parser.parse_args(argv)
    try:
        tagger = E5Tagger(
            DEFAULT_MODEL_DIR, args.cache_dir, variant=args.variant, threads=args.threads
        )
    except NerModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        for path in args.files:
            try:
                report = evaluate_ner(tagger, path)
            except (FileNotFoundError, ConllFormatError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(f"== {path} (variant {tagger.variant.name})")
            print(report.format(), flush=True)
    finally:
        tagger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
