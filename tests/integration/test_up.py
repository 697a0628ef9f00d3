"""``newsstream up``: the README's demo command, as a new user runs it (embedded broker)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from streams.subprocesses import free_port
from tests.support.processes import SAMPLES

pytestmark = [pytest.mark.integration]


def _env(web_port: int | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSTREAM_")}
    env["NEWSSTREAM_WEB_PORT"] = str(web_port or free_port())
    # A terminal of the classic size: the console must fit it.
    env["COLUMNS"] = "80"
    return env


def _up(*args: str, web_port: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "up", *args],
        env=_env(web_port),
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


def _assert_clean(output: str, data: Path) -> None:
    """Nothing went wrong on the way, start to stop: no ERROR and no traceback, on the console
    or in the logs (the shutdown's last offset commits included)."""
    logs = "".join(log.read_text(errors="replace") for log in (data / "logs").glob("*.log"))
    for text in (output, logs):
        assert " ERROR " not in text, text
        assert "Traceback" not in text, text


def _dashboard(output: str) -> str:
    match = re.search(r"^dashboard (http://\S+/)", output, flags=re.MULTILINE)
    assert match, output
    return match.group(1)


def test_up_once_on_the_samples_then_again_with_a_bad_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    first = _up("--once", "--data-dir", str(data), web_port=port)
    assert first.returncode == 0, first.stdout + first.stderr
    _assert_clean(first.stdout + first.stderr, data)
    assert _dashboard(first.stdout) == f"http://127.0.0.1:{port}/"
    enriched = [line for line in first.stdout.splitlines() if line.startswith("enriched ")]
    assert sorted(line.split()[1] for line in enriched) == sorted(
        seed.name for seed in SAMPLES.iterdir()
    )
    # Lines that name a path are left whole, for copying; all others fit.
    paths = ("inbox ", "data dir ", "sinks: ")
    fitting = [line for line in first.stdout.splitlines() if not line.startswith(paths)]
    assert max(len(line) for line in fitting) <= 80, first.stdout
    assert "2 in the sinks" in first.stdout
    assert "0 failed" in first.stdout
    jsonl = (data / "articles.jsonl").read_bytes().splitlines()
    assert len(jsonl) == 2

    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES, inbox)
    (inbox / "broken.json").write_text("{not json", encoding="utf-8")
    with socket.socket() as taken:  # another program holds the dashboard's port
        taken.bind(("127.0.0.1", port))
        taken.listen()
        second = _up("--once", "--data-dir", str(data), "--inbox", str(inbox), web_port=port)
    assert second.returncode == 1, second.stdout + second.stderr
    assert "broken.json" in second.stdout
    assert "invalid-json" in second.stdout
    # The dead letter outlives the embedded broker: it is kept in the data dir.
    kept = [json.loads(line) for line in (data / "deadletters.jsonl").read_text().splitlines()]
    assert [(d["origin"]["path"], d["reason"]) for d in kept] == [("broken.json", "invalid-json")]
    moved = _dashboard(second.stdout)
    assert moved != f"http://127.0.0.1:{port}/"
    assert f"port {port} is taken: the dashboard uses {moved.split(':')[-1][:-1]}" in (
        second.stdout
    )
    # A new embedded broker starts empty, so the seeds flow again, and the sinks absorb them.
    assert (data / "articles.jsonl").read_bytes().splitlines() == jsonl


def test_ctrl_c_stops_everything_cleanly(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES, inbox)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "up",
            "--inbox",
            str(inbox),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 300
    try:
        # Both samples handled, the view says what it does now.
        while not seen or seen[-1] != f"waiting for new files in {inbox} (Ctrl-C stops)\n":
            line = process.stdout.readline()
            assert line or process.poll() is None, "".join(seen)
            seen.append(line)
            assert time.monotonic() < deadline, "".join(seen)
        assert sum(line.startswith("enriched ") for line in seen) == 2, "".join(seen)
        with urllib.request.urlopen(_dashboard("".join(seen)), timeout=10) as page:
            assert page.status == 200
            assert "text/html" in page.headers["Content-Type"]
        children = psutil.Process(process.pid).children(recursive=True)
        assert any("tansu" in c.name() for c in children)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            # A failed test must not leave up's broker and worker behind (own sessions).
            left = psutil.Process(process.pid).children(recursive=True)
            process.kill()
            process.wait()
            for child in left:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
    assert process.returncode == 0, "".join(seen) + rest
    assert "stopped" in rest
    _assert_clean("".join(seen) + rest, tmp_path / "data")
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.name() for p in alive]
    assert len(gone) == len(children)
