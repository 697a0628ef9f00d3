"""``newsstream up``: the README's demo command, as a new user runs it (embedded broker)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from streams.subprocesses import free_port
from tests.support.processes import SAMPLES

pytestmark = [pytest.mark.integration]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSTREAM_")}
    env["NEWSSTREAM_WEB_PORT"] = str(free_port())
    env["COLUMNS"] = "160"
    return env


def _up(*args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "up", *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_up_once_on_the_samples_then_again_with_a_bad_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _up("--once", "--data-dir", str(data))
    assert first.returncode == 0, first.stdout + first.stderr
    for seed in SAMPLES.iterdir():
        assert seed.name in first.stdout
    assert "2 in the sinks" in first.stdout
    assert "0 failed" in first.stdout
    jsonl = (data / "articles.jsonl").read_bytes().splitlines()
    assert len(jsonl) == 2

    inbox = tmp_path / "inbox"
    shutil.copytree(SAMPLES, inbox)
    (inbox / "broken.json").write_text("{not json", encoding="utf-8")
    second = _up("--once", "--data-dir", str(data), "--inbox", str(inbox))
    assert second.returncode == 1, second.stdout + second.stderr
    assert "broken.json" in second.stdout
    assert "invalid-json" in second.stdout
    # The dead letter outlives the embedded broker: it is kept in the data dir.
    kept = [json.loads(line) for line in (data / "deadletters.jsonl").read_text().splitlines()]
    assert [(d["origin"]["path"], d["reason"]) for d in kept] == [("broken.json", "invalid-json")]
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
        while sum("enriched" in line for line in seen) < 2:
            line = process.stdout.readline()
            assert line or process.poll() is None, "".join(seen)
            seen.append(line)
            assert time.monotonic() < deadline, "".join(seen)
        children = psutil.Process(process.pid).children(recursive=True)
        assert any("tansu" in c.name() for c in children)
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, "".join(seen) + rest
    assert "stopped" in rest
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.name() for p in alive]
    assert len(gone) == len(children)
