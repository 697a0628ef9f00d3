"""``--help`` of each command offers what the command does with it, and only that."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from streams.cli.main import cli

#: The commands that refuse the embedded broker: they need a --broker HOST:PORT.
EXTERNAL_BROKER = [["worker"], ["watch"], ["sink", "jsonl"], ["subscribe"], ["replay"]]


def help_text(*command: str) -> str:
    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def option_help(output: str, flag: str) -> str:
    """The help of ``flag`` as one line: from the flag to the next option."""
    flat = " ".join(output.split())
    match = re.search(rf"(?:^| ){re.escape(flag)}[ /].*?(?= -[-a-z]|$)", flat)
    assert match, f"{flag} is not in:\n{output}"
    return match.group(0)


def flags(output: str) -> set[str]:
    return set(re.findall(r"^\s+(--[a-z-]+)", output, flags=re.MULTILINE))


@pytest.mark.parametrize("command", EXTERNAL_BROKER, ids=" ".join)
def test_commands_that_need_a_broker_never_offer_the_embedded_one(command: list[str]) -> None:
    output = help_text(*command)
    broker = option_help(output, "--broker")
    assert "required" in broker
    assert "embedded" not in output.lower()


def test_up_still_starts_the_embedded_broker_by_default() -> None:
    assert "default embedded" in option_help(help_text("up"), "--broker")


def test_replay_lists_only_the_options_it_uses() -> None:
    offered = flags(help_text("replay"))
    for worker_only in (
        "--web-host",
        "--web-port",
        "--stuck-seconds",
        "--trending-window-seconds",
        "--stories-max-articles",
    ):
        assert worker_only not in offered
    assert {"--ner-backend", "--app-id", "--to-suffix", "--partitions"} <= offered


def test_subscribe_does_not_offer_the_layout_of_topics_it_never_creates() -> None:
    offered = flags(help_text("subscribe"))
    assert "--partitions" not in offered
    assert "--replication-factor" not in offered
    assert {"--broker", "--topic-prefix", "--broker-wait-seconds"} <= offered


def test_search_limit_says_what_it_limits() -> None:
    assert "at most this many hits" in option_help(help_text("search"), "--limit")


@pytest.mark.parametrize(
    "command", [["enrich"], ["eval", "ner"], ["eval", "sentiment"], ["replay"]], ids=" ".join
)
def test_data_dir_says_the_models_are_cached_there(command: list[str]) -> None:
    data_dir = option_help(help_text(*command), "--data-dir")
    assert "models" in data_dir
    assert "ledger" not in data_dir
    assert "sinks" not in data_dir


def test_the_broker_wait_is_documented_with_its_default() -> None:
    wait = option_help(help_text("watch"), "--broker-wait-seconds")
    assert "exit status 1" in wait
    assert "NEWSSTREAM_BROKER_WAIT_SECONDS" in wait
    assert "default 60.0" in wait


@pytest.mark.parametrize("command", [["up"], *EXTERNAL_BROKER], ids=" ".join)
def test_every_command_that_waits_for_the_broker_offers_the_wait(command: list[str]) -> None:
    assert "--broker-wait-seconds" in flags(help_text(*command))
