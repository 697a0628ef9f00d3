"""Worker settings reach the app: flags and ``NEWSSTREAM_*`` variables, read once, passed down."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from streams.cli.main import cli
from streams.cli.runtime import connection, watcher_config, worker_app_config
from streams.config import Settings


def test_the_stories_cap_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSSTREAM_STORIES_MAX_ARTICLES", "1234")
    settings = Settings()
    config = worker_app_config(settings, connection(settings, "127.0.0.1:9092"))
    assert config.stories_max_articles == 1234


def test_the_stories_cap_defaults_to_twenty_thousand() -> None:
    settings = Settings()
    assert (
        worker_app_config(settings, connection(settings, "127.0.0.1:9092")).stories_max_articles
        == 20_000
    )


def test_a_stories_cap_below_one_hundred_is_refused() -> None:
    with pytest.raises(ValidationError, match="stories_max_articles"):
        Settings(stories_max_articles=10)


def test_the_worker_command_offers_the_stories_cap() -> None:
    result = CliRunner().invoke(cli, ["worker", "--help"])
    assert result.exit_code == 0, result.output
    assert "--stories-max-articles" in result.output


def test_the_watcher_gets_every_watch_setting(tmp_path: Path) -> None:
    settings = Settings(
        stable_seconds=2.5,
        ready_on_close=False,
        rescan_seconds=7.0,
        max_file_bytes=1000,
        max_deadletter_payload_bytes=10,
    )
    config = watcher_config(settings, tmp_path)
    assert (
        config.inbox,
        config.stable_seconds,
        config.ready_on_close,
        config.rescan_seconds,
        config.max_file_bytes,
        config.max_deadletter_payload_bytes,
    ) == (tmp_path, 2.5, False, 7.0, 1000, 10)
