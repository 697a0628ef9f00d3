"""Frog alone: ``python -m bench.frog FILE...`` prints entities, words/s and server memory.

Each file is recognised three times by one Frog server (``streams.enrich.frog``); speed is
given as words per wall-clock second (best and mean) and per CPU second of the frog processes,
which does not depend on other load.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.procs import cpu_seconds
from streams.enrich.frog import FrogEntityRecognizer
from streams.subprocesses import group_processes


def _group_cpu_seconds(pgid: int) -> float:
    return sum(cpu_seconds(pid) for pid, _state in group_processes(pgid))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.frog FILE...``: entities, words/s and server memory.

    Each file is recognised three times; speed is given as words per wall-clock second (best
    and mean) and per CPU second of the frog processes, which does not depend on other load.
    """
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print("usage: python -m bench.frog FILE...", file=sys.stderr)
        return 2
    bodies = [p.read_text(encoding="utf-8") for p in paths]
    loading = time.perf_counter()
    recognizer = FrogEntityRecognizer()
    try:
        loaded = time.perf_counter() - loading
        print(f"{recognizer.name} {recognizer.version}: loaded in {loaded:.1f} s")
        recognizer.recognize("Opwarmen in Utrecht.")
        pid = recognizer.pool.pids[0]
        assert pid is not None
        total_words = 0
        total_wall = 0.0
        total_cpu = 0.0
        for path, body in zip(paths, bodies, strict=True):
            words = len(body.split())
            walls: list[float] = []
            cpu_before = _group_cpu_seconds(pid)
            for _round in range(3):
                began = time.perf_counter()
                entities = recognizer.recognize(body)
                walls.append(time.perf_counter() - began)
            cpu = (_group_cpu_seconds(pid) - cpu_before) / len(walls)
            mean = sum(walls) / len(walls)
            total_words += words
            total_wall += mean
            total_cpu += cpu
            print(
                f"\n{path.name}: {words} words; {words / min(walls):.0f} words/s best, "
                f"{words / mean:.0f} mean (wall clock); {words / cpu:.0f} per frog CPU second"
            )
            for e in entities:
                print(
                    f"  {e.start:5d}-{e.end:<5d} {e.label.value:4s} {e.text!r:20s} -> {e.canonical}"
                )
        print(
            f"\ntotal: {total_words} words; {total_words / total_wall:.0f} words/s (mean wall "
            f"clock); {total_words / total_cpu:.0f} per frog CPU second"
        )
        for mem in recognizer.pool.memory():
            print(
                f"server pid {mem.pid}: {mem.processes} processes, RSS {mem.rss_bytes / 2**20:.0f}"
                f" MiB in all, PSS {mem.pss_bytes / 2**20:.0f} MiB"
            )
            for member, _state in group_processes(mem.pid):
                status = Path(f"/proc/{member}/status").read_text()
                rss = next(line for line in status.splitlines() if line.startswith("VmRSS"))
                print(f"  pid {member}: {' '.join(rss.split())}")
    finally:
        recognizer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
