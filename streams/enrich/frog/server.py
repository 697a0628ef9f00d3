"""One frog server process, our connection to it, and what /proc says about it."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from streams.enrich.frog.errors import INSTALL_HINT, FrogError, FrogNotInstalledError
from streams.enrich.frog.protocol import answer_end
from streams.subprocesses import LOOPBACK, free_port, group_processes

log = logging.getLogger(__name__)


class FrogProcess:
    """One frog server process (leader of its own process group) and our connection to it.

    ``request`` is used by one thread at a time; ``stop`` may be called from any thread at any
    time and is idempotent.
    """

    def __init__(self, frog_bin: str, skip: str, workdir: Path) -> None:
        # Frog binds the wildcard address, so the port must be free on every interface.
        self.port = free_port("")
        self._popen = subprocess.Popen(
            [frog_bin, "-S", str(self.port), f"--skip={skip}"],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.pid = self._popen.pid
        self._stderr_tail: deque[str] = deque(maxlen=30)
        assert self._popen.stderr is not None
        self._stderr = self._popen.stderr
        # Frog logs a line per request; the pipe is drained so Frog never blocks on it.
        self._drain = threading.Thread(
            target=self._drain_stderr, args=(self._stderr,), name=f"frog-{self.pid}-stderr"
        )
        self._drain.daemon = True
        self._drain.start()
        self._sock: socket.socket | None = None
        self._stop_lock = threading.Lock()
        self._stopped = False

    def _drain_stderr(self, pipe: IO[bytes]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for raw in pipe:
                self._stderr_tail.append(raw.decode("utf-8", "replace").rstrip())

    def stderr_tail(self) -> str:
        return " | ".join(line for line in list(self._stderr_tail) if line.strip())

    def exit_status(self) -> int | None:
        """The exit code (negative: killed by that signal) once the process ended, else None.

        Does not reap the process: its pid, and so its process group id, stays reserved until
        ``stop`` has killed the group.
        """
        if self._popen.returncode is not None:
            return self._popen.returncode
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self._popen.poll()
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status

    def wait_ready(self, timeout: float, request_timeout: float) -> None:
        """Block until the server accepts a connection and answers an empty request."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.exit_status()
            if status is not None:
                self._drain.join(timeout=2.0)  # its last words explain why
                raise FrogError(
                    f"frog server (port {self.port}) exited with status {status} while "
                    f"loading: {self.stderr_tail() or 'no output'}"
                )
            try:
                sock = socket.create_connection((LOOPBACK, self.port), timeout=1.0)
            except OSError:
                if time.monotonic() > deadline:
                    raise FrogError(
                        f"frog server (pid {self.pid}, port {self.port}) did not accept "
                        f"connections within {timeout:g} s: {self.stderr_tail() or 'no output'}"
                    ) from None
                time.sleep(0.1)
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            break
        # An empty request answers READY within milliseconds: proves that Frog, not another
        # program that took the port in between, is listening.
        self.request("", min(request_timeout, 30.0))

    def request(self, text: str, timeout: float) -> str:
        """Send one text (already passed through ``wire_text``); return the answer's token lines.

        Raises FrogError or OSError when the answer does not come in time or the connection
        broke; the connection is then out of step and the process must be replaced.
        """
        sock = self._sock
        if sock is None or self._stopped:
            raise FrogError("frog server is not running")
        deadline = time.monotonic() + timeout
        sock.settimeout(timeout)
        sock.sendall(text.encode("utf-8") + b"\nEOT\n")
        buf = bytearray()
        while True:
            # The blank line after READY may arrive at the start of the next answer.
            end = answer_end(buf)
            if end >= 0:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FrogError(f"frog server (pid {self.pid}) gave no answer in {timeout:g} s")
            sock.settimeout(remaining)
            data = sock.recv(1 << 16)
            if not data:
                raise FrogError(f"frog server (pid {self.pid}) closed the connection")
            buf += data
        if buf[end:].strip(b"\n"):
            raise FrogError("frog sent more than one answer: the connection is out of step")
        return buf[:end].decode("utf-8", "replace")

    def stop(self) -> None:
        """Kill the server and its connection children, reap it, close pipes and sockets.

        Children are killed first, while the server still lives: it ignores SIGCHLD, so the
        kernel reaps them at once, rather than leaving orphans to an init that may not reap.
        """
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        if self._popen.returncode is None:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                children = [
                    pid
                    for pid, state in group_processes(self.pid)
                    if pid != self.pid and state != "Z"
                ]
                if not children:
                    break
                for pid in children:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.02)
            # The leader is not reaped yet, so its pid still names this process group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            self._popen.wait()
        self._drain.join(timeout=5.0)
        self._stderr.close()


def frog_version(frog_bin: str = "frog") -> str:
    """The version of the frog executable ("0.20"), checking first that it is installed.

    Raises FrogNotInstalledError when it is not.
    """
    path = shutil.which(frog_bin)
    if path is None:
        raise FrogNotInstalledError(f"frog executable {frog_bin!r} not found; {INSTALL_HINT}")
    # frog -V also deletes old frog.*.debug files in its working directory.
    with tempfile.TemporaryDirectory(prefix="frog-version-") as workdir:
        done = subprocess.run(
            [path, "-V"], cwd=workdir, capture_output=True, timeout=60, check=False
        )
    found = re.search(rb"frog\s+(\d+(?:\.\d+)+)", done.stdout + done.stderr)
    if found is None:
        raise FrogError(f"{path} -V printed no frog version; {INSTALL_HINT}")
    return found.group(1).decode()


@dataclass(frozen=True, slots=True)
class ServerMemory:
    """Memory of one server: its process group (the server and its connection children)."""

    pid: int
    processes: int
    rss_bytes: int
    """Sum of the resident sets; pages shared copy-on-write are counted once per process."""
    pss_bytes: int
    """Proportional set size: shared pages divided among their users, the honest total."""


def group_memory(pgid: int) -> ServerMemory:
    members = 0
    rss = pss = 0
    for pid, _state in group_processes(pgid):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        members += 1
        for line in rollup.splitlines():
            key, _, value = line.partition(":")
            if key in ("Rss", "Pss"):
                size = int(value.split()[0]) * 1024
                if key == "Rss":
                    rss += size
                else:
                    pss += size
    return ServerMemory(pgid, members, rss, pss)
