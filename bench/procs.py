"""Processes the benchmarks start, and what /proc says about them (Linux only).

Every process is started in its own session with its output in a log file, registered in a
``Processes`` registry, and stopped by it (SIGTERM, then SIGKILL of the process and every
descendant it left, such as Frog servers, which run in process groups of their own).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, Self

CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
PAGE_BYTES: Final = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
class Processes:
    """Starts processes and stops all of them at the end (a context manager)."""

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
        return self.start(name, [sys.executable, "-m", "streams.cli", *args], env)

    def stop(self, procs: Iterable[Proc], grace: float = 30.0) -> None:
        """SIGTERM all of ``procs`` at once, wait, then kill what is left (descendants too)."""
        chosen = [p for p in procs if p in self.procs]
        families = {p.pid: descendants(p.pid) for p in chosen}
        for proc in chosen:
            if proc.alive():
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in chosen:
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    proc.popen.kill()
                proc.popen.wait()
            # Whatever the process started and left behind (it was stopped or killed).
            for pid in families[proc.pid]:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            self.procs.remove(proc)

    def stop_all(self) -> None:
        self.stop(list(reversed(self.procs)))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()


# --- /proc ---------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    # The command name may contain spaces and parentheses: split after the last ')'.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process visible now."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry.name))[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int, tree: Mapping[int, list[int]] | None = None) -> list[int]:
    """Every process below ``pid`` (children, grandchildren, ...)."""
    tree = children_map() if tree is None else tree
    found: list[int] = []
    stack = list(tree.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(tree.get(child, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its reaped children (0.0 once it is gone)."""
    try:
        fields = _stat_fields(pid)
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / CLOCK_TICKS


def tree_cpu_seconds(pids: Iterable[int]) -> float:
    """CPU seconds of ``pids`` and all their live descendants."""
    tree = children_map()
    every: set[int] = set()
    for pid in pids:
        every.add(pid)
        every.update(descendants(pid, tree))
    return sum(cpu_seconds(pid) for pid in every)


def status_kib(pid: int, key: str) -> int:
    """A ``kB`` value of /proc/PID/status (``VmRSS``, ``VmHWM``: peak RSS); 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def pss_kib(pid: int) -> int:
    """Proportional set size (shared pages divided among their users); 0 if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


@dataclass(frozen=True, slots=True)
class MachineCpu:
    """Busy and total jiffies of all CPUs since boot (/proc/stat)."""

    busy: int
    total: int

    @classmethod
    def read(cls) -> MachineCpu:
        first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        values = [int(v) for v in first[:8]]
        idle = values[3] + values[4]  # idle + iowait
        return cls(busy=sum(values) - idle, total=sum(values))


class CpuWindow:
    """Machine CPU use over a window, split into ours (``pids`` and their trees) and others'.

    ``start()`` then ``stop()``; the figures are in cores (2.0 = both cores of a 2-core box
    busy the whole time).
    """

    def __init__(self, pids: Iterable[int]) -> None:
        self._pids = list(pids)
        self._own_pids = [os.getpid(), *self._pids]
        self.wall = 0.0
        self.machine_cores = 0.0
        self.ours_cores = 0.0
        self._t0 = 0.0
        self._m0 = MachineCpu(0, 0)
        self._c0 = 0.0

    def start(self) -> Self:
        self._t0 = time.monotonic()
        self._m0 = MachineCpu.read()
        self._c0 = tree_cpu_seconds(self._own_pids)
        return self

    def stop(self) -> Self:
        self.wall = time.monotonic() - self._t0
        m1 = MachineCpu.read()
        c1 = tree_cpu_seconds(self._own_pids)
        cores = os.cpu_count() or 1
        if m1.total > self._m0.total:
            self.machine_cores = cores * (m1.busy - self._m0.busy) / (m1.total - self._m0.total)
        if self.wall > 0:
            self.ours_cores = (c1 - self._c0) / self.wall
        return self

    @property
    def others_cores(self) -> float:
        """CPU used by processes that are not ours (other people's jobs on a shared machine)."""
        return max(0.0, self.machine_cores - self.ours_cores)


def loadavg() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)
