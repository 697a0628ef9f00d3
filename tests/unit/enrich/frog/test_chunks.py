"""The body cut into requests: paragraphs, long ones at sentence ends, whitespace, or hard."""

from __future__ import annotations

from streams.enrich.frog.chunks import paragraph_chunks


def test_paragraph_chunks_cover_every_paragraph_trimmed() -> None:
    body = "  Kop zonder punt\n\nEerste alinea.\nTweede regel.\n \n\n\tLaatste.  \n"
    spans = paragraph_chunks(body)
    assert [body[s:e] for s, e in spans] == [
        "Kop zonder punt",
        "Eerste alinea.\nTweede regel.",
        "Laatste.",
    ]
    assert paragraph_chunks("   \n\n  ") == []


def test_long_paragraphs_are_cut_at_sentence_ends_then_whitespace_then_hard() -> None:
    body = "Een zin hier. Nog een zin daar. En een derde zin."
    spans = paragraph_chunks(body, max_chars=35)
    assert [body[s:e] for s, e in spans] == ["Een zin hier. Nog een zin daar.", "En een derde zin."]
    body = "woord " * 10
    assert all(e - s <= 12 for s, e in paragraph_chunks(body, max_chars=12))
    assert " ".join(body[s:e] for s, e in paragraph_chunks(body, 12)).split() == body.split()
    body = "x" * 25
    assert paragraph_chunks(body, max_chars=10) == [(0, 10), (10, 20), (20, 25)]
