"""Reading CoNLL NER files."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.evaluation.conll import read_conll


def test_read_conll_sentences_and_documents(tmp_path: Path) -> None:
    conll = tmp_path / "mini.conll"
    conll.write_text(
        "-DOCSTART- -X- O\n\nJan N B-PER\nwoont V O\nin Prep O\nGent N B-LOC\n. Punc O\n\n"
        "-DOCSTART- -X- O\n\nZe Pron O\nzwijgt V O\n",
        encoding="utf-8",
    )
    sentences = read_conll(conll)
    assert [s.words for s in sentences] == [("Jan", "woont", "in", "Gent", "."), ("Ze", "zwijgt")]
    assert [s.document for s in sentences] == [0, 1]
    with pytest.raises(FileNotFoundError, match="not found"):
        read_conll(tmp_path / "absent.conll")
