"""Words/s of the default enrichment pipeline on CoNLL dev articles: this tree against a
baseline checkout, measured in the same run.

    git worktree add /tmp/newsstream-base <commit>
    python -m bench.enrich_speed --baseline /tmp/newsstream-base \\
        ../shared/corpora/conll2002-nl/ned.testa ../shared/corpora/conll2003-en/eng.testa

The articles are rebuilt as ``newsstream eval ner`` rebuilds them (one ``-DOCSTART-`` block,
or 20 sentences, each; one sentence a line). Each tree runs in its own process (its own
``PYTHONPATH``; both import only what every version has: ``build_pipeline``, ``Settings``,
``ArticleIngested``), builds ``build_pipeline(Settings())`` with the model cache of
``--data-dir``, warms up on one article, then times ``enrich_batch`` over all articles in
batches of 16, ``--rounds`` times, alternating baseline and this tree so that a change in
the machine's load hits both. Prints words/s (CoNLL tokens) and CPU seconds per tree and
the ratio this/baseline. Not part of ``python -m bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from statistics import median

from streams.evaluation.conll import conll_documents, read_conll
from streams.evaluation.ner_pipeline import rebuilt_article

HERE = Path(__file__).resolve().parents[1]

# Runs inside the measured tree: only names that every version of the project has.
CHILD = """
import json, sys, time, resource
from datetime import UTC, datetime
from pathlib import Path
from schemas import ArticleIngested
from streams.cli import runtime
from streams.config import Settings

bodies = json.loads(Path(sys.argv[1]).read_text())
settings = Settings(data_dir=Path(sys.argv[2]))
pipeline = runtime.build_pipeline(settings)
def article(i, body):
    return ArticleIngested(
        article_id=f"bench-{i}", source_id=f"bench-{i}", source_path=f"bench-{i}.txt",
        content_format="txt", content_sha256="0" * 64, body=body,
        ingested_at=datetime.now(UTC),
    )
articles = [article(i, b) for i, b in enumerate(bodies)]
pipeline.enrich_batch(articles[:1])
cpu = time.process_time()
wall = time.perf_counter()
for i in range(0, len(articles), 16):
    pipeline.enrich_batch(articles[i : i + 16])
print(json.dumps({
    "seconds": time.perf_counter() - wall,
    "cpu": time.process_time() - cpu,
    "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
pipeline.close()
"""


def measure(tree: Path, bodies_file: Path, data_dir: Path) -> dict[str, float]:
    """One timed pass of ``tree``'s pipeline over the bodies, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(bodies_file), str(data_dir)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{tree}: the pipeline failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.enrich_speed")
    parser.add_argument("conll", nargs="+", type=Path, help="CoNLL files (the dev sets)")
    parser.add_argument("--baseline", type=Path, required=True, help="checkout to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None, help="model cache (default: tmp)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        for path in args.conll:
            groups = conll_documents(read_conll(path))
            bodies = [rebuilt_article(group).body for group in groups]
            words = sum(len(s.words) for group in groups for s in group)
            bodies_file = Path(tmp) / "bodies.json"
            bodies_file.write_text(json.dumps(bodies), encoding="utf-8")
            runs: dict[str, list[dict[str, float]]] = {"baseline": [], "this": []}
            for _ in range(args.rounds):
                runs["baseline"].append(measure(args.baseline.resolve(), bodies_file, data_dir))
                runs["this"].append(measure(HERE, bodies_file, data_dir))
            print(f"== {path}: {len(bodies)} articles, {words} words, {args.rounds} rounds")
            rates = {}
            for name, results in runs.items():
                rates[name] = median(words / r["seconds"] for r in results)
                per_cpu = median(words / r["cpu"] for r in results)
                rss = max(r["maxrss_mib"] for r in results)
                print(
                    f"{name:9} {rates[name]:8,.0f} words/s (median), {per_cpu:8,.0f} words per "
                    f"CPU s, peak RSS {rss:,.0f} MiB"
                )
            print(f"ratio this/baseline: {rates['this'] / rates['baseline']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
