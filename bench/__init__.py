"""newsstream's benchmark suite: ``python -m bench [--quick] [--json PATH]``.

Five benchmarks, each measured against its baseline in the same run and reported as a ratio:

1. ``plumbing``: raw aiokafka copy topic A -> topic B vs the worker's Faust path (the real
   ``create_app`` with an identity enricher) vs a naive per-message Faust agent.
2. ``enrichment``: ``Pipeline.enrich_batch`` called directly vs the full pipeline
   (file drop -> SQLite row) over the same articles.
3. ``latency``: file drop -> enriched event -> SQLite row at paced arrival rates.
4. ``scaling``: one vs two worker processes on a 6-partition topic, NLP-bound.
5. ``memory``: peak RSS of worker, watcher and sinks at two article counts.

Everything runs on real parts: embedded Tansu brokers, ``newsstream`` CLI processes (or, for
the identity and naive workers, ``python -m bench.worker`` built from the same factory) and
the default enrichers (e5 NER and sentiment, or Frog with ``NEWSSTREAM_NER_BACKEND=frog``).
See ``docs/benchmarks.md`` for the method and the latest results.
"""
