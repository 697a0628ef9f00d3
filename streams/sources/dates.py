"""Reading the ``published`` date of an inbox article as feeds write it.

Pure functions. Accepted, case-insensitive:

- ISO 8601: ``2019-04-04``, ``2019-04-04T10:00:00+01:00``, ``2019-04-04 10:00``, and the
  shorter ``2019-04`` (month) and ``2019`` (year).
- Dutch and English month names, written out or abbreviated with or without a full stop
  (``april``, ``apr.``, ``mrt``, ``Sept.``), day-month-year (``4 april 2019``, ``4-apr-2019``)
  or month-day-year (``March 4, 2019``, ``April 4th, 2019``), after an optional weekday
  (``zaterdag 4 mei 2019``, ``Thursday, April 4, 2019``); month and year alone
  (``maart 2019``) give the month.
- After a day, a time: ``14:30``, ``14.30 uur`` (Dutch), ``om 9.05 uur``, ``2:30 PM``, with
  optional seconds and an optional offset (``+01:00``, ``Z``, ``UTC``, ``GMT``, ``CET``,
  ``CEST``).

A time without offset is taken as UTC, as for ISO 8601 in the rest of the inbox format. The
precision says what the source stated (year, month, day or time); the unstated rest is filled
with minimums. Anything else, and dates that do not exist (``31 februari 2019``), is not
understood: nothing is guessed, the caller leaves the date empty (no year means no date).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Final

from schemas import DatePrecision

_MONTHS: Final[dict[str, int]] = {
    name: number
    for number, names in enumerate(
        [
            ("januari", "january", "jan"),
            ("februari", "february", "feb", "febr"),
            ("maart", "march", "mrt", "mar", "maa"),
            ("april", "apr"),
            ("mei", "may"),
            ("juni", "june", "jun"),
            ("juli", "july", "jul"),
            ("augustus", "august", "aug"),
            ("september", "sep", "sept"),
            ("oktober", "october", "okt", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}

_WEEKDAYS: Final = (
    "maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|ma|di|wo|do|vr|za|zo"
    "|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    "|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun"
)
_WEEKDAY: Final = re.compile(rf"\A(?:{_WEEKDAYS})\.?,?\s+", re.IGNORECASE)

_MONTH: Final = r"(?P<month>[a-z]+)\.?"
_DAY: Final = r"(?P<day>\d{1,2})(?:st|nd|rd|th|e)?"
_YEAR: Final = r"(?P<year>\d{4})"
_DAY_MONTH_YEAR: Final = re.compile(
    rf"\A{_DAY}\.?(?:\s+|-){_MONTH}(?:\s+|-){_YEAR}(?P<rest>.*)\Z", re.IGNORECASE
)
_MONTH_DAY_YEAR: Final = re.compile(
    rf"\A{_MONTH}\s+{_DAY},?\s+{_YEAR}(?P<rest>.*)\Z", re.IGNORECASE
)
_MONTH_YEAR: Final = re.compile(rf"\A{_MONTH},?\s+{_YEAR}\Z", re.IGNORECASE)
_TIME: Final = re.compile(
    r"\A\s*(?:,|\bom\b|\bat\b|-)?\s*"
    r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2}))?"
    r"\s*(?P<half>[ap]\.?m\.?)?\s*(?:uur\b|u\b|h\b)?"
    r"\s*(?P<zone>z|utc|gmt|cest|cet|[+-]\d{2}:?\d{2})?\s*\Z",
    re.IGNORECASE,
)
_ZONES: Final[dict[str, tzinfo]] = {
    "z": UTC,
    "utc": UTC,
    "gmt": UTC,
    "cet": timezone(timedelta(hours=1)),
    "cest": timezone(timedelta(hours=2)),
}
_ISO_MONTH: Final = re.compile(r"\A(\d{4})-(\d{2})\Z")
_ISO_YEAR: Final = re.compile(r"\A\d{4}\Z")


def parse_published(text: str) -> tuple[datetime, DatePrecision] | None:
    """The moment ``text`` names, aware, with how much of it the text states; None if ``text``
    is not a date this module understands (see the module's docstring)."""
    value = _WEEKDAY.sub("", " ".join(text.split()))
    try:
        return _iso(value) or _named_month(value)
    except ValueError:
        # A day or time that does not exist (31 February, 25:00): not a date.
        return None


def _iso(value: str) -> tuple[datetime, DatePrecision] | None:
    if _ISO_YEAR.match(value):
        return datetime(int(value), 1, 1, tzinfo=UTC), DatePrecision.YEAR
    if month := _ISO_MONTH.match(value):
        return datetime(int(month[1]), int(month[2]), 1, tzinfo=UTC), DatePrecision.MONTH
    if not value[:4].isdigit():
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC), DatePrecision.DAY
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment, DatePrecision.TIME


def _named_month(value: str) -> tuple[datetime, DatePrecision] | None:
    if only := _MONTH_YEAR.match(value):
        month = _MONTHS.get(only["month"].lower())
        if month is None:
            return None
        return datetime(int(only["year"]), month, 1, tzinfo=UTC), DatePrecision.MONTH
    full = _DAY_MONTH_YEAR.match(value) or _MONTH_DAY_YEAR.match(value)
    if full is None:
        return None
    month = _MONTHS.get(full["month"].lower())
    if month is None:
        return None
    year, day = int(full["year"]), int(full["day"])
    rest = full["rest"].strip()
    if not rest:
        return datetime(year, month, day, tzinfo=UTC), DatePrecision.DAY
    time = _TIME.match(rest)
    if time is None:
        return None
    hour = int(time["hour"])
    if time["half"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if time["half"][0].lower() == "p" else 0)
    zone = _zone(time["zone"])
    second = int(time["second"] or 0)
    return datetime(year, month, day, hour, int(time["minute"]), second, tzinfo=zone), (
        DatePrecision.TIME
    )


def _zone(name: str | None) -> tzinfo:
    if name is None:
        return UTC
    if (known := _ZONES.get(name.lower())) is not None:
        return known
    digits = name.replace(":", "")
    offset = timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5]))
    return timezone(-offset if digits[0] == "-" else offset)
