"""Frog's tokens aligned back to the text, whatever Frog did to quotes, hyphens and spacing."""

from __future__ import annotations

from streams.enrich.frog.alignment import align_tokens


def test_align_tokens_survives_changed_quotes_soft_hyphens_and_normalisation() -> None:
    text = "Hij zei: „Ja” in Ha\u00adnoi,\u00a0Cafe\u0301 ''x'' \ufb01ets \u2014 EOT"
    # What a tokenizer could make of it: normalised quotes, soft hyphen dropped, NFC, ligature
    # decomposed, a dash normalised, and one token that is not in the text at all.
    words = ["Hij", "zei", ":", '"', "Ja", '"', "in", "Hanoi", ",", "Café", '"', "x", "''"]
    words += ["fiets", "-", "NOT-THERE", "EOT"]
    spans = align_tokens(text, words)
    found = [text[s:e] if s is not None else None for s, e in (sp or (None, None) for sp in spans)]
    assert found == [
        "Hij",
        "zei",
        ":",
        "„",
        "Ja",
        "”",
        "in",
        "Ha\u00adnoi",
        ",",
        "Cafe\u0301",
        "''",
        "x",
        "''",
        "\ufb01ets",
        "\u2014",
        None,
        "EOT",
    ]


def test_align_tokens_does_not_jump_far_ahead() -> None:
    text = "a " * 100 + "Trump"
    assert align_tokens(text, ["b", "a"]) == [None, (0, 1)]
