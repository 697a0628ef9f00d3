"""The benchmark suite keeps working: ``python -m bench --quick`` runs every benchmark.

No timing is asserted (CI machines vary); the run must finish, produce every figure with a
sane value, write its JSON, and leave no broker, worker or Frog process behind.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]

#: Figures every quick run must produce (name prefixes, per benchmark).
EXPECTED = {
    "plumbing": [
        "raw aiokafka copy A->B",
        "newsstream Faust path (identity)",
        "naive Faust agent",
        "newsstream Faust path vs naive",
        "proposed: getmany -> BatchProcessor",
        "raw aiokafka produce",
        "raw aiokafka consume only",
    ],
    "enrichment": ["bare Pipeline.enrich_batch", "full: file drop -> SQLite row"],
    # Latency figures are named "RATE: WHAT"; the measured rates ("max 0.72/s") vary by run.
    "latency": [
        f"{rate}*: {what}"
        for rate in ("10/s", "max ", "half ")
        for what in ("drop->enriched p50", "drop->row p50", "overhead p50", "overhead p99")
    ],
    "scaling": ["1 worker", "2 workers"],
    "memory": [
        "NLP worker peak RSS after 1 article",
        "NLP worker peak RSS after",
        "identity worker (stories cap * peak RSS @",
        "watcher peak RSS @",
        "sink-sqlite peak RSS @",
        "sink-jsonl peak RSS @",
        "stories state per article held",
        "broker (Tansu, in memory) RSS @",
    ],
}


def _orphans(names: tuple[str, ...]) -> set[int]:
    """Pids of processes adopted by init whose command line mentions one of ``names``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == 1 and any(name in cmdline for name in names):
            found.add(int(entry.name))
    return found


@pytest.mark.timeout(600)
def test_quick_suite_produces_every_figure(tmp_path: Path) -> None:
    leftovers = ("frog -S", "tansu", "bench.worker", "streams.cli")
    before = _orphans(leftovers)
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSSTREAM_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        stdout_bytes, stderr_bytes = process.communicate(timeout=540)
    except subprocess.TimeoutExpired:
        # SIGTERM lets the suite stop what it started; SIGKILL would orphan it.
        process.send_signal(signal.SIGTERM)
        stdout_bytes, stderr_bytes = process.communicate(timeout=120)
        pytest.fail(f"the quick suite took over 540 s:\n{stdout_bytes.decode()[-3000:]}")
    stdout = stdout_bytes.decode(errors="replace")
    output = stdout + stderr_bytes.decode(errors="replace")
    assert process.returncode == 0, output[-5000:]

    doc = json.loads(out.read_text())
    assert doc["meta"]["mode"] == "quick"
    figures = doc["figures"]
    for bench, names in EXPECTED.items():
        present = [f["name"] for f in figures if f["bench"] == bench]
        for name in names:
            assert any(fnmatch.fnmatchcase(p, name + "*") for p in present), (bench, name, present)
    for figure in figures:
        value = figure["value"]
        assert isinstance(value, int | float), figure
        assert math.isfinite(value), figure
        if "overhead" not in figure["name"]:  # latency minus enrichment time may dip below 0
            assert value > 0, figure
        if figure["baseline"] is not None:
            assert figure["ratio"] is not None, figure
            assert figure["ratio"] > 0, figure
    # The table is printed with every benchmark in it.
    for bench in EXPECTED:
        assert f"\n{bench} " in stdout, bench

    # Nothing the suite started outlives it (brokers, workers, Frog servers).
    deadline = time.monotonic() + 10
    while (left := _orphans(leftovers) - before) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"processes left behind: {sorted(left)}"
