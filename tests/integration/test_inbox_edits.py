"""An inbox file edited between two ``newsstream watch --once`` runs, on the real broker: the
raw topic holds both versions, the newer naming the older in ``supersedes``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streams.kafka.tansu import EmbeddedBroker
from tests.support.processes import new_stack

pytestmark = [pytest.mark.integration]


def test_an_edited_file_reaches_the_raw_topic_as_a_version_that_supersedes_the_first(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    stack = new_stack(broker.bootstrap, tmp_path / "data")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    article = inbox / "top.json"
    article.write_text('{"body": "De top in Hanoi begint morgen.", "published": "4 april 2019"}')
    stack.cli("watch", str(inbox), "--once")
    first = article.stat().st_mtime_ns
    article.write_text('{"body": "De top in Hanoi is afgelopen.", "published": "gisteren"}')
    os.utime(article, ns=(first + 10**9, first + 10**9))  # a later mtime on any clock
    stack.cli("watch", str(inbox), "--once")

    raw = stack.events("articles.raw")
    by_body = {str(e["body"]): e for e in raw}
    assert len(raw) == 2
    old = by_body["De top in Hanoi begint morgen."]
    new = by_body["De top in Hanoi is afgelopen."]
    assert old["supersedes"] is None
    assert new["supersedes"] == old["article_id"]
    assert old["source_id"] == new["source_id"] == "top"
    # Item 11 on the wire too: a Dutch date is kept, one not understood is a warning.
    assert (old["published"], old["published_precision"]) == ("2019-04-04T00:00:00+00:00", "day")
    assert new["published"] is None
    assert len(new["warnings"]) == 1  # type: ignore[arg-type]
