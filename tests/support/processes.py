"""The one harness for running newsstream's real processes, used by the tests and the benchmarks.

``Processes`` starts processes with their output in log files and stops them (SIGTERM, a grace
period, SIGKILL, then whatever they left behind, such as Frog servers in process groups of their
own). ``deployment_env`` is the environment of one isolated deployment (own topic prefix,
consumer groups, data dir and web port) on a broker. ``Stack`` is such a deployment as the
integration and fault tests drive it: the CLI run to completion, long-running CLI processes,
and what users would see (topics, sink files). The benchmarks' deployments (``bench/stacks.py``)
are built on the same pieces.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import orjson

from streams.resources import Resource
from streams.subprocesses import descendants, free_port, stop_processes

T = TypeVar("T")
REPO = Path(__file__).parents[2]
SAMPLES = REPO / "streams" / "samples" / "articles"


def cli_argv(*args: str) -> list[str]:
    """``newsstream ARGS`` as this interpreter runs it (the worktree's code, not an install)."""
    return [sys.executable, "-m", "streams.cli", *args]


def deployment_env(
    bootstrap: str,
    prefix: str,
    app_id: str,
    data_dir: Path,
    partitions: int,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one isolated deployment on ``bootstrap``: this process's environment
    without any ``NEWSSTREAM_*`` of the caller's, the deployment's settings, a free web port,
    then ``extra`` (which wins)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSTREAM_")}
    env.update(
        {
            "NEWSSTREAM_BROKER": bootstrap,
            "NEWSSTREAM_TANSU": "true",
            "NEWSSTREAM_TOPIC_PREFIX": prefix,
            "NEWSSTREAM_APP_ID": app_id,
            "NEWSSTREAM_DATA_DIR": str(data_dir),
            "NEWSSTREAM_WEB_PORT": str(free_port()),
            "NEWSSTREAM_PARTITIONS": str(partitions),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class Proc:
    """One started process; ``log`` holds its stdout and stderr."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def check(self) -> None:
        """Raise with the log's tail if the process exited."""
        if not self.alive():
            tail = "\n".join(self.log_text().splitlines()[-25:])
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")

    def wait_for_log(self, pattern: str, timeout: float, count: int = 1) -> None:
        """Block until ``pattern`` (a regex) occurs ``count`` times in the log."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while len(regex.findall(self.log_text())) < count:
            self.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: no {pattern!r} in its log after {timeout:g} s")
            time.sleep(0.1)


@dataclass
class Processes(Resource):
    """Starts processes, each in its own session with its output in ``logs/NAME.log`` (appended
    to, so a restart under the same name continues the log), and stops all of them on close."""

    logs: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Proc:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                list(argv),
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_cli(self, name: str, args: Sequence[str], env: Mapping[str, str]) -> Proc:
        """``newsstream ARGS`` as the CLI runs it."""
        return self.start(name, cli_argv(*args), env)

    def stop(self, procs: Iterable[Proc], grace: float = 30.0) -> None:
        """SIGTERM all of ``procs`` at once, wait, then kill what is left (descendants too)."""
        chosen = [p for p in procs if p in self.procs]
        families = {p.pid: descendants(p.pid) for p in chosen}
        stop_processes([p.popen for p in chosen], grace)
        for proc in chosen:
            # Whatever the process started and left behind (it was stopped or killed).
            for pid in families[proc.pid]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            self.procs.remove(proc)

    def close(self) -> None:
        """Stop every process still registered, the last started first."""
        self.stop(list(reversed(self.procs)))


@dataclass
class Stack:
    """One isolated newsstream deployment (own topics, group ids, data dir) on the test broker.

    ``processes`` maps each name to the process last started under it; a test that stops one
    itself may ``pop`` it, so that ``stop_all`` leaves it alone.
    """

    env: dict[str, str]
    data_dir: Path
    prefix: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started: Processes = field(init=False)

    def __post_init__(self) -> None:
        self.started = Processes(self.data_dir / "logs")

    def cli(
        self, *args: str, timeout: float = 120.0, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``newsstream ARGS`` to completion."""
        result = subprocess.run(
            cli_argv(*args), env=self.env, capture_output=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"newsstream {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout.decode(errors='replace')}\n{result.stderr.decode(errors='replace')}"
            )
        return result

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start a long-running ``newsstream ARGS`` with its output in the data dir's logs."""
        process = self.started.start_cli(name, args, self.env).popen
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        path = self.data_dir / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tails(self, lines: int = 40) -> str:
        """The last ``lines`` of every started process's log, so a failed wait shows why."""
        tails = []
        for name in sorted(self.processes):
            # Faust's table changelog buffer warns on every burst; it would fill the tail.
            tail = [
                line
                for line in self.log(name).splitlines()
                if "producer buffer full" not in line and "producer flush took" not in line
            ][-lines:]
            tails.append(f"--- {name} (last {len(tail)} lines) ---\n" + "\n".join(tail))
        return "\n".join(tails)

    def assert_running(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(
                    f"{name} exited with {process.returncode}:\n{self.log(name)[-3000:]}"
                )

    def stop_all(self) -> dict[str, int]:
        """Stop every process in ``processes`` (SIGTERM, 60 s, SIGKILL); their exit codes."""
        wanted = [p for p in self.started.procs if p.popen in self.processes.values()]
        self.started.stop(wanted, grace=60.0)
        return {name: process.wait() for name, process in self.processes.items()}

    def topic(self, suffix: str) -> str:
        return self.prefix + suffix

    def events(self, suffix: str, idle_seconds: float = 3.0) -> list[dict[str, object]]:
        """Every event on a topic so far, read with ``newsstream subscribe``."""
        out = self.cli(
            "subscribe", self.topic(suffix), "--from-beginning", "--timeout", str(idle_seconds)
        ).stdout
        return [orjson.loads(line) for line in out.splitlines() if line.strip()]

    def sqlite_rows(
        self, query: str = "SELECT article_id FROM articles"
    ) -> list[tuple[object, ...]]:
        path = self.data_dir / "articles.sqlite3"
        if not path.exists():
            return []
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute(query).fetchall()
        except sqlite3.OperationalError:
            return []  # the sink has not created its tables yet
        finally:
            db.close()

    def jsonl_lines(self) -> list[dict[str, object]]:
        path = self.data_dir / "articles.jsonl"
        if not path.exists():
            return []
        return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


def new_stack(bootstrap: str, data_dir: Path, *, kind: str = "test", **extra_env: str) -> Stack:
    """An isolated deployment on ``bootstrap`` with a run id of its own; nothing started.

    Topic prefix ``<k><run id>.`` and app id ``newsstream-<kind>-<run id>`` (``k``: the first
    letter of ``kind``); three partitions, fast stable/sink timers; ``extra_env`` wins.
    """
    run_id = uuid.uuid4().hex[:8]
    prefix = f"{kind[0]}{run_id}."
    fast = {"NEWSSTREAM_STABLE_SECONDS": "0.2", "NEWSSTREAM_SINK_BATCH_SECONDS": "0.2"}
    env = deployment_env(
        bootstrap, prefix, f"newsstream-{kind}-{run_id}", data_dir, 3, fast | extra_env
    )
    return Stack(env=env, data_dir=data_dir, prefix=prefix)


def wait_until(
    probe: Callable[[], T], ok: Callable[[T], bool], timeout: float, stack: Stack | None = None
) -> T:
    """Poll ``probe`` until ``ok`` holds; fail with the last value (and dead processes) if not."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if ok(value):
            return value
        if stack is not None:
            stack.assert_running()
        if time.monotonic() > deadline:
            context = f"\n{stack.log_tails()}" if stack is not None else ""
            raise AssertionError(
                f"condition not met after {timeout} s; last value: {value!r}{context}"
            )
        time.sleep(0.5)


@contextmanager
def running_stack(bootstrap: str, data_dir: Path) -> Iterator[Stack]:
    """A worker and both sinks on their own topics, stopped (SIGTERM) at the end."""
    stack = new_stack(bootstrap, data_dir)
    try:
        stack.start("worker", "worker")
        stack.start("sink-jsonl", "sink", "jsonl")
        stack.start("sink-sqlite", "sink", "sqlite")
        yield stack
    finally:
        stack.stop_all()
