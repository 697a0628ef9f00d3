"""A sink's consumer group, named after what it writes to.

Each sink is its own consumer group, so that every sink gets every event. Two sinks of one kind
that write to different places (``sink jsonl`` and ``sink jsonl --path other.jsonl``) are two
sinks, so the group is derived from the kind, the *destination* and the topic read: the same
sink restarted keeps its group (and its committed offsets), another destination starts its own
group at the beginning of the topic.

The destination is the resolved file path for file sinks, and for PostgreSQL the server, the
database and the schema (never the user or the password: the group name is visible to anyone
who can list the broker's groups). Two spellings of one destination (``localhost`` and
``127.0.0.1``) give two groups: both then write every event, which the idempotent sinks absorb;
the reverse, two destinations sharing a group, would split the events between them.
"""

from __future__ import annotations

import getpass
import hashlib
from collections.abc import Mapping
from pathlib import Path


def sink_group(app_id: str, kind: str, destination: str, topic: str) -> str:
    """The consumer group of the ``kind`` sink writing to ``destination`` from ``topic``:
    ``{app_id}-sink-{kind}-{hash}``, the hash (of the three) naming the destination without
    showing it."""
    digest = hashlib.sha256(f"{kind}\0{destination}\0{topic}".encode()).hexdigest()[:16]
    return f"{app_id}-sink-{kind}-{digest}"


def file_destination(path: Path) -> str:
    """A file sink's destination: its absolute path, symbolic links resolved (the file need
    not exist yet), so every spelling of one file is one destination."""
    return str(path.expanduser().resolve())


def postgres_destination(dsn: str, schema: str, environ: Mapping[str, str]) -> str:
    """The PostgreSQL sink's destination: ``postgresql://HOST:PORT/DBNAME#SCHEMA``, without
    user or password.

    What the DSN leaves out comes from libpq's environment variables in ``environ`` (PGHOST,
    PGPORT, PGDATABASE, PGUSER) and libpq's defaults (port 5432, the local socket, the database
    named after the user), as the connection itself would. Raises ValueError for a DSN that
    cannot be parsed (without repeating it: it may hold a password).
    """
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise ValueError(
            "the postgres sink needs psycopg 3: pip install 'newsstream[postgres]'"
        ) from None
    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # psycopg.ProgrammingError; its message quotes the DSN
        raise ValueError("--postgres-dsn is not a valid PostgreSQL connection string") from None

    def param(name: str, env: str, default: str = "") -> str:
        value = params.get(name)
        return str(value) if value else environ.get(env) or default

    if params.get("service"):
        # The host and database are in the service file: name the destination by the service.
        server = f"service={params['service']}"
    else:
        host = param("host", "PGHOST") or param("hostaddr", "PGHOSTADDR", "local socket")
        server = f"{host}:{param('port', 'PGPORT', '5432')}"
    dbname = param("dbname", "PGDATABASE") or param("user", "PGUSER") or _os_user()
    return f"postgresql://{server}/{dbname}#{schema}"


def _os_user() -> str:
    """libpq's default user (and database) name: the operating system user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        return ""
