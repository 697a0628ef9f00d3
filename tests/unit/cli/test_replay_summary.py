"""What ``newsstream replay`` says it did: every topic it wrote, and how to feed a sink."""

from __future__ import annotations

from streams.cli.replay import ReplaySummary, describe, output_topics
from streams.config import Settings


def test_a_replay_to_a_suffix_names_its_three_topics_and_how_to_feed_a_sink() -> None:
    topics = output_topics(Settings(), "v2")
    summary = ReplaySummary(
        read=2,
        replayed=2,
        enriched_topic=topics.enriched,
        entities_topic=topics.entities,
        quotes_topic=topics.quotes,
    )
    lines = describe(summary)
    assert lines == [
        "replayed 2 raw events into",
        "  news.articles.enriched.v2",
        "  news.entities.v2",
        "  news.quotes.v2",
        "feed a sink: newsstream sink KIND --topic news.articles.enriched.v2",
    ]
    assert all(len(line) <= 80 for line in lines)
