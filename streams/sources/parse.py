"""Turn the bytes of one inbox file into an article, or into a clear reason why not.

Pure functions: no file system, no Kafka. The watcher reads the bytes and decides what to do
with the outcome (publish, skip as duplicate, or dead-letter).

Accepted formats, chosen by the file's extension:
- ``.txt``: plain text; an optional marker ``date YYYY-MM[-DD]`` at the very start sets
  ``published`` (with its precision) and is removed from the body.
- ``.md``: like ``.txt``; a first line ``# Title`` becomes the title.
- ``.json``: an object with ``body`` (required), and optional ``title``, ``published``
  (ISO 8601, or Dutch and English month names: :mod:`streams.sources.dates`; a time without
  offset is taken as UTC), ``url``, ``source``. Other keys are ignored. A ``published`` that
  is not understood is left empty, with a warning on the article, rather than losing the
  article over its date.
Text is UTF-8 (a UTF-8 BOM is dropped); UTF-16 with a byte-order mark is decoded too.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Final, Literal

import orjson

from schemas import ArticleIngested, DatePrecision
from schemas.events import utc_now
from streams.sources.dates import parse_published

ContentFormat = Literal["txt", "md", "json"]
SUPPORTED_SUFFIXES: Final[dict[str, ContentFormat]] = {".txt": "txt", ".md": "md", ".json": "json"}

_DATE_MARKER = re.compile(r"\A\s*date\s+(\d{4})-(\d{2})(?:-(\d{2}))?(?=\s|\Z)\s*")
_MD_TITLE = re.compile(r"\A\s*#\s+(.+?)\s*(?:\n|\Z)")
_WHITESPACE = re.compile(r"\s+")
# Text with more than this share of control characters is binary, whatever it decodes as.
_MAX_CONTROL_SHARE: Final = 0.01


@dataclass(frozen=True, slots=True)
class ParsedArticle:
    """The content of a good file, ready to become an ``ArticleIngested`` event."""

    article_id: str
    content_format: ContentFormat
    title: str | None
    body: str
    published: datetime | None
    published_precision: DatePrecision | None
    url: str | None
    source: str | None
    warnings: tuple[str, ...] = ()
    """What the file gave that could not be used (a date not understood), for people."""

    def to_event(
        self, source_path: str, content_sha256: str, supersedes: str | None = None
    ) -> ArticleIngested:
        """The ``ArticleIngested`` event of this article, read from ``source_path`` now;
        ``supersedes``: the article id of the earlier version of that file it replaces."""
        return ArticleIngested(
            article_id=self.article_id,
            source_id=PurePosixPath(source_path).stem or source_path,
            source_path=source_path,
            content_format=self.content_format,
            content_sha256=content_sha256,
            title=self.title,
            body=self.body,
            published=self.published,
            published_precision=self.published_precision,
            url=self.url,
            source=self.source,
            ingested_at=utc_now(),
            supersedes=supersedes,
            warnings=self.warnings,
        )


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a file cannot become an article. ``reason`` is a stable machine-readable code."""

    reason: str
    detail: str


def content_format_of(name: str) -> ContentFormat | None:
    """The format for a file name, or None if the extension is not supported."""
    lower = name.lower()
    for suffix, fmt in SUPPORTED_SUFFIXES.items():
        if lower.endswith(suffix):
            return fmt
    return None


def article_id_for(title: str | None, body: str) -> str:
    """Stable id of an article's content: whitespace and Unicode normalisation do not change it."""
    normalised = _normalise_for_id(title or "") + "\n\n" + _normalise_for_id(body)
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:32]


def _normalise_for_id(text: str) -> str:
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def parse_article(name: str, data: bytes) -> ParsedArticle | Rejected:
    """Parse one file's bytes; ``name`` is its file name (for the extension only)."""
    fmt = content_format_of(name)
    if fmt is None:
        return Rejected("unsupported-format", f"{name!r}: supported are .txt, .md and .json")
    if not data.strip():
        return Rejected("empty-file", "the file is empty or whitespace only")
    text = _decode_text(data)
    if isinstance(text, Rejected):
        return text
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    if fmt == "json":
        return _parse_json(text)
    return _parse_text(text, fmt)


def _decode_text(data: bytes) -> str | Rejected:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            return Rejected("undecodable-text", f"UTF-16 byte-order mark but invalid UTF-16: {exc}")
    else:
        if b"\x00" in data:
            return Rejected("binary", "the file contains NUL bytes: not a text file")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return Rejected(
                "undecodable-text",
                f"not valid UTF-8 at byte {exc.start} (save the file as UTF-8): {exc.reason}",
            )
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
    if "\x00" in text or controls > max(1, len(text) * _MAX_CONTROL_SHARE):
        return Rejected("binary", f"{controls} control characters: not a text file")
    return text


def _parse_text(text: str, fmt: ContentFormat) -> ParsedArticle | Rejected:
    published: datetime | None = None
    precision: DatePrecision | None = None
    marker = _DATE_MARKER.match(text)
    if marker:
        year, month, day = marker.group(1), marker.group(2), marker.group(3)
        try:
            published = datetime(int(year), int(month), int(day or 1), tzinfo=UTC)
        except ValueError as exc:
            return Rejected("invalid-date", f"date marker {marker.group(0).strip()!r}: {exc}")
        precision = DatePrecision.DAY if day else DatePrecision.MONTH
        text = text[marker.end() :]
    title: str | None = None
    if fmt == "md":
        heading = _MD_TITLE.match(text)
        if heading:
            title = heading.group(1)
            text = text[heading.end() :]
    body = text.strip()
    if not body:
        return Rejected("empty-body", "no article text (only a date marker or a title)")
    return ParsedArticle(
        article_id=article_id_for(title, body),
        content_format=fmt,
        title=title,
        body=body,
        published=published,
        published_precision=precision,
        url=None,
        source=None,
    )


def _parse_json(text: str) -> ParsedArticle | Rejected:
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return Rejected("invalid-json", str(exc))
    if not isinstance(raw, dict):
        return Rejected("invalid-article", f"expected a JSON object, got {type(raw).__name__}")
    body = raw.get("body")
    if body is None:
        return Rejected("invalid-article", "the JSON object has no 'body'")
    if not isinstance(body, str):
        return Rejected("invalid-article", f"'body' must be a string, got {type(body).__name__}")
    fields: dict[str, str | None] = {}
    for key in ("title", "url", "source", "published"):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            return Rejected(
                "invalid-article", f"{key!r} must be a string, got {type(value).__name__}"
            )
        fields[key] = value.strip() or None if isinstance(value, str) else None
    body = body.strip()
    if not body:
        return Rejected("empty-body", "'body' is empty")
    published, precision, warnings = _published(fields["published"])
    return ParsedArticle(
        article_id=article_id_for(fields["title"], body),
        content_format="json",
        title=fields["title"],
        body=body,
        published=published,
        published_precision=precision,
        url=fields["url"],
        source=fields["source"],
        warnings=warnings,
    )


def _published(
    value: str | None,
) -> tuple[datetime | None, DatePrecision | None, tuple[str, ...]]:
    """``published``, its precision and the warnings about it: a date that is not understood
    costs the article its date, not the article."""
    if value is None:
        return None, None, ()
    parsed = parse_published(value)
    if parsed is None:
        warning = (
            f"'published' {value!r} was not understood as a date (ISO 8601, or a day, month "
            "and year with a Dutch or English month name); it is left empty"
        )
        return None, None, (warning,)
    return parsed[0], parsed[1], ()
