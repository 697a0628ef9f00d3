"""Deployments the benchmarks measure: real ``newsstream`` processes on an embedded broker.

A ``Stack`` is one isolated deployment (its own topic prefix, consumer groups and data dir),
started by the harness the tests use too (``tests/support/processes.py``): workers
(``newsstream worker``, or ``python -m bench.worker`` for the identity and naive Faust paths),
the watcher (``newsstream watch``) and the sinks (``newsstream sink``), each a process of its
own.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped, unused-ignore]

from bench.corpus import Article
from streams.config import Topics
from streams.kafka.client import KafkaConnection
from streams.resources import Resource
from tests.support.processes import Proc, Processes, deployment_env

READY = r"\[\^Worker\]: Ready"
#: Longest wait for a worker to load its models and join its group on a busy 2-core machine.
START_TIMEOUT = 240.0


@dataclass
class Stack:
    name: str
    bootstrap: str
    root: Path
    partitions: int = 6
    extra_env: Mapping[str, str] = field(default_factory=dict)
    workers: list[Proc] = field(default_factory=list)
    watcher: Proc | None = None
    sinks: list[Proc] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"{self.name}."

    @property
    def app_id(self) -> str:
        return f"bench-{self.name}"

    @property
    def topics(self) -> Topics:
        return Topics(self.prefix)

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def sqlite_path(self) -> Path:
        return self.root / "articles.sqlite3"

    @property
    def conn(self) -> KafkaConnection:
        return KafkaConnection(bootstrap_servers=self.bootstrap, is_tansu=True)

    def env(self, data_dir: Path | None = None) -> dict[str, str]:
        return deployment_env(
            self.bootstrap,
            self.prefix,
            self.app_id,
            data_dir or self.root,
            self.partitions,
            self.extra_env,
        )

    # --- processes -----------------------------------------------------------------------------

    def start_worker(self, procs: Processes, kind: str = "nlp", gate: Path | None = None) -> Proc:
        """``newsstream worker`` (kind ``nlp``) or ``python -m bench.worker KIND``.

        With ``BENCH_BATCH_MAX`` in the stack's env, ``nlp`` runs ``bench.worker nlp`` (the
        same worker with that batch size) instead of the CLI.
        """
        index = len(self.workers) + 1
        data_dir = self.root / f"worker{index}"
        name = f"{self.name}-worker{index}"
        if kind == "nlp" and "BENCH_BATCH_MAX" not in self.extra_env:
            proc = procs.start_cli(name, ["worker"], self.env(data_dir))
        else:
            argv = [sys.executable, "-m", "bench.worker", kind]
            if gate is not None:
                argv += ["--gate", str(gate)]
            proc = procs.start(name, argv, self.env(data_dir))
        self.workers.append(proc)
        return proc

    def start_watcher(self, procs: Processes) -> Proc:
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.watcher = procs.start_cli(
            f"{self.name}-watcher", ["watch", str(self.inbox)], self.env()
        )
        return self.watcher

    def start_sinks(self, procs: Processes, kinds: Iterable[str] = ("sqlite", "jsonl")) -> None:
        for kind in kinds:
            name = f"{self.name}-sink-{kind}"
            self.sinks.append(procs.start_cli(name, ["sink", kind], self.env()))

    @property
    def procs(self) -> list[Proc]:
        return [*self.workers, *([self.watcher] if self.watcher else []), *self.sinks]

    def check(self) -> None:
        for proc in self.procs:
            proc.check()

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Every worker of the stack has joined its group at least once."""
        for worker in self.workers:
            worker.wait_for_log(READY, timeout)


async def group_members(conn: KafkaConnection, group: str) -> tuple[str, int]:
    """(state, number of members) of a consumer group, from DescribeGroups."""
    admin = AIOKafkaAdminClient(**conn.admin_kwargs())
    await admin.start()
    try:
        response = await admin.describe_consumer_groups([group])
        for answer in response:
            for _error, _group, state, _ptype, _protocol, members in answer.groups:
                return str(state), len(members)
        return "unknown", 0
    finally:
        await admin.close()


def wait_group(stack: Stack, members: int, timeout: float = START_TIMEOUT) -> None:
    """Block until the stack's worker group is Stable with ``members`` members."""
    deadline = time.monotonic() + timeout
    while True:
        state, count = asyncio.run(group_members(stack.conn, stack.app_id))
        if state == "Stable" and count == members:
            return
        stack.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"group {stack.app_id}: {state} with {count} members")
        time.sleep(0.5)


def drop(inbox: Path, article: Article) -> float:
    """Put ``article`` into ``inbox`` as a complete ``.json`` file at once; the wall time."""
    final = inbox / f"{article.name}.json"
    temporary = inbox / f".{article.name}.json.part"
    temporary.write_bytes(article.file_bytes())
    temporary.replace(final)
    return time.time()


class RowWatcher(Resource):
    """Polls a SQLite sink's ``articles`` table; records when each article id first appeared.

    Runs in a thread every ``interval`` seconds (read-only connection, WAL: it never blocks
    the sink). ``seen`` maps article id -> wall-clock time (``time.time()``) of the poll that
    found it, so a row's time is late by at most ``interval``.
    """

    def __init__(self, path: Path, interval: float = 0.02) -> None:
        self._path = path
        self._interval = interval
        self.seen: dict[str, float] = {}
        self._last_rowid = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="row-watcher", daemon=True)
        self.error: BaseException | None = None

    def open(self) -> None:
        """Start polling; called on entering ``with``."""
        self._thread.start()

    def close(self) -> None:
        """Stop polling; called on leaving ``with``."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        db: sqlite3.Connection | None = None
        try:
            while not self._stop.is_set():
                if db is None and self._path.exists():
                    db = sqlite3.connect(f"file:{self._path}?mode=ro", uri=True)
                if db is not None:
                    self._poll(db)
                self._stop.wait(self._interval)
        except BaseException as exc:  # reported by wait_for
            self.error = exc
        finally:
            if db is not None:
                db.close()

    def _poll(self, db: sqlite3.Connection) -> None:
        try:
            rows = db.execute(
                "SELECT rowid, article_id FROM articles WHERE rowid > ? ORDER BY rowid",
                (self._last_rowid,),
            ).fetchall()
        except sqlite3.OperationalError:
            return  # the sink has not created its tables yet
        now = time.time()
        for rowid, article_id in rows:
            self.seen.setdefault(str(article_id), now)
            self._last_rowid = max(self._last_rowid, int(rowid))

    def wait_for(
        self, ids: Iterable[str], timeout: float, check: Callable[[], None] = lambda: None
    ) -> dict[str, float]:
        """Block until every id has a row; return their first-seen times."""
        wanted = set(ids)
        deadline = time.monotonic() + timeout
        while True:
            if self.error is not None:
                raise RuntimeError(f"row watcher failed: {self.error!r}")
            missing = wanted - self.seen.keys()
            if not missing:
                return {i: self.seen[i] for i in wanted}
            check()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(missing)} of {len(wanted)} articles not in {self._path} after "
                    f"{timeout:g} s"
                )
            time.sleep(0.05)


def jsonl_count(path: Path) -> int:
    with contextlib.suppress(OSError), path.open("rb") as f:
        return sum(1 for line in f if line.strip())
    return 0
