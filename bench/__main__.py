"""``python -m bench``: run the benchmark suite, print the table, optionally write JSON."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.suite import BENCHES, run_suite


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so every broker, worker and Frog server is stopped.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="newsstream benchmarks: plumbing, enrichment, latency, scaling, memory. "
        "Every figure is measured against its baseline in the same run.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run, < 1 min)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--markdown", type=Path, default=None, help="write the results table as Markdown here"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHES,
        default=None,
        help="run only this benchmark (repeatable)",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="dpgmedia2019 articles.jsonl [default: ../shared/corpora/dpgmedia2019/]",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="record py-spy profiles of the measured workers into this directory",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep logs and data here (default: temporary)"
    )
    parser.add_argument(
        "--worker-batch-max",
        type=int,
        default=None,
        help="what-if: run the enrichment/latency worker with this take_events batch size "
        "(bench.worker nlp) instead of newsstream worker's 32",
    )
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="what-if: environment of the measured workers (identity, NLP), the NLP "
        "deployment's watcher and sinks, and the bare pipeline, e.g. "
        "NEWSSTREAM_MODEL_THREADS=1 or BENCH_FAUST_SETTINGS='{\"producer_linger_ms\": 5}' "
        "(repeatable)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    bad = [item for item in args.worker_env if "=" not in item]
    if bad:
        parser.error(f"--worker-env takes KEY=VALUE, got {bad}")
    results = run_suite(
        quick=args.quick,
        only=tuple(args.only or BENCHES),
        corpus_path=args.corpus,
        profile_dir=args.profile,
        workdir=args.workdir,
        worker_batch_max=args.worker_batch_max,
        worker_env=dict(item.split("=", 1) for item in args.worker_env),
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_bytes(results.json_bytes())
        print(f"results written to {args.json}")
    if args.markdown:
        from bench.report import render_markdown

        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(render_markdown(results.figures) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
