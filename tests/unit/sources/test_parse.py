"""What the watcher makes of a file's bytes: articles, or clear reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from schemas import DatePrecision
from streams.sources.parse import ParsedArticle, Rejected, article_id_for, parse_article

SAMPLES = Path(__file__).parents[3] / "streams" / "samples" / "articles"


def _ok(name: str, data: bytes) -> ParsedArticle:
    result = parse_article(name, data)
    assert isinstance(result, ParsedArticle), result
    return result


def _rejected(name: str, data: bytes) -> Rejected:
    result = parse_article(name, data)
    assert isinstance(result, Rejected), result
    return result


def test_seed_date_marker_sets_published_with_month_precision_and_leaves_the_body() -> None:
    article = _ok("002_5e518ff5de4b58f3.txt", (SAMPLES / "002_5e518ff5de4b58f3.txt").read_bytes())
    assert article.published == datetime(2019, 2, 1, tzinfo=UTC)
    assert article.published_precision is DatePrecision.MONTH
    assert article.body.startswith("De Amerikaanse president Donald Trump")
    assert "date 2019-02" not in article.body


def test_seed_without_marker_has_no_date() -> None:
    article = _ok("000.txt", (SAMPLES / "000_7b201681f24eebfa.txt").read_bytes())
    assert article.published is None
    assert article.published_precision is None
    assert article.body.startswith("Eerder werd al bekend gemaakt")


def test_day_precision_marker() -> None:
    article = _ok("a.txt", b"date 2019-02-28\nHet nieuws van de dag.")
    assert article.published == datetime(2019, 2, 28, tzinfo=UTC)
    assert article.published_precision is DatePrecision.DAY
    assert article.body == "Het nieuws van de dag."


def test_marker_only_in_the_middle_is_text() -> None:
    article = _ok("a.txt", b"Nieuws: date 2019-02 was een maand.")
    assert article.published is None
    assert article.body == "Nieuws: date 2019-02 was een maand."


def test_same_content_with_other_whitespace_has_the_same_id() -> None:
    a = _ok("a.txt", b"Kim en Trump  in Hanoi.\r\n\r\nEinde.")
    b = _ok("b.txt", b"Kim en Trump in Hanoi.\n\nEinde.\n")
    assert a.article_id == b.article_id
    assert a.article_id != _ok("c.txt", b"Kim en Trump in Hanoi. Anders.").article_id


def test_markdown_title() -> None:
    article = _ok("a.md", b"# Top in Hanoi\n\nKim en Trump praten.")
    assert article.title == "Top in Hanoi"
    assert article.body == "Kim en Trump praten."
    assert article.article_id == article_id_for("Top in Hanoi", "Kim en Trump praten.")


def test_json_article_with_all_fields() -> None:
    data = orjson.dumps(
        {
            "title": "Top",
            "body": "Tekst.",
            "published": "2019-02-28T10:00:00+01:00",
            "url": "https://example.org/a",
            "source": "NRC",
            "extra": 1,
        }
    )
    article = _ok("a.json", data)
    assert (article.title, article.body, article.url, article.source) == (
        "Top",
        "Tekst.",
        "https://example.org/a",
        "NRC",
    )
    assert article.published is not None
    assert article.published.utcoffset() is not None
    assert article.published_precision is DatePrecision.TIME


def test_utf8_bom_and_utf16_bom_are_text() -> None:
    assert _ok("a.txt", "\ufeffHallo wereld.".encode()).body == "Hallo wereld."
    assert _ok("a.txt", "Hallo wereld.".encode("utf-16")).body == "Hallo wereld."


_BAD_FILES: list[tuple[str, str, list[bytes]]] = [
    # Each reason, with the name and the contents of files that get it.
    ("empty-file", "a.txt", [b"", b"  \n\t \n"]),
    ("binary", "a.txt", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"tekst \x00 met nul"]),
    ("undecodable-text", "a.txt", [b"caf\xe9 au lait"]),
    ("empty-body", "a.txt", [b"date 2019-02  \n"]),
    ("invalid-date", "a.txt", [b"date 2019-13 Tekst"]),
    ("invalid-json", "a.json", [b"{not json"]),
    (
        "invalid-article",
        "a.json",
        [b'["body"]', b'{"title": "x"}', b'{"body": 5}', b'{"body": "x", "title": ["a"]}'],
    ),
    ("unsupported-format", "a.pdf", [b"%PDF-1.4"]),
]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [(name, data, reason) for reason, name, files in _BAD_FILES for data in files],
)
def test_bad_files_get_a_reason(name: str, data: bytes, reason: str) -> None:
    rejected = _rejected(name, data)
    assert rejected.reason == reason
    assert rejected.detail
