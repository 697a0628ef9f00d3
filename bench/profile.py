"""Sampling profiles of benchmark processes with py-spy (``--profile DIR``; optional).

py-spy is not a dependency of newsstream: ``.venv/bin/pip install py-spy``. Profiles are
written in py-spy's ``raw`` (collapsed stacks) format, one ``.txt`` per measured process,
and summarised into the run's JSON: the functions with the most samples on top of the
stack (self) and anywhere in it (total), as a share of the samples.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from streams.resources import Resource
from streams.subprocesses import stop_process


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


class Profile(Resource):
    """``with Profile(pid, path):`` samples ``pid`` (and its subprocesses) while inside."""

    def __init__(self, pid: int, out: Path, rate: int = 100, native: bool = False) -> None:
        self.pid = pid
        self.out = out
        self.rate = rate
        self.native = native
        self._proc: subprocess.Popen[bytes] | None = None

    def open(self) -> None:
        """Start sampling; called on entering ``with``."""
        exe = py_spy()
        if exe is None:
            raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            exe,
            "record",
            "--pid",
            str(self.pid),
            "--rate",
            str(self.rate),
            "--format",
            "raw",
            "--output",
            str(self.out),
            "--nonblocking",
            "--subprocesses",
        ]
        if self.native:
            argv.append("--native")
        with self.out.with_suffix(".log").open("wb") as log:
            self._proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
            )

    def close(self) -> None:
        """Stop sampling (SIGINT makes py-spy write its profile); called on leaving ``with``."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc, 30.0, sig=signal.SIGINT)


def summarize(path: Path, top: int = 15) -> dict[str, Any]:
    """Top frames by self and total share of the samples in a py-spy raw profile."""
    if not path.exists():
        return {"file": str(path), "samples": 0, "self": [], "total": []}
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        if not frames:
            continue
        samples += count
        own[_short(frames[-1])] += count
        libraries[_library(frames[-1])] += count
        for frame in {_short(f) for f in frames}:
            total[frame] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(frame, round(100 * n / samples, 1)) for frame, n in counter.most_common(top)]

    return {
        "file": str(path),
        "samples": samples,
        "self_by_library": share(libraries) if samples else [],
        "self": share(own) if samples else [],
        "total": share(total) if samples else [],
    }


_LIBRARIES = (
    ("/faust/", "faust"),
    ("/mode/", "mode (faust's services)"),
    ("/aiokafka/", "aiokafka"),
    ("/pydantic", "pydantic"),
    ("/schemas/", "newsstream schemas (codec)"),
    ("/streams/", "newsstream streams"),
    ("/asyncio/", "asyncio event loop"),
    ("selectors.py", "asyncio event loop"),
    ("/concurrent/", "threads (executor)"),
    ("threading.py", "threads (executor)"),
)


def _library(frame: str) -> str:
    """Which library a frame's code belongs to (by its file path)."""
    where = "/" + frame.partition(" (")[2]
    for marker, name in _LIBRARIES:
        if marker in where:
            return name
    if where.startswith("/<frozen") or "/lib/python3" in where or where.count("/") <= 1:
        return "python stdlib (other)"
    return "other"


def _short(frame: str) -> str:
    """``function (path/to/module.py:123)`` -> ``function (module.py)``: lines merged."""
    name, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/newsstream/", "/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{name} ({file})" if file else name
