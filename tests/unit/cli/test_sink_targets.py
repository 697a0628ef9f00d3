"""Which sink ``newsstream sink`` runs: its destination, topic and consumer group.

Two sinks writing to different places must be two consumer groups (each gets every event);
the same sink restarted must keep its group (it resumes where it stopped); a password never
shows in a group name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from streams.cli.runtime import make_sink, resolve_topic
from streams.cli.sink_groups import postgres_destination
from streams.config import Settings, Topics
from streams.sinks.deadletters import DeadLetterSink
from streams.sinks.jsonl import JsonlSink


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", app_id="newsstream")


def test_jsonl_sinks_writing_to_other_files_are_other_groups(
    settings: Settings, tmp_path: Path
) -> None:
    default = make_sink(settings, "jsonl")
    other = make_sink(settings, "jsonl", tmp_path / "other.jsonl")
    assert isinstance(default.sink, JsonlSink)
    assert default.sink.path == settings.data_dir / "articles.jsonl"
    assert default.group != other.group
    assert default.group.startswith("newsstream-sink-jsonl-")
    assert default.topic == other.topic == "news.articles.enriched"


def test_the_same_file_is_the_same_group_however_it_is_spelled(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_sink(settings, "sqlite", tmp_path / "db" / "articles.sqlite3")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "db").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "db")
    for spelling in ("db/articles.sqlite3", "db/../db/articles.sqlite3", "link/articles.sqlite3"):
        again = make_sink(settings, "sqlite", Path(spelling))
        assert again.group == first.group, spelling
        assert again.destination == str(tmp_path.resolve() / "db" / "articles.sqlite3")


def test_another_kind_or_topic_is_another_group(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    groups = {
        make_sink(settings, "jsonl", path).group,
        make_sink(settings, "deadletters", path).group,
        make_sink(settings, "jsonl", path, "articles.enriched.v2").group,
    }
    assert len(groups) == 3


def test_the_dead_letter_sink_reads_the_dead_letter_topic_into_the_data_dir(
    settings: Settings,
) -> None:
    target = make_sink(settings, "deadletters")
    assert isinstance(target.sink, DeadLetterSink)
    assert target.sink.path == settings.data_dir / "deadletters.jsonl"
    assert target.topic == "news.deadletter"
    assert target.group.startswith("newsstream-sink-deadletters-")


@pytest.mark.parametrize(
    ("given", "topic"),
    [
        ("articles.enriched", "news.articles.enriched"),
        ("articles.enriched.v2", "news.articles.enriched.v2"),
        ("news.articles.enriched.v2", "news.articles.enriched.v2"),
        ("entities.trending", "news.entities.trending"),
        ("quotes.v2", "news.quotes.v2"),
        ("other.topic", "other.topic"),
    ],
)
def test_sink_topics_are_full_or_short_names(settings: Settings, given: str, topic: str) -> None:
    assert resolve_topic(given, Topics("news.")) == topic
    assert make_sink(settings, "jsonl", topic=given).topic == topic


def test_a_postgres_group_never_holds_the_password(settings: Settings) -> None:
    def target(dsn: str, schema: str = "newsstream") -> tuple[str, str]:
        configured = settings.model_copy(
            update={"postgres_dsn": SecretStr(dsn), "postgres_schema": schema}
        )
        made = make_sink(configured, "postgres")
        return made.destination, made.group

    destination, group = target("host=db port=5433 dbname=news user=u password=hunter2")
    assert "hunter2" not in destination + group
    assert destination == "postgresql://db:5433/news#newsstream"
    assert target("postgresql://u:other-secret@db:5433/news") == (destination, group)
    assert target("host=db port=5433 dbname=news user=u", schema="v2")[1] != group
    assert target("host=db port=5433 dbname=archive user=u")[1] != group
    assert target("host=db2 port=5433 dbname=news user=u")[1] != group


def test_an_invalid_dsn_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError, match="not a valid") as raised:
        postgres_destination("host=db password='unterminated", "newsstream", {})
    assert "unterminated" not in str(raised.value)


def test_what_the_dsn_leaves_out_comes_from_libpq_s_environment() -> None:
    env = {"PGHOST": "envhost", "PGPORT": "6543", "PGUSER": "alice"}
    assert postgres_destination("", "s", env) == "postgresql://envhost:6543/alice#s"
    assert postgres_destination("dbname=news", "s", {}) == "postgresql://local socket:5432/news#s"
    service = postgres_destination("service=prod dbname=news", "s", {})
    assert service == "postgresql://service=prod/news#s"
