"""The ``ner-e5`` enricher alone on real articles: entities, words/s and the process's memory.

    python -m bench.ner_e5 ../shared/corpora/dpgmedia2019/articles.jsonl --limit 300

(``--variant fp32`` for the other variant.) What docs/quality.md reports as the NER model's
speed and memory on articles (the suite's enrichment benchmark times the whole pipeline
instead). Not part of ``python -m bench``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from streams.enrich.base import Document
from streams.enrich.ner_e5 import E5EntityRecognizer
from streams.enrich.sentences import SentenceSplitter


def _memory() -> tuple[int, int]:
    """(RSS, PSS) of this process in bytes, from /proc (Linux)."""
    rss = pss = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "Rss":
                rss = int(value.split()[0]) * 1024
            elif key == "Pss":
                pss = int(value.split()[0]) * 1024
    return rss, pss


def _read_inputs(paths: Sequence[Path], limit: int) -> list[str]:
    bodies: list[str] = []
    for path in paths:
        if path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as handle:
                bodies.extend(str(json.loads(line)["text"]) for line in handle if line.strip())
        else:
            bodies.append(path.read_text(encoding="utf-8"))
    return bodies[:limit] if limit else bodies


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.ner_e5 FILE...``: entities, words/s and memory.

    FILEs are text files (one article each) or ``.jsonl`` files with a ``text`` field (such as
    the dpgmedia2019 corpus). Sentences come from the pipeline's splitter (not timed); the
    timed part is ``enrich_batch`` over batches of ``--batch`` articles, run twice (the first
    run warms up). Words are whitespace-separated tokens of the body.
    """
    parser = argparse.ArgumentParser(prog="python -m bench.ner_e5")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="articles at most")
    parser.add_argument("--variant", default=None, help="int8 or fp32 (default: manifest's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16, help="articles per enrich_batch")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--show", action="store_true", help="print the entities")
    args = parser.parse_args(argv)
    bodies = _read_inputs(args.files, args.limit)
    splitter = SentenceSplitter()
    docs = [splitter.enrich(Document(body=body)) for body in bodies]
    words = sum(len(body.split()) for body in bodies)
    rss0, _ = _memory()
    began = time.perf_counter()
    recognizer = E5EntityRecognizer(
        cache_dir=args.cache_dir, variant=args.variant, threads=args.threads
    )
    loaded = time.perf_counter() - began
    print(f"{recognizer.name} {recognizer.version}: loaded in {loaded:.1f} s", flush=True)
    try:
        for run in range(2):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            results: list[Document] = []
            for at in range(0, len(docs), args.batch):
                results.extend(recognizer.enrich_batch(docs[at : at + args.batch]))
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
            print(
                f"run {run + 1}: {len(docs)} articles, {words} words in {wall:.2f} s: "
                f"{words / wall:,.0f} words/s wall clock, {words / cpu:,.0f} per CPU second "
                f"({cpu / wall:.2f} cores busy); "
                f"{sum(len(d.entities) for d in results)} entities",
                flush=True,
            )
        if args.show:
            for body, doc in zip(bodies, results, strict=True):
                print(f"\n{body[:60]!r}...")
                for e in doc.entities:
                    print(
                        f"  {e.start:6d}-{e.end:<6d} {e.label.value:4s} {e.text!r} -> {e.canonical}"
                    )
        rss, pss = _memory()
        print(
            f"memory: RSS {rss / 2**20:.0f} MiB, PSS {pss / 2**20:.0f} MiB "
            f"(before loading: RSS {rss0 / 2**20:.0f} MiB)"
        )
    finally:
        recognizer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
