"""Frog's wire protocol: answers parsed by the form of their columns, text made safe to send."""

from __future__ import annotations

import re

import pytest

from streams.enrich.frog.errors import FrogError
from streams.enrich.frog.protocol import parse_frog_answer, wire_text


def test_parse_answer_finds_columns_by_form() -> None:
    answer = (
        "1\tKim\t\t\t\tSPEC(deeleigen)\t1.000000\tB-PER\t\t\t\t\t\t\n"
        "2\tzei\t\t\t\tWW(pv,verl,ev)\t0.998967\tO\t\t\t\t\t\t\n"
        "\n"
        # Another layout (lemma filled, one column fewer) and a lower-case NER tag.
        "1\tHanoi\tHanoi\t[Hanoi]\tSPEC(deeleigen)\t1.0\tb-loc\n"
        "\n"
    )
    sentences = parse_frog_answer(answer)
    assert [[(t.word, t.tag, t.ner) for t in s] for s in sentences] == [
        [("Kim", "SPEC(deeleigen)", "B-PER"), ("zei", "WW(pv,verl,ev)", "O")],
        [("Hanoi", "SPEC(deeleigen)", "B-LOC")],
    ]
    assert sentences[0][1].confidence == pytest.approx(0.998967)
    assert parse_frog_answer("") == []


def test_parse_answer_rejects_lines_out_of_step() -> None:
    with pytest.raises(FrogError, match="unexpected line"):
        parse_frog_answer("1\tKim\t\t\t\tSPEC(deeleigen)\t1.000000\tB-PER\nsomething else\n")


def test_wire_text_never_sends_an_eot_line_or_control_characters() -> None:
    text = "Dit is\nEOT\nna\r\nEOT\r\nen\x00 \x1b \ud800 EOT midden\nEOT"
    wire = wire_text(text)
    assert "EOT" not in wire.split("\n")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]", wire)
    wire.encode("utf-8")
    assert "EOT midden" in wire
