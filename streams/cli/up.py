"""``newsstream up``: the whole pipeline on one machine, with a live view.

Processes: the embedded broker (a Tansu subprocess, unless ``--broker`` names a Kafka), one
Faust worker (a ``newsstream worker`` subprocess, so that its model servers and its event loop
are its own), and, in this process, the watcher, the JSONL and SQLite sinks and a dead-letter
follower that tell the console what happens to every file, and the dead-letter sink that keeps
the dead letters in the data dir (``deadletters.jsonl``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from schemas import ArticleEnriched, DeadLetter, DecodeError, decode
from streams.cli import runtime
from streams.cli.options import settings_env
from streams.cli.process import run_until_signal, setup_logging
from streams.config import Settings
from streams.kafka import reads
from streams.kafka.client import KafkaConnection
from streams.sinks.base import WriteResult
from streams.sources.ledger import Outcome
from streams.sources.prepare import FileOutcome
from streams.subprocesses import free_port, stop_process

SINKS = ("jsonl", "sqlite")
#: How long each step of stopping may take: the dead-letter sink storing the last dead letters
#: (``--once``), the watcher and the sinks finishing their batch, the worker exiting on SIGTERM.
_STOP_SECONDS = 30.0


def sample_inbox() -> Path:
    """The sample articles shipped with the package (the two Dutch seed articles)."""
    return Path(str(resources.files("streams") / "samples" / "articles"))


@dataclass
class _FileState:
    outcome: FileOutcome
    sinks: set[str] = field(default_factory=set)
    enriched: ArticleEnriched | None = None
    deadletter: DeadLetter | None = None

    @property
    def settled(self) -> bool:
        if self.outcome.outcome is not Outcome.PUBLISHED:
            return True
        return self.deadletter is not None or self.sinks >= set(SINKS)

    @property
    def failed(self) -> bool:
        return self.outcome.outcome is Outcome.DEADLETTER or self.deadletter is not None


class _Tracker:
    """Follows every file from the watcher to the sinks or the dead-letter topic."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.files: dict[str, _FileState] = {}
        self.by_article: dict[str, list[_FileState]] = {}
        self.changed = asyncio.Event()
        self.progress: Progress | None = None
        self.task_id: TaskID | None = None
        self._backfill_left = 0
        self._shown: set[str] = set()
        self.backfilled = False
        """Whether the files present at start were all handled (the watcher then follows)."""

    def on_backfill_start(self, total: int) -> None:
        self._backfill_left = total
        self.backfilled = total == 0
        if total and self.progress is not None:
            self.task_id = self.progress.add_task("backfill", total=total)

    def on_outcome(self, outcome: FileOutcome) -> None:
        state = _FileState(outcome)
        self.files[outcome.path] = state
        if outcome.article_id is not None and outcome.outcome is Outcome.PUBLISHED:
            self.by_article.setdefault(outcome.article_id, []).append(state)
        if outcome.outcome is Outcome.DEADLETTER:
            self.console.print(
                f"[red]dead letter[/] {outcome.path}: {outcome.reason} ({outcome.detail})"
            )
        elif outcome.outcome is Outcome.DUPLICATE:
            self.console.print(
                f"[yellow]duplicate[/]   {outcome.path} (same content as "
                f"article {outcome.article_id})"
            )
        self._settle(state)

    def on_written(self, sink: str, events: Sequence[ArticleEnriched], _: WriteResult) -> None:
        for event in events:
            for state in self.by_article.get(event.article_id, []):
                state.sinks.add(sink)
                state.enriched = event
                self._settle(state)

    def on_deadletter(self, value: bytes) -> None:
        try:
            letter = decode(value, DeadLetter)
        except DecodeError:
            return
        origin = letter.origin
        key = getattr(origin, "key", None)
        for state in self.by_article.get(key or "", []):
            state.deadletter = letter
            self.console.print(
                f"[red]dead letter[/] {state.outcome.path}: {letter.stage.value} {letter.reason}"
                f" ({letter.detail})"
            )
            self._settle(state)

    def _settle(self, state: _FileState) -> None:
        if not state.settled or state.outcome.path in self._shown:
            return
        self._shown.add(state.outcome.path)
        event = state.enriched
        if event is not None and state.deadletter is None:
            self.console.print(_article_line(state.outcome.path, event))
        # Only the files present at start make up the backfill; the bar goes when it is done.
        if not self.backfilled:
            self._backfill_left -= 1
            self.backfilled = self._backfill_left <= 0
            if self.progress is not None and self.task_id is not None:
                self.progress.advance(self.task_id)
                if self.backfilled:
                    self.progress.remove_task(self.task_id)
                    self.task_id = None
        self.changed.set()

    def all_settled(self) -> bool:
        return all(s.settled for s in self.files.values())

    def idle(self) -> bool:
        """Every file present at start, and every one since, reached the sinks or failed."""
        return self.backfilled and self.all_settled()


