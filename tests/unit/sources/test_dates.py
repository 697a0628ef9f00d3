"""Published dates as feeds write them: ISO 8601, and Dutch and English month names.

The Dutch forms are the ones DPG Media articles use (``4 april 2019``, ``zaterdag 4 mei 2019``,
``maart 2019``, ``4 maart, 14.30 uur``); the English ones are the usual wire forms.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from schemas import DatePrecision
from streams.sources.dates import parse_published
from streams.sources.parse import ParsedArticle, parse_article

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))


_SPELLINGS: list[tuple[datetime, DatePrecision, list[str]]] = [
    # Each moment, at its precision, and the spellings (Dutch, English, ISO 8601) that mean it.
    (
        datetime(2019, 4, 4, tzinfo=UTC),
        DatePrecision.DAY,
        [
            *("4 april 2019", "04 April 2019", "4 apr. 2019", "4-apr-2019"),
            *("Thursday, April 4, 2019", "April 4th, 2019", "2019-04-04"),
        ],
    ),
    (datetime(2019, 3, 12, tzinfo=UTC), DatePrecision.DAY, ["12 mrt 2019"]),
    (datetime(2019, 10, 1, tzinfo=UTC), DatePrecision.DAY, ["1 okt. 2019"]),
    (datetime(2019, 5, 4, tzinfo=UTC), DatePrecision.DAY, ["zaterdag 4 mei 2019", "za 4 mei 2019"]),
    (
        datetime(2019, 3, 4, tzinfo=UTC),
        DatePrecision.DAY,
        ["March 4, 2019", "Mar. 4, 2019", "4 March 2019"],
    ),
    (
        datetime(2019, 4, 4, 14, 30, tzinfo=UTC),
        DatePrecision.TIME,
        ["4 april 2019 14:30", "4 april 2019, 14.30 uur"],
    ),
    (datetime(2019, 4, 4, 9, 5, tzinfo=UTC), DatePrecision.TIME, ["4 april 2019 om 9.05 uur"]),
    (datetime(2019, 4, 4, 14, 30, tzinfo=CEST), DatePrecision.TIME, ["4 april 2019 14:30 CEST"]),
    (datetime(2019, 3, 4, 14, 30, tzinfo=UTC), DatePrecision.TIME, ["March 4, 2019 2:30 PM"]),
    (datetime(2019, 3, 4, 0, 5, tzinfo=UTC), DatePrecision.TIME, ["March 4, 2019 12:05 am"]),
    (
        datetime(2019, 3, 4, 14, 30, 15, tzinfo=CET),
        DatePrecision.TIME,
        ["4 March 2019 14:30:15 +01:00"],
    ),
    (datetime(2019, 4, 4, 10, tzinfo=CET), DatePrecision.TIME, ["2019-04-04T10:00:00+01:00"]),
    (datetime(2019, 4, 4, 10, tzinfo=UTC), DatePrecision.TIME, ["2019-04-04 10:00"]),
    (
        datetime(2019, 3, 1, tzinfo=UTC),
        DatePrecision.MONTH,
        ["maart 2019", "mrt. 2019", "March 2019"],
    ),
    (datetime(2019, 4, 1, tzinfo=UTC), DatePrecision.MONTH, ["2019-04"]),
    (datetime(2019, 1, 1, tzinfo=UTC), DatePrecision.YEAR, ["2019"]),
]


@pytest.mark.parametrize(
    ("text", "moment", "precision"),
    [
        pytest.param(text, moment, precision, id=text)
        for moment, precision, texts in _SPELLINGS
        for text in texts
    ],
)
def test_dutch_english_and_iso_dates_are_parsed_at_their_precision(
    text: str, moment: datetime, precision: DatePrecision
) -> None:
    assert parse_published(text) == (moment, precision)


@pytest.mark.parametrize(
    "text",
    [
        "gisteren",
        "4 april",  # no year: which one is a guess
        "31 februari 2019",
        "4 brumaire 2019",
        "4 april 2019 25:00",
        "4 april 2019 14:30 in de middag",
        "2019-13-01",
        "13:30",
    ],
)
def test_what_is_not_a_date_is_not_guessed(text: str) -> None:
    assert parse_published(text) is None


def _json(published: str) -> ParsedArticle:
    data = orjson.dumps({"title": "Top", "body": "Kim en Trump in Hanoi.", "published": published})
    result = parse_article("a.json", data)
    assert isinstance(result, ParsedArticle), result
    return result


def test_a_json_article_dated_4_april_2019_is_kept_with_its_date() -> None:
    article = _json("4 april 2019")
    assert article.published == datetime(2019, 4, 4, tzinfo=UTC)
    assert article.published_precision is DatePrecision.DAY
    assert article.warnings == ()
    event = article.to_event("a.json", "0" * 64)
    assert event.published == datetime(2019, 4, 4, tzinfo=UTC)
    assert event.warnings == ()


def test_a_json_article_with_a_date_not_understood_is_kept_undated_with_a_warning() -> None:
    article = _json("gisteren")
    assert article.published is None
    assert article.published_precision is None
    assert article.body == "Kim en Trump in Hanoi."
    event = article.to_event("a.json", "0" * 64)
    assert event.published is None
    assert len(event.warnings) == 1
    assert "'gisteren'" in event.warnings[0]
    assert "left empty" in event.warnings[0]


def test_the_date_does_not_change_the_article_id() -> None:
    assert _json("4 april 2019").article_id == _json("gisteren").article_id
