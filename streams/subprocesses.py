"""Child processes and ports: what the CLI, the embedded broker, Frog, tests and benches share.

A free port, stopping processes (a polite signal, a grace period, then SIGKILL) and the Linux
``/proc`` reads that find a process's descendants or the members of its process group.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that nothing listens on at ``host`` now ("": on every interface).

    Another program may take it before the caller binds it; callers that cannot bind it
    themselves retry with a new one.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def stop_processes(
    processes: Sequence[subprocess.Popen[Any]],
    grace: float,
    *,
    sig: int = signal.SIGTERM,
) -> list[subprocess.Popen[Any]]:
    """Send ``sig`` to every process still running, all at once, so they wind down in parallel;
    wait until they exited or ``grace`` seconds passed; SIGKILL the rest. All are reaped
    (``returncode`` set) on return. Returns the processes that had to be killed.
    """
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
    deadline = time.monotonic() + grace
    killed: list[subprocess.Popen[Any]] = []
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
            killed.append(process)
    return killed


def stop_process(
    process: subprocess.Popen[Any], grace: float, *, sig: int = signal.SIGTERM
) -> bool:
    """``stop_processes`` for one process; True when it ignored ``sig`` and was killed."""
    return bool(stop_processes([process], grace, sig=sig))


# --- /proc (Linux) ---------------------------------------------------------------------------


def stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name: state, ppid, pgrp, ...

    Raises OSError when the process is gone. The name may contain spaces and parentheses,
    hence the split after the last ')'.
    """
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def group_processes(pgid: int) -> list[tuple[int, str]]:
    """(pid, state letter) of every process in a process group."""
    found: list[tuple[int, str]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = stat_fields(int(entry.name))
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid):
            found.append((int(entry.name), fields[0]))
    return found


def children_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process visible now."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(stat_fields(int(entry.name))[1])
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
