"""conlleval-style scoring: entities found like conlleval.pl, counted per type."""

from __future__ import annotations

from streams.evaluation.ner import chunks, score


def test_conlleval_chunks_and_counts() -> None:
    assert chunks(["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG"]) == [
        (0, 2, "PER"),
        (3, 5, "LOC"),
        (5, 6, "LOC"),
        (6, 7, "ORG"),
    ]
    report = score([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]])
    assert (report.overall.gold, report.overall.predicted, report.overall.correct) == (2, 2, 1)
    assert report.by_type["LOC"].f1 == 1.0
    assert report.by_type["PER"].f1 == 0.0
    assert report.token_accuracy == 0.75
