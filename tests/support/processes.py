"""Running newsstream's real CLI processes from tests, and waiting on what users would see."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import orjson

T = TypeVar("T")
REPO = Path(__file__).parents[2]
SAMPLES = REPO / "streams" / "samples" / "articles"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """One isolated newsstream deployment (own topics, group ids, data dir) on the test broker."""

    env: dict[str, str]
    data_dir: Path
    prefix: str
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def cli(
        self, *args: str, timeout: float = 120.0, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``newsstream ARGS`` to completion."""
        result = subprocess.run(
            [sys.executable, "-m", "streams.cli", *args],
            env=self.env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"newsstream {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout.decode(errors='replace')}\n{result.stderr.decode(errors='replace')}"
            )
        return result

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start a long-running ``newsstream ARGS`` with its output in the data dir's logs."""
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with (logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
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
        codes: dict[str, int] = {}
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        return codes

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
    run_id = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSTREAM_")}
    env.update(
        {
            "NEWSSTREAM_BROKER": bootstrap,
            "NEWSSTREAM_TANSU": "true",
            "NEWSSTREAM_TOPIC_PREFIX": f"t{run_id}.",
            "NEWSSTREAM_APP_ID": f"newsstream-test-{run_id}",
            "NEWSSTREAM_DATA_DIR": str(data_dir),
            "NEWSSTREAM_WEB_PORT": str(free_port()),
            "NEWSSTREAM_PARTITIONS": "3",
            "NEWSSTREAM_STABLE_SECONDS": "0.2",
            "NEWSSTREAM_SINK_BATCH_SECONDS": "0.2",
            "PYTHONUNBUFFERED": "1",
        }
    )
    stack = Stack(env=env, data_dir=data_dir, prefix=f"t{run_id}.")
    try:
        stack.start("worker", "worker")
        stack.start("sink-jsonl", "sink", "jsonl")
        stack.start("sink-sqlite", "sink", "sqlite")
        yield stack
    finally:
        stack.stop_all()
