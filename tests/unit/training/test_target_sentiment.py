"""training.target_sentiment: the NewsMTSC reader and the target marking (no corpus, no model:
a toy file and a toy tokenizer)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from streams.evaluation.newsmtsc import NewsMtscFormatError
from training.target_sentiment import (
    CONTEXT,
    Target,
    marked_ids,
    pooled_logits,
    read_newsmtsc,
    target_classes,
    target_example,
)


class WordTokenizer:
    """One piece per whitespace-separated word; ids from 10 in order of first sight."""

    bos, eos = 0, 2

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def encode(self, text: str) -> list[int]:
        return [self.ids.setdefault(w, 10 + len(self.ids)) for w in text.split()]

    def words(self, ids: tuple[int, ...]) -> list[str]:
        names = {i: w for w, i in self.ids.items()} | {0: "<s>", 2: "</s>"}
        return [names[i] for i in ids]


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_reader_maps_polarity_and_checks_spans(tmp_path: Path) -> None:
    sentence = "Smith praised Jones but Lee was angry"
    path = write(
        tmp_path / "t.jsonl",
        [
            {
                "sentence_normalized": sentence,
                "targets": [
                    {"from": 0, "to": 5, "mention": "Smith", "polarity": 4.0},
                    {"from": 14, "to": 19, "mention": "Jones", "polarity": 6.0},
                    {"from": 24, "to": 27, "mention": "Lee", "polarity": 2.0},
                ],
            }
        ],
    )
    targets = read_newsmtsc(path)
    assert [(t.start, t.end, t.label) for t in targets] == [(0, 5, 1), (14, 19, 2), (24, 27, 0)]
    bad = write(
        tmp_path / "bad.jsonl",
        [{"sentence_normalized": sentence, "targets": [{"from": 0, "to": 4, "mention": "Smith"}]}],
    )
    with pytest.raises(NewsMtscFormatError, match="not its mention"):
        read_newsmtsc(bad)
    with pytest.raises(NewsMtscFormatError, match="not found"):
        read_newsmtsc(tmp_path / "absent.jsonl")


def test_marking_puts_markers_around_the_mention() -> None:
    tok = WordTokenizer()
    # The mention ends inside a word ("Jones's"): the marker still stands alone.
    target = Target("Smith praised Jones's plan", 14, 19, 2)
    ids, first, end = marked_ids(tok, target)
    assert tok.words(ids) == ["<s>", "Smith", "praised", "«", "Jones", "»", "'s", "plan", "</s>"]
    assert tok.words(ids[first:end]) == ["«", "Jones", "»"]
    ids, first, end = marked_ids(tok, target, marker="none")
    assert tok.words(ids[first:end]) == ["Jones"]
    # At the sentence's start: nothing on the left.
    ids, first, end = marked_ids(tok, Target("Smith praised Jones", 0, 5, 1))
    assert (first, tok.words(ids[first:end])) == (1, ["«", "Smith", "»"])


def test_long_sentences_keep_a_window_around_the_target() -> None:
    tok = WordTokenizer()
    words = [f"w{i}" for i in range(100)]
    sentence = " ".join(words)
    start = sentence.index("w90")
    ids, first, end = marked_ids(tok, Target(sentence, start, start + 3, 0), limit=20)
    assert len(ids) == 22
    assert tok.words(ids[first:end]) == ["«", "w90", "»"]
    # 17 pieces of room: all 9 on the right, the 8 nearest on the left.
    assert tok.words(ids)[1] == "w82"
    assert tok.words(ids)[-2] == "w99"


def test_examples_label_the_target_and_the_head_pools_it() -> None:
    torch = pytest.importorskip("torch")
    tok = WordTokenizer()
    target = Target("a b c d", 2, 3, 2)
    span = target_example(tok, target)
    # <s> a « b » c d </s>
    assert span.labels == (CONTEXT, CONTEXT, 2, 2, 2, CONTEXT, CONTEXT, CONTEXT)
    assert span.starts == tuple(range(len(span.ids)))
    start = target_example(tok, target, pooling="start")
    assert start.labels == (CONTEXT, CONTEXT, 2, *[CONTEXT] * 5)

    labels = torch.tensor([[3, 0, 0, 3], [3, 2, 3, -100]])
    assert target_classes(labels).tolist() == [0, 2]
    out = torch.zeros(2, 4, 6)
    out[0, 1, 0], out[0, 2, 0] = 1.0, 3.0  # target mean 2.0 for class 0
    out[0, :, 4] = 4.0  # sentence mean 4.0 for class 1
    out[1, 3, 5] = 9.0  # padding: not in the sentence mean
    logits = pooled_logits(out, labels)
    assert logits.tolist() == [[2.0, 4.0, 0.0], [0.0, 0.0, 0.0]]
