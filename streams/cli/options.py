"""Click options generated from ``Settings``, so flags, env vars and ``--help`` never drift apart.

A flag that is not given stays ``None`` and the value comes from ``NEWSSTREAM_*`` or the
default; ``load_settings`` reads them all once, through pydantic-settings.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import click
from pydantic import SecretStr, ValidationError

from streams.config import Settings
from streams.kafka.client import SECURITY_SETTINGS

F = TypeVar("F", bound=Callable[..., Any])

#: How a process reaches the broker and names the topics: every command that talks to Kafka.
KAFKA_CLIENT = ("broker", "tansu", "topic_prefix", *SECURITY_SETTINGS)
#: How the topics a process creates are laid out: the commands that create topics.
KAFKA = (*KAFKA_CLIENT, "partitions", "replication_factor")
#: How long a command that talks to Kafka waits for it at start.
BROKER_WAIT = ("broker_wait_seconds",)
WATCH = (
    "stable_seconds",
    "ready_on_close",
    "rescan_seconds",
    "max_file_bytes",
    "max_deadletter_payload_bytes",
)
ENRICH = (
    "ner_backend",
    "ner_variant",
    "alias_file",
    "frog_bin",
    "frog_servers",
    "model_threads",
)
WORKER = (
    "app_id",
    *ENRICH,
    "web_host",
    "web_port",
    "stuck_seconds",
    "trending_window_seconds",
    "stories_max_articles",
)
SINK = ("sink_batch_size", "sink_batch_seconds", "app_id")
POSTGRES = ("postgres_dsn", "postgres_schema")
COMMON = ("data_dir", "log_level")

#: ``--broker`` of the commands that refuse the embedded broker (all but ``up`` and
#: ``broker``): their help must not offer 'embedded' as the default.
EXTERNAL_BROKER_HELP = {
    "broker": "Kafka bootstrap servers, host:port[,host:port]; required (start a broker with "
    "'newsstream broker', or run everything with 'newsstream up').",
    "tansu": "The broker is a Tansu (e.g. one started by 'newsstream broker'): apply its "
    "compatibility workarounds.",
}
#: ``--data-dir`` of the commands that only need the models' cache there.
MODEL_CACHE_HELP = {
    "data_dir": "Where the NER and sentiment models are cached (DATA_DIR/models: rebuilt "
    "there at first use, only loaded afterwards)."
}


def _click_type(annotation: Any) -> tuple[Any, bool]:
    """The click type for a field's annotation, and whether it is a boolean flag."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _click_type(args[0])
    if origin is Literal:
        return click.Choice([str(a) for a in args]), False
    if annotation is bool:
        return bool, True
    if annotation is int:
        return int, False
    if annotation is float:
        return float, False
    if annotation is Path:
        return click.Path(path_type=Path), False
    if annotation is SecretStr:
        return str, False
    return str, False


def settings_options(*names: str, helps: Mapping[str, str] | None = None) -> Callable[[F], F]:
    """Add one ``--flag`` per named setting, documented with its env var and default.

    ``helps`` replaces the help of some settings for this command (where the field's own
    description, written for every command, would mislead); their default is then not shown.
    """
    helps = helps or {}

    def decorate(func: F) -> F:
        for name in reversed(dict.fromkeys(names)):
            field = Settings.model_fields[name]
            click_type, is_flag = _click_type(field.annotation)
            env = f"NEWSSTREAM_{name.upper()}"
            default = field.default
            shown = (
                ""
                if default is None or isinstance(default, SecretStr) or name in helps
                else f"; default {default}"
            )
            help_text = f"{helps.get(name, field.description)} [env: {env}{shown}]"
            flag = "--" + name.replace("_", "-")
            if is_flag:
                func = click.option(
                    f"{flag}/--no-{name.replace('_', '-')}", name, default=None, help=help_text
                )(func)
            else:
                func = click.option(flag, name, type=click_type, default=None, help=help_text)(func)
        return func

    return decorate


def directory_option(flag: str, help_text: str) -> Callable[[F], F]:
    """An optional ``flag`` naming a directory; None when not given."""
    return click.option(
        flag, type=click.Path(file_okay=False, path_type=Path), default=None, help=help_text
    )


def load_settings(**flags: Any) -> Settings:
    """Settings from the given flags (those not None) over ``NEWSSTREAM_*`` and defaults."""
    given = {k: v for k, v in flags.items() if v is not None and k in Settings.model_fields}
    try:
        return Settings(**given)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise click.UsageError("invalid settings:\n" + "\n".join(lines)) from None


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``NEWSSTREAM_*`` variables that reproduce ``settings`` in a child process.

    Secrets are included (the child needs them) but only ever placed in a child's environment,
    never printed or logged.
    """
    env: dict[str, str] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"NEWSSTREAM_{name.upper()}"] = str(value)
    return env
