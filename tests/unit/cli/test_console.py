"""``newsstream up``'s console at 80 columns: article lines and the summary fit, uncut, and the
entity count is the number of distinct entities, as in the SQLite sink."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from rich.console import Console

from schemas import ArticleEnriched, EntityLabel, SentimentLabel
from streams.cli.up import _summary, _Tracker, dashboard_url, distinct_entities, top_entities
from streams.sinks.base import WriteResult
from streams.sinks.sqlite import SqliteSink
from streams.sources.ledger import Outcome
from streams.sources.prepare import FileOutcome
from tests.support.sink_contract import DUTCH, SampleText, make_event

LONG_PATH = "2026/december/a-rather-long-name-of-an-article-file.json"
#: Three-digit counts, the longest label and score: the widest line an article can give.
MANY = SampleText(
    " ".join(f"Persoon{n} sprak." for n in range(120)),
    names=tuple((f"Persoon{n}", EntityLabel.PER, f"Persoon{n}") for n in range(120)),
)


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=80, highlight=False, color_system=None), out


def widest(event: ArticleEnriched) -> ArticleEnriched:
    sentiment = event.sentiment.model_copy(
        update={"label": SentimentLabel.NEGATIVE, "score": -0.99}
    )
    return event.model_copy(update={"sentiment": sentiment})


def settle(tracker: _Tracker, path: str, event: ArticleEnriched) -> None:
    tracker.on_outcome(FileOutcome(path, Outcome.PUBLISHED, event.article_id))
    for sink in ("jsonl", "sqlite"):
        tracker.on_written(sink, [event], WriteResult(inserted=1))


def test_an_article_line_fits_80_columns() -> None:
    out_console, out = console()
    event = widest(make_event("nos-2024-0001", text=MANY))
    settle(_Tracker(out_console), LONG_PATH, event)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert len(lines[0]) <= 80
    assert lines[0].startswith("enriched 2026/december/a-rather-… ")
    assert "120 entities  negative -0.99" in lines[0]


def test_the_summary_fits_80_columns_with_every_header_whole() -> None:
    out_console, out = console()
    tracker = _Tracker(out_console)
    event = widest(make_event("nos-2024-0001", text=MANY))
    settle(tracker, LONG_PATH, event)
    tracker.on_outcome(
        FileOutcome("broken.json", Outcome.DEADLETTER, None, "invalid-json", "line 1")
    )
    tracker.on_outcome(FileOutcome("copy.json", Outcome.DUPLICATE, event.article_id))
    out.truncate(0)
    out.seek(0)
    out_console.print(_summary(tracker))
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    # The header is every line above the rule; the last column's header may take two lines.
    header = text.split("───")[0].split("newsstream up --once")[1]
    for column in ("file", "lang", "entities", "sentiment", "outcome", "top entities"):
        assert f" {column} " in f"{header} ".replace("\n", " "), header
    assert "(mentions)" in header
    assert "…" not in header
    for value in ("-0.99 negative", "in sinks", "dead letter", "invalid-json", "duplicate"):
        assert value in text


def test_the_entity_count_is_the_sqlite_sinks_entity_count(tmp_path: Path) -> None:
    event = make_event("nos-2024-0001", text=DUTCH)
    assert len(event.entities) > distinct_entities(event)  # "Rutte" and "Mark Rutte": one
    out_console, out = console()
    settle(_Tracker(out_console), "nos.json", event)
    shown = int(out.getvalue().split(" entities")[0].split()[-1])

    sink = SqliteSink(tmp_path / "articles.sqlite3")
    sink.open()
    try:
        sink.write([event])
    finally:
        sink.close()
    with sqlite3.connect(tmp_path / "articles.sqlite3") as db:
        (stored,) = db.execute("SELECT entity_count FROM articles").fetchone()
    assert shown == stored == distinct_entities(event)


def test_the_dashboard_url_is_one_a_browser_here_opens() -> None:
    assert dashboard_url("127.0.0.1", 6066) == "http://127.0.0.1:6066/"
    assert dashboard_url("0.0.0.0", 6067) == "http://127.0.0.1:6067/"
    assert dashboard_url("::1", 6068) == "http://[::1]:6068/"


def test_top_entities_are_shown_by_their_display_name() -> None:
    from schemas import Entity

    def entity(text: str, start: int, entity_id: str | None, shown: str | None) -> Entity:
        return Entity(
            text=text,
            label=EntityLabel.LOC,
            start=start,
            end=start + len(text),
            canonical=text,
            entity_id=entity_id,
            display_name=shown,
        )

    event = make_event(text=DUTCH).model_copy(
        update={
            "entities": (
                entity("VS", 0, "loc/united-states", "Verenigde Staten"),
                entity("Amerika", 10, "loc/united-states", "Verenigde Staten"),
                entity("Ootmarsum", 20, None, None),
            )
        }
    )
    assert top_entities(event) == "Verenigde Staten 2\nOotmarsum 1"