def distinct_entities(event: ArticleEnriched) -> int:
    """How many distinct entities an article names: one per entity id (the linker's), else per
    canonical name and label. The console shows this count, as SQLite's ``entity_count``."""
    return len({e.entity_id or f"{e.label.value}:{e.canonical}" for e in event.entities})


def _article_line(path: str, event: ArticleEnriched) -> str:
    """One line per article, at most 76 columns, so that it fits an 80-column terminal."""
    colour = {"negative": "red", "neutral": "white", "positive": "green"}[event.sentiment.label]
    return (
        f"[green]enriched[/] {_short(path, 24):24} {event.article_id[:8]}"
        f"  {event.language.code}  {distinct_entities(event):3d} entities"
        f"  [{colour}]{event.sentiment.label.value} {event.sentiment.score:+.2f}[/]"
    )


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def top_entities(event: ArticleEnriched, limit: int = 4) -> str:
    """The most mentioned persons, places and organisations of an article, for people: one per
    line, each by the name shown for it ("Verenigde Staten" for "VS"), with its number of
    mentions."""
    counts: dict[str, int] = {}
    for entity in event.entities:
        if entity.label.value != "MISC":
            counts[entity.shown_name] = counts.get(entity.shown_name, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return "\n".join(f"{name} {n}" for name, n in ranked)


def _summary(tracker: _Tracker) -> Table:
    """The ``--once`` summary. At 80 columns the fixed columns take 64 with their spacing, and
    the last one wraps in the rest: no header or value is ever cut."""
    table = Table(
        title="newsstream up --once", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
    )
    table.add_column("file", no_wrap=True, max_width=16, overflow="ellipsis")
    table.add_column("lang", no_wrap=True)
    table.add_column("entities", justify="right", no_wrap=True)
    table.add_column("sentiment", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("top entities (mentions)", ratio=1, min_width=12)
    for path, state in sorted(tracker.files.items()):
        event = state.enriched
        details = top_entities(event) if event else ""
        if state.deadletter is not None:
            outcome = "[red]dead letter[/]"
            details = f"{state.deadletter.stage.value} {state.deadletter.reason}"
        elif state.outcome.outcome is Outcome.DEADLETTER:
            outcome = "[red]dead letter[/]"
            details = state.outcome.reason or ""
        elif state.outcome.outcome is Outcome.DUPLICATE:
            outcome = "[yellow]duplicate[/]"
            details = f"of {state.outcome.article_id}"
        else:
            outcome = "[green]in sinks[/]" if state.settled else "[red]not finished[/]"
        table.add_row(
            path,
            event.language.code if event else "",
            str(distinct_entities(event)) if event else "",
            f"{event.sentiment.score:+.2f} {event.sentiment.label.value}" if event else "",
            outcome,
            details,
        )
    return table


async def _stored(deadletters: asyncio.Task[object], console: Console) -> None:
    """Wait (bounded) for the finishing dead-letter sink to store every dead letter so far."""
    try:
        await asyncio.wait_for(asyncio.shield(deadletters), _STOP_SECONDS)
    except TimeoutError:
        console.print("[red]not every dead letter reached the dead-letter file in time[/]")


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def _embedded_broker(settings: Settings, logs: Path) -> Iterator[str | None]:
    if not settings.embedded:
        yield None
        return
    from streams.kafka.tansu import EmbeddedBroker

    with EmbeddedBroker(port=settings.tansu_port, log_file=logs / "broker.log") as broker:
        yield broker.bootstrap


def _web_port(settings: Settings) -> int:
    """The worker's web port: ``web_port``, or a free one when another program holds it (a
    second ``up``, an old worker), so the demo still starts; the console says which."""
    if _port_is_free(settings.web_host, settings.web_port):
        return settings.web_port
    return free_port(settings.web_host)


def dashboard_url(host: str, port: int) -> str:
    """The address a browser on this machine opens for a worker's web server on ``host``."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (all interfaces: this machine is one)
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def _start_worker(
    settings: Settings, bootstrap: str, logs: Path, web_port: int
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(settings_env(settings))
    env["NEWSSTREAM_BROKER"] = bootstrap
    env["NEWSSTREAM_TANSU"] = "true" if settings.broker_is_tansu else "false"
    env["NEWSSTREAM_WEB_PORT"] = str(web_port)
    log_file = (logs / "worker.log").open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Its own process group: Ctrl-C reaches only us, and we stop it in order.
            start_new_session=True,
        )
    finally:
        log_file.close()


async def _stop_tasks(
    stop: asyncio.Event, stopping: list[asyncio.Task[object]], follower: asyncio.Task[object]
) -> None:
    """Stop the watcher and the sinks through ``stop`` and wait for them: each sink finishes
    its batch, commits its offsets and leaves its group while the broker still runs (cancelled
    instead, a commit in flight fails on the closed connection, an ERROR in the log). Only
    what does not stop in time, and the dead-letter follower, are cancelled."""
    stop.set()
    follower.cancel()
    _, late = await asyncio.wait(stopping, timeout=_STOP_SECONDS)
    for task in late:
        task.cancel()
    await asyncio.gather(*stopping, follower, return_exceptions=True)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_up(settings: Settings, once: bool, timeout: float) -> int:
    """Run the pipeline; returns the process exit code."""
    console = Console(highlight=False)
    inbox = settings.inbox or sample_inbox()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logs = settings.data_dir / "logs"
    logs.mkdir(exist_ok=True)
    setup_logging(settings, logs / "up.log")
    console.print(
        f"inbox    {inbox}\ndata dir {settings.data_dir}  (logs in {logs})",
        soft_wrap=True,
        markup=False,
    )
    with _embedded_broker(settings, logs) as embedded:
        bootstrap = embedded or settings.broker
        console.print(f"broker   {bootstrap}{' (embedded Tansu, in memory)' if embedded else ''}")
        conn = runtime.connection(settings, bootstrap)
        if conn.is_tansu:
            from streams.kafka.compat import apply_tansu_compat

            apply_tansu_compat()
        asyncio.run(runtime.prepare_broker(conn, settings))
        web_port = _web_port(settings)
        worker = _start_worker(settings, bootstrap, logs, web_port)
        console.print(f"worker   pid {worker.pid} (loading models; first results take a while)")
        url = dashboard_url(settings.web_host, web_port)
        console.print(f"dashboard {url} (ready once the worker has started)")
        if web_port != settings.web_port:
            console.print(
                f"[yellow]port {settings.web_port} is taken[/]: the dashboard uses {web_port}"
                " (choose with --web-port)"
            )
        try:
            stop = asyncio.Event()
            code = run_until_signal(
                _main(settings, conn, inbox, once, timeout, console, worker, logs, stop), stop
            )
        except KeyboardInterrupt:
            code = 130
        finally:
            console.print("stopping worker ...")
            stop_process(worker, _STOP_SECONDS)
        console.print("stopped")
        return code


async def _main(
    settings: Settings,
    conn: KafkaConnection,
    inbox: Path,
    once: bool,
    timeout_seconds: float,
    console: Console,
    worker: subprocess.Popen[bytes],
    logs: Path,
    stop: asyncio.Event,
) -> int:
    tracker = _Tracker(console)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    tracker.progress = progress
    background: list[asyncio.Task[object]] = [
        asyncio.create_task(
            runtime.run_sink(
                settings,
                conn,
                runtime.make_sink(settings, kind),
                stop,
                on_written=functools.partial(tracker.on_written, kind),
            ),
            name=f"sink-{kind}",
        )
        for kind in SINKS
    ]
    # The dead letters are kept in the data dir too (the embedded broker forgets them on stop);
    # with --once it runs until it has stored every dead letter there is (``finish``).
    finish_deadletters = asyncio.Event()
    deadletters = asyncio.create_task(
        runtime.run_sink(
            settings,
            conn,
            runtime.make_sink(settings, "deadletters"),
            stop,
            finish=finish_deadletters,
        ),
        name="sink-deadletters",
    )
    background.append(deadletters)
    # Follows the dead letters for the console only: it is cancelled at the end, not stopped.
    follower = asyncio.create_task(
        reads.subscribe(
            conn,
            settings.topics.deadletter,
            settings.embedded,
            None,
            None,
            tracker.on_deadletter,
        ),
        name="deadletters",
    )
    started = time.monotonic()
    code = 0
    with progress:
        watcher = asyncio.create_task(
            runtime.run_watcher(
                settings,
                conn,
                inbox,
                None if once else stop,
                on_outcome=tracker.on_outcome,
                on_backfill_start=tracker.on_backfill_start,
            )
        )
        idle_shown = False
        try:
            while not stop.is_set():
                for task in [watcher, *background, follower]:
                    if task.done() and not (task is watcher and once):
                        task.result()
                        if task is not watcher:
                            raise RuntimeError(f"{task.get_name()} stopped unexpectedly")
                if worker.poll() is not None:
                    console.print(
                        f"[red]the worker exited with code {worker.returncode}[/]; "
                        f"last lines of {logs / 'worker.log'}:\n{_tail(logs / 'worker.log')}"
                    )
                    code = 1
                    break
                if once and watcher.done():
                    watcher.result()
                    if tracker.all_settled():
                        break
                    if time.monotonic() - started > timeout_seconds:
                        console.print(f"[red]timed out after {timeout_seconds:.0f} s[/]")
                        code = 1
                        break
                if not once and tracker.idle() != idle_shown:
                    idle_shown = not idle_shown
                    if idle_shown:
                        # Not cut into lines: the path stays whole for copying.
                        console.print(
                            f"waiting for new files in {inbox} (Ctrl-C stops)",
                            soft_wrap=True,
                            markup=False,
                        )
                tracker.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(tracker.changed.wait(), 0.5)
            if once:
                finish_deadletters.set()
                await _stored(deadletters, console)
        finally:
            await _stop_tasks(stop, [watcher, *background], follower)
    if once:
        console.print(_summary(tracker))
        failed = sum(1 for s in tracker.files.values() if s.failed or not s.settled)
        console.print(
            f"{len(tracker.files)} files: "
            f"{sum(1 for s in tracker.files.values() if s.sinks >= set(SINKS))} in the sinks, "
            f"{sum(1 for s in tracker.files.values() if s.outcome.outcome is Outcome.DUPLICATE)}"
            f" duplicates, {failed} failed, in {time.monotonic() - started:.1f} s"
        )
        console.print(
            f"sinks: {runtime.default_sink_path(settings, 'jsonl')}, "
            f"{runtime.default_sink_path(settings, 'sqlite')}",
            soft_wrap=True,
            markup=False,
        )
        console.print(f"dead letters: {runtime.default_sink_path(settings, 'deadletters')}")
        if failed:
            code = code or 1
    return code
