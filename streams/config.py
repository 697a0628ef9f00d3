"""Settings of every newsstream process, read once by the CLI (flags over NEWSSTREAM_* env).

Only the CLI constructs ``Settings``; everything else receives the values it needs as
arguments. Each field's description is its ``--help`` text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED = "embedded"


class Settings(BaseSettings):
    """All settings; env var = ``NEWSSTREAM_`` + the field name in upper case."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSSTREAM_", frozen=True, extra="forbid", validate_default=True
    )

    # --- Kafka ---------------------------------------------------------------------------------
    broker: str = Field(
        default=EMBEDDED,
        description="Kafka bootstrap servers (host:port[,host:port]); 'embedded' starts Tansu.",
    )
    topic_prefix: str = Field(default="news.", description="Prefix of every topic name.")
    partitions: int = Field(default=6, ge=1, description="Partitions of topics the app creates.")
    replication_factor: int = Field(
        default=1, ge=1, description="Replication factor of topics the app creates."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Kafka security protocol."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism (with SASL_* protocols)."
    )
    sasl_username: str | None = Field(default=None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password (secret).")
    ssl_cafile: Path | None = Field(default=None, description="CA bundle for SSL.")
    ssl_certfile: Path | None = Field(default=None, description="Client certificate for SSL.")
    ssl_keyfile: Path | None = Field(default=None, description="Client private key for SSL.")
    ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of the SSL client key (secret)."
    )
    tansu: bool = Field(
        default=False,
        description="The broker is Tansu (e.g. one started by 'newsstream broker'): apply its "
        "compatibility workarounds. Implied by --broker embedded.",
    )
    broker_wait_seconds: float = Field(
        default=60.0,
        ge=0.0,
        description="How long a process waits at start for the broker to answer (retrying "
        "with capped backoff) before it gives up with exit status 1.",
    )
    tansu_port: int = Field(
        default=0, ge=0, le=65535, description="Port of the embedded broker (0: a free one)."
    )

    # --- Files ---------------------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path("data"), description="Where ledgers, sinks and logs are written."
    )
    inbox: Path | None = Field(
        default=None, description="Directory the watcher reads articles from."
    )
    stable_seconds: float = Field(
        default=1.0,
        ge=0.0,
        description="A file is read once its size and mtime did not change for this long "
        "(unless --ready-on-close knows it finished earlier).",
    )
    ready_on_close: bool = Field(
        default=True,
        description="Read a file at once when inotify reports that its writer closed it or "
        "that it was moved in (Linux). Turn off for writers that close and reopen a file "
        "while writing it: then every file waits --stable-seconds.",
    )
    rescan_seconds: float = Field(
        default=30.0, gt=0.0, description="Full rescan of the inbox, as a safety net for inotify."
    )
    max_file_bytes: int = Field(
        default=256 * 1024,
        ge=1,
        description="Files larger than this are dead-lettered (their events must stay under "
        "Kafka's default 1 MB message limit).",
    )
    max_deadletter_payload_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        description="Original bytes up to this size travel in dead-letter events (base64).",
    )

    # --- Worker --------------------------------------------------------------------------------
    app_id: str = Field(default="newsstream", description="Faust app id (consumer group).")
    ner_backend: Literal["e5", "frog"] = Field(
        default="e5",
        description="Named-entity recogniser: e5 (our Dutch+English model, ONNX Runtime) or "
        "frog (Debian's Frog servers, Dutch only).",
    )
    ner_variant: Literal["int8", "fp32"] | None = Field(
        default=None,
        description="Variant of the e5 NER model (default: the model's, int8).",
    )
    alias_file: Path | None = Field(
        default=None,
        description="Your own entity alias table (tab-separated: id, label, names joined by |; "
        "see streams/enrich/data/aliases.tsv); its lines win over the shipped ones.",
    )
    frog_bin: str = Field(default="frog", description="Path of Debian's frog executable.")
    frog_servers: int = Field(default=1, ge=1, le=8, description="Frog NER servers per worker.")
    model_threads: int = Field(
        default=2,
        ge=1,
        description="CPU threads the NER and sentiment models may use (enrichment runs in "
        "one thread off the event loop; scale out with more workers).",
    )
    web_host: str = Field(default="127.0.0.1", description="Bind address of the worker's web.")
    web_port: int = Field(default=6066, ge=0, le=65535, description="Port of the worker's web.")
    trending_window_seconds: int = Field(
        default=3600,
        ge=60,
        le=43200,
        description="Size of the tumbling window of trending entities; it must divide 24 h "
        "(86400 s) evenly (the hopping window is 24 h, advancing by this size, and its figures "
        "are the sums of the tumbling windows).",
    )
    stories_max_articles: int = Field(
        default=20_000,
        ge=100,
        description="Articles the stories stage keeps at most (its window is 72 h of article "
        "time; beyond this count the stories that ended longest ago are dropped early). Bounds "
        "the worker's memory: about 9-15 KB per article held.",
    )
    stuck_seconds: float = Field(
        default=300.0,
        ge=0.0,
        description="Watchdog: when the worker's partitions have lag and no batch finished for "
        "this long, it logs it, reports 'stuck' in health and exits with status 75 so a "
        "supervisor restarts it (0: off).",
    )

    # --- Sinks ---------------------------------------------------------------------------------
    sink_batch_size: int = Field(default=500, ge=1, description="Most events per sink batch.")
    sink_batch_seconds: float = Field(
        default=0.5, gt=0.0, description="Longest wait to fill a sink batch."
    )

    postgres_dsn: SecretStr | None = Field(
        default=None,
        description="PostgreSQL connection string of the postgres sink and search (secret), "
        "e.g. 'host=db user=newsstream dbname=news password=...'.",
    )
    postgres_schema: str = Field(
        default="newsstream", description="PostgreSQL schema the postgres sink writes to."
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level."
    )

    @field_validator("trending_window_seconds")
    @classmethod
    def _divides_a_day(cls, value: int) -> int:
        if 86400 % value:
            raise ValueError(
                f"must divide 24 h (86400 s) evenly, e.g. 600, 900, 1800, 3600 or 7200; got {value}"
            )
        return value

    @property
    def embedded(self) -> bool:
        return self.broker == EMBEDDED

    @property
    def broker_is_tansu(self) -> bool:
        return self.embedded or self.tansu

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)


