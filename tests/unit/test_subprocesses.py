"""streams.subprocesses: free ports, stopping processes, and finding what a process started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from streams.subprocesses import descendants, free_port, group_processes, stop_process

IGNORES_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_a_process_that_ends_on_sigterm_is_not_killed() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert stop_process(process, 30.0) is False
    assert process.returncode == -signal.SIGTERM


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", IGNORES_TERM], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    began = time.monotonic()
    assert stop_process(process, 0.5) is True
    assert 0.4 < time.monotonic() - began < 10.0
    assert process.returncode == -signal.SIGKILL
    process.stdout.close()


def test_an_ended_process_is_only_reaped() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert stop_process(process, 0.1) is False
    assert process.returncode == 0


def test_descendants_and_group_members_of_a_new_session() -> None:
    process = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"], start_new_session=True)
    try:
        deadline = time.monotonic() + 10.0
        while len(descendants(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        children = descendants(process.pid)
        assert len(children) == 2
        members = {pid for pid, _state in group_processes(process.pid)}
        assert members == {process.pid, *children}
        assert os.getpid() not in members
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
