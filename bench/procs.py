"""What /proc says about the benchmarks' processes (Linux only): CPU, memory, load.

The processes themselves are started and stopped by the harness the tests use too
(``tests.support.processes``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Self

from streams.subprocesses import children_map, descendants, stat_fields

CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
PAGE_BYTES: Final = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its reaped children (0.0 once it is gone)."""
    try:
        fields = stat_fields(pid)
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
