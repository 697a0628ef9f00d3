"""Sentiment toward entities on NewsMTSC-format files: reading, checking, scoring."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from streams.enrich.base import Document, Span
from streams.enrich.sentiment import DocumentProbabilities, SentenceSentimentEnricher
from streams.evaluation.newsmtsc import (
    EnricherTargets,
    NewsMtscFormatError,
    TargetSentence,
    evaluate_targets,
    read_newsmtsc,
)

# Written for these tests (not corpus text). Polarity: 2.0 negative, 4.0 neutral, 6.0 positive.
SENTENCES = [
    ("Alice praised Bob.", [(0, 5, "Alice", 4.0), (14, 17, "Bob", 6.0)]),
    ("Carol attacked Dave.", [(0, 5, "Carol", 2.0), (15, 19, "Dave", 2.0)]),
    ("Erin met Frank.", [(0, 4, "Erin", 4.0), (9, 14, "Frank", 4.0)]),
]


def write_file(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def newsmtsc_line(text: str, targets: Sequence[tuple[int, int, str, object]]) -> str:
    return json.dumps(
        {
            "primary_gid": "test",
            "sentence_normalized": text,
            "targets": [
                {"from": a, "to": b, "mention": m, "polarity": p, "further_mentions": []}
                for a, b, m, p in targets
            ],
        }
    )


@pytest.fixture
def sentences(tmp_path: Path) -> list[TargetSentence]:
    lines = [newsmtsc_line(text, targets) for text, targets in SENTENCES]
    return read_newsmtsc(write_file(tmp_path / "mini.jsonl", [lines[0], "", *lines[1:]]))


def test_reads_sentences_targets_and_classes(sentences: list[TargetSentence]) -> None:
    assert [s.text for s in sentences] == [text for text, _ in SENTENCES]
    assert [s.line for s in sentences] == [1, 3, 4]  # the blank line is skipped, still counted
    assert [[t.label for t in s.targets] for s in sentences] == [[1, 2], [0, 0], [1, 1]]
    assert sentences[0].targets[1].mention == "Bob"
    assert (sentences[0].targets[1].start, sentences[0].targets[1].end) == (14, 17)


def test_scores_known_predictions(sentences: list[TargetSentence]) -> None:
    # gold per target: neu pos | neg neg | neu neu.
    def predictor(items: Sequence[TargetSentence]) -> list[list[int]]:
        assert items == sentences
        return [[1, 1], [0, 2], [1, 0]]  # right: 1st, 3rd, 5th; pos->neu, neg->pos, neu->neg

    report = evaluate_targets(predictor, sentences)
    assert report.unit == "targets"
    assert report.confusion.tolist() == [[1, 0, 1], [1, 2, 0], [0, 1, 0]]
    assert report.n == 6
    assert report.accuracy == pytest.approx(3 / 6)
    # F1 per class: negative P 1/2 R 1/2; neutral P 2/3 R 2/3; positive P 0 R 0.
    assert report.macro_f1 == pytest.approx(np.mean([0.5, 2 / 3, 0.0]))
    text = report.format()
    assert "targets    6" in text
    assert "macro-F1   0.3889" in text


class WordAfterVerb(SentenceSentimentEnricher):
    """Stub model: an entity right after "praised" is portrayed positively, right after
    "attacked" negatively, any other neutrally; sentences are neutral."""

    name = "stub"
    version = "test"

    def __init__(self) -> None:
        self.docs: list[Document] = []

    def probabilities(
        self, docs: Sequence[Document], spans: Sequence[tuple[Span, ...]]
    ) -> list[DocumentProbabilities]:
        self.docs.extend(docs)
        tones = {"praised": [0.1, 0.2, 0.7], "attacked": [0.8, 0.1, 0.1]}
        out = []
        for doc, ss in zip(docs, spans, strict=True):
            before = [doc.body[: e.start].split()[-1:] for e in doc.entities]
            out.append(
                DocumentProbabilities(
                    np.full((len(ss), 3), [0.2, 0.6, 0.2]),
                    None,
                    tuple(np.asarray(tones.get("".join(b), [0.2, 0.6, 0.2])) for b in before),
                )
            )
        return out


def test_targets_go_through_the_enricher_as_entities(sentences: list[TargetSentence]) -> None:
    enricher = WordAfterVerb()
    report = evaluate_targets(EnricherTargets(enricher), sentences)
    # Carol (negative) is not after a verb and comes out neutral; everything else is right.
    assert report.confusion.tolist() == [[1, 1, 0], [0, 3, 0], [0, 0, 1]]
    assert report.accuracy == pytest.approx(5 / 6)
    first = enricher.docs[0]
    assert first.sentences == (Span(0, len("Alice praised Bob.")),)
    assert [(e.text, e.start, e.end) for e in first.entities] == [("Alice", 0, 5), ("Bob", 14, 17)]


def test_a_predictor_with_the_wrong_count_is_refused(sentences: list[TargetSentence]) -> None:
    with pytest.raises(ValueError, match="line 3: predictor gave 1 classes for 2 targets"):
        evaluate_targets(lambda items: [[1, 1], [0], [1, 1]], sentences)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"sentence_normalized": "Alice", "targets": [', "not a JSON object"),
        ('["Alice"]', "not a JSON object"),
        ('{"targets": []}', "no string 'sentence_normalized'"),
        ('{"sentence_normalized": "Alice", "targets": []}', "no non-empty list 'targets'"),
        (newsmtsc_line("Alice", [(0, "5", "Alice", 4.0)]), "must be integers"),
        (newsmtsc_line("Alice", [(0, 9, "Alice", 4.0)]), "is not a span of the sentence"),
        (newsmtsc_line("Alice", [(0, 3, "Alice", 4.0)]), "covers 'Ali', not its mention"),
        (newsmtsc_line("Alice", [(0, 5, "Alice", 5.0)]), "is not 2.0, 4.0 or 6.0"),
        (newsmtsc_line("Alice", [(0, 5, "Alice", "positive")]), "is not a number"),
    ],
)
def test_a_malformed_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    good = newsmtsc_line(*SENTENCES[0])
    path = write_file(tmp_path / "bad.jsonl", [good, line])
    with pytest.raises(NewsMtscFormatError, match=message) as caught:
        read_newsmtsc(path)
    assert str(caught.value).startswith(f"{path}:2: ")


def test_a_missing_file_says_where_corpora_live(tmp_path: Path) -> None:
    with pytest.raises(NewsMtscFormatError, match=r"not found.*\.\./shared/corpora"):
        read_newsmtsc(tmp_path / "devtest_mt.jsonl")