_SHORT_NAME = "short_name"


def _public(short_name: str) -> Any:
    """A field of ``Topics``: one public topic, named ``prefix + short_name``."""
    return field(metadata={_SHORT_NAME: short_name})


@dataclass(init=False, eq=False)
class Topics:
    """The names of the public topics for one prefix: the one topic table.

    Each public topic is one field, with its short name (the name without the prefix). The
    short names are part of the interface: ``newsstream subscribe`` accepts them, and
    :meth:`all` (the topics the app creates) and :meth:`by_short_name` read this table, so a
    topic added here is known everywhere.
    """

    raw: str = _public("articles.raw")
    enriched: str = _public("articles.enriched")
    entities: str = _public("entities")
    quotes: str = _public("quotes")
    deadletter: str = _public("deadletter")
    trending: str = _public("entities.trending")
    stories: str = _public("stories")

    def __init__(self, prefix: str) -> None:
        for topic in fields(self):
            setattr(self, topic.name, prefix + topic.metadata[_SHORT_NAME])

    def all(self) -> tuple[str, ...]:
        """Every public topic's name, in the table's order."""
        return tuple(getattr(self, topic.name) for topic in fields(self))

    def by_short_name(self) -> dict[str, str]:
        """Every public topic's name under its short name (e.g. ``"stories"``)."""
        return {topic.metadata[_SHORT_NAME]: getattr(self, topic.name) for topic in fields(self)}
