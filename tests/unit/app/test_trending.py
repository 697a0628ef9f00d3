"""Windows, aggregation and the published event of the trending entities (no broker)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from faust.windows import HoppingWindow, TumblingWindow
from pydantic import ValidationError

from schemas import (
    ArticleEnriched,
    EnricherInfo,
    Entity,
    EntityLabel,
    EntitySentiment,
    EntityTrending,
    Language,
    Sentiment,
    SentimentLabel,
    TrendWindowKind,
    decode,
    encode,
)
from streams.app.metrics import WorkerMetrics
from streams.app.trending import (
    Mention,
    RecentArticles,
    TrendTables,
    add_mention,
    mentions_of,
    recent_bound,
    trending_event,
    window_label,
    window_specs,
)
from streams.config import Settings
from streams.enrich.base import Document
from streams.enrich.entity_links import AliasTable, EntityLinker
from tests.support.entity_sentiment import as_version_3, with_entity_sentiment

NOW = 1_700_000_123.5


def article(
    entities: list[tuple[str, str, str]],
    score: float,
    article_id: str = "a1",
    ids: dict[str, str] | None = None,
) -> Any:
    body = " ".join(text for text, _, _ in entities) + " ."
    spans, at = [], 0
    for text, label, canonical in entities:
        spans.append(
            Entity(
                text=text,
                label=EntityLabel(label),
                start=at,
                end=at + len(text),
                canonical=canonical,
                entity_id=(ids or {}).get(canonical),
            )
        )
        at += len(text) + 1
    return ArticleEnriched(
        event_id="e-" + article_id,
        article_id=article_id,
        source_id="s",
        source_path="s.txt",
        body=body,
        ingested_at=datetime.fromtimestamp(NOW, UTC),
        language=Language(code="nl", confidence=0.99),
        entities=tuple(spans),
        sentiment=Sentiment(label=SentimentLabel.NEUTRAL, score=score),
        provenance=(EnricherInfo(name="x", version="1"),),
        enriched_at=datetime.fromtimestamp(NOW + 1, UTC),
    )


class FakeTable(dict[Any, Any]):
    """A dict standing in for the Faust table's mapping interface (get/set/del/items); counts
    the writes (each one is a changelog record in the worker)."""

    writes = 0

    def __setitem__(self, key: Any, value: Any) -> None:
        self.writes += 1
        super().__setitem__(key, value)


@pytest.mark.parametrize(
    ("seconds", "label"), [(3600, "1h"), (86400, "24h"), (600, "10m"), (90, "90s")]
)
def test_window_labels(seconds: int, label: str) -> None:
    assert window_label(seconds) == label


def test_windows_match_faust_s_own_ranges() -> None:
    tumbling, hopping = window_specs(3600)
    assert (tumbling.name, tumbling.kind) == ("1h", TrendWindowKind.TUMBLING)
    assert (hopping.name, hopping.kind) == ("24h", TrendWindowKind.HOPPING)
    assert [tumbling.latest(NOW)] == TumblingWindow(3600).ranges(NOW)
    assert hopping.latest(NOW) in HoppingWindow(86400, 3600).ranges(NOW)
    # The latest 24 h window is the one covering the last day, not the one just begun.
    start, end = hopping.latest(NOW)
    assert start <= NOW - 23 * 3600 < NOW < end
    assert tumbling.latest(NOW)[0] <= NOW < tumbling.latest(NOW)[1]


def test_the_tumbling_window_must_be_shorter_than_a_day_and_divide_it() -> None:
    with pytest.raises(ValueError, match="shorter"):
        window_specs(86400)
    # The 24 h figures are sums of whole tumbling windows.
    with pytest.raises(ValueError, match="divide 24 h"):
        window_specs(5000)
    with pytest.raises(ValidationError, match="divide 24 h"):
        Settings(trending_window_seconds=5000)
    assert Settings(trending_window_seconds=900).trending_window_seconds == 900


def test_mentions_group_by_canonical_name() -> None:
    a = article(
        [
            ("Donald Trump", "PER", "Donald Trump"),
            ("Hanoi", "LOC", "Hanoi"),
            ("Trump", "PER", "Donald Trump"),
        ],
        score=-0.5,
    )
    mentions = mentions_of(a)
    assert [(m.canonical, m.label, m.mentions) for m in mentions] == [
        ("Donald Trump", "PER", 2),
        ("Hanoi", "LOC", 1),
    ]
    assert all(m.at == NOW and m.score == -0.5 for m in mentions)
    assert Mention.from_bytes(mentions[0].to_bytes()) == mentions[0]


def test_mentions_group_by_entity_id_across_names() -> None:
    ids = {"VS": "loc/united-states", "Verenigde Staten": "loc/united-states"}
    a = article(
        [("VS", "LOC", "VS"), ("Verenigde Staten", "LOC", "Verenigde Staten")], 0.0, ids=ids
    )
    [mention] = mentions_of(a)
    assert (mention.key, mention.canonical, mention.mentions) == ("loc/united-states", "VS", 2)
    trends = TrendTables(window_specs(3600), FakeTable())
    trends.add(mention)
    [row] = trends.top("1h", 10, NOW)
    assert (row["name"], row["entity_id"], row["mentions"]) == ("VS", "loc/united-states", 2)
    by_name, by_id = trends.entity("VS", NOW), trends.entity("loc/united-states", NOW)
    assert by_name is not None
    assert by_name == by_id
    assert by_name["entity_id"] == "loc/united-states"


def test_an_entity_is_shown_by_its_display_name_in_the_article_language() -> None:
    """/entities/loc/united-states and the trending rows show "Verenigde Staten" for a Dutch
    article that says "VS" first, and "United States" for an English one."""
    linker = EntityLinker(AliasTable.load())

    def linked(language: str, names: list[str], article_id: str) -> Any:
        raw = article([(n, "LOC", n) for n in names], 0.0, article_id)
        doc = Document(
            body=raw.body, language=Language(code=language, confidence=1.0), entities=raw.entities
        )
        entities = linker.enrich(doc).entities
        return raw.model_copy(update={"entities": entities, "language": doc.language})

    trends = TrendTables(window_specs(3600), FakeTable())
    for mention in mentions_of(linked("nl", ["VS", "Verenigde Staten", "VS"], "a1")):
        trends.add(mention)
    found = trends.entity("loc/united-states", NOW)
    assert found is not None
    assert (found["name"], found["entity_id"]) == ("Verenigde Staten", "loc/united-states")
    assert trends.top("1h", 10, NOW)[0]["name"] == "Verenigde Staten"
    [english] = mentions_of(linked("en", ["U.S."], "a2"))
    assert (english.canonical, english.key) == ("United States", "loc/united-states")


def test_tables_count_mentions_articles_and_mean_sentiment() -> None:
    table = FakeTable()
    trends = TrendTables(window_specs(3600), table)
    for i, score in enumerate((0.5, -0.1)):
        for mention in mentions_of(
            article([("Kim", "PER", "Kim Jong-un"), ("Kim", "PER", "Kim Jong-un")], score, f"a{i}")
        ):
            latest = trends.add(mention)
    # One entry, one write per mention: the 24 h figures are summed when read, not stored.
    assert len(table) == 1
    assert table.writes == 2
    top = trends.top("1h", 10, NOW + 60)
    assert top == [
        {
            "name": "Kim Jong-un",
            "entity_id": "Kim Jong-un",  # no entity id: counted under the canonical name
            "label": "PER",
            "mentions": 4,
            "articles": 2,
            "avg_sentiment": pytest.approx(0.2),
        }
    ]
    assert trends.top("24h", 10, NOW + 3 * 3600)[0]["mentions"] == 4
    assert trends.top("1h", 10, NOW + 3 * 3600) == []  # a later hour: nothing yet
    found = trends.entity("Kim Jong-un", NOW)
    assert found is not None
    assert found["windows"]["24h"]["articles"] == 2
    assert found["history"][0]["mentions"] == 4
    assert trends.entity("Nobody", NOW) is None

    window, value = latest["24h"]
    event = trending_event("Kim Jong-un", trends.specs["24h"], window, value)
    assert isinstance(decode(encode(event), EntityTrending), EntityTrending)
    assert event.window_kind is TrendWindowKind.HOPPING
    assert (event.window_end - event.window_start).total_seconds() == 86400
    assert event.window_start.timestamp() <= NOW < event.window_end.timestamp()
    assert (event.mentions, event.articles) == (4, 2)


def test_avg_sentiment_is_the_sentiment_toward_each_entity_not_the_document_s() -> None:
    """Ajax praised and Feyenoord blamed in the same mildly positive articles: their trending
    sentiment has opposite signs, and neither is the document score."""
    trends = TrendTables(window_specs(3600), FakeTable())
    published: dict[str, EntityTrending] = {}
    for n, ajax in enumerate((0.5, 0.75)):
        praised = EntitySentiment(label=SentimentLabel.POSITIVE, score=ajax)
        blamed = EntitySentiment(label=SentimentLabel.NEGATIVE, score=-ajax)
        article = with_entity_sentiment(
            f"match-{n}",
            sentiments={"Ajax": (praised, praised), "Feyenoord": (blamed, blamed)},
            document_score=0.25,
            ingested_at=datetime.fromtimestamp(NOW, UTC),
        )
        for mention in mentions_of(article):
            assert mention.score == (ajax if mention.key == "org/ajax" else -ajax)
            for name, update in trends.add(mention).items():
                if name == "1h":
                    published[mention.key] = trending_event(
                        mention.key, trends.specs[name], *update
                    )

    rows = {row["entity_id"]: row for row in trends.top("1h", 10, NOW)}
    assert rows["org/ajax"]["avg_sentiment"] == pytest.approx(0.625)
    assert rows["org/feyenoord"]["avg_sentiment"] == pytest.approx(-0.625)
    assert published["org/ajax"].avg_sentiment == pytest.approx(0.625)
    assert published["org/feyenoord"].avg_sentiment == pytest.approx(-0.625)
    assert (published["org/ajax"].articles, published["org/ajax"].mentions) == (2, 4)


def test_articles_without_entity_sentiment_count_their_document_score() -> None:
    """Replaying events enriched before schema version 4 gives the figures it always gave; a
    window holding old and new articles averages each article's own value."""
    at = datetime.fromtimestamp(NOW, UTC)
    old = as_version_3(with_entity_sentiment("old", document_score=0.25, ingested_at=at))
    assert {m.key: m.score for m in mentions_of(old)} == {
        "org/ajax": 0.25,
        "org/feyenoord": 0.25,
    }
    trends = TrendTables(window_specs(3600), FakeTable())
    for article in (old, with_entity_sentiment("new", document_score=0.25, ingested_at=at)):
        for mention in mentions_of(article):
            trends.add(mention)
    rows = {row["entity_id"]: row["avg_sentiment"] for row in trends.top("24h", 10, NOW)}
    assert rows == {
        "org/ajax": pytest.approx((0.25 + 0.625) / 2),
        "org/feyenoord": pytest.approx((0.25 - 0.625) / 2),
    }
    found = trends.entity("Feyenoord", NOW)
    assert found is not None
    assert found["windows"]["1h"]["avg_sentiment"] == pytest.approx((0.25 - 0.625) / 2)


def test_the_sentiment_of_an_entity_spans_all_its_names_in_the_article() -> None:
    """Trending counts per entity id: "VS" and "Verenigde Staten" in one article are one
    entity, whose sentiment is the aggregate over the mentions of both names."""
    body = "De VS dreigen. Verenigde Staten en VS schikken."
    names = {"VS": ("loc/united-states", EntityLabel.LOC)}
    names |= {"Verenigde Staten": ("loc/united-states", EntityLabel.LOC)}
    neg = EntitySentiment(label=SentimentLabel.NEGATIVE, score=-0.6)
    pos = EntitySentiment(label=SentimentLabel.POSITIVE, score=0.3)
    article = with_entity_sentiment(
        body=body, names=names, sentiments={"VS": (neg, pos), "Verenigde Staten": (pos,)}
    )
    [mention] = mentions_of(article)
    assert (mention.key, mention.mentions) == ("loc/united-states", 3)
    assert mention.score == pytest.approx(0.0)


def test_24h_figures_are_those_of_every_mention_in_the_last_day() -> None:
    """Summed from the tumbling windows, the 24 h figures (published and shown) are exactly
    the count a hopping window would hold: every mention whose time lies in the window."""
    rng = random.Random(7)
    specs = window_specs(3600)
    day = specs[1]
    trends = TrendTables(specs, FakeTable())
    mentions = [
        Mention(
            canonical=rng.choice(["Rutte", "Kim", "Trump"]),
            label="PER",
            mentions=rng.randint(1, 4),
            score=rng.uniform(-1, 1),
            at=NOW + rng.uniform(0, 3 * 86400),
            article_id=f"a{i}",
        )
        for i in range(400)
    ]
    mentions.sort(key=lambda m: m.at)
    for i, mention in enumerate(mentions):
        published = trends.add(mention)
        window, value = published["24h"]
        inside = [
            m for m in mentions[: i + 1] if m.key == mention.key and window[0] <= m.at <= window[1]
        ]
        assert window[0] <= mention.at <= window[1]
        assert value[:2] == [sum(m.mentions for m in inside), len(inside)]
        assert value[2] == pytest.approx(sum(m.score for m in inside))
    end = mentions[-1].at
    window = day.latest(end)
    expected = {
        name: sum(m.mentions for m in mentions if m.key == name and window[0] <= m.at <= window[1])
        for name in ("Rutte", "Kim", "Trump")
    }
    shown = {row["name"]: row["mentions"] for row in trends.top("24h", 10, end)}
    assert shown == {name: n for name, n in expected.items() if n}
    found = trends.entity("Kim", end)
    assert found is not None
    assert found["windows"]["24h"]["mentions"] == expected["Kim"]


def test_add_mention_starts_from_nothing() -> None:
    mention = Mention("X", "ORG", 3, 0.25, NOW, "a")
    assert add_mention(None, mention) == [3, 1, 0.25, "ORG", "X"]
    assert add_mention([3, 1, 0.25, "ORG", "X"], mention) == [6, 2, 0.5, "ORG", "X"]


def test_recent_articles_are_bounded_per_partition_and_rebuilt_after_restart() -> None:
    table = FakeTable()
    recent = RecentArticles(table, per_partition=2)
    for i in range(5):
        recent.add(0, f"p0-{i}", {"article_id": f"p0-{i}", "enriched_at": f"2026-01-0{i + 1}"})
    recent.add(1, "p1-0", {"article_id": "p1-0", "enriched_at": "2026-01-09"})
    assert sorted(table) == ["p0-3", "p0-4", "p1-0"]
    assert [a["article_id"] for a in recent.latest(10)] == ["p1-0", "p0-4", "p0-3"]
    assert recent.get("p0-0") is None
    # A new worker recovers the table and rebuilds the order from it before trimming.
    again = RecentArticles(table, per_partition=2)
    again.add(0, "p0-5", {"article_id": "p0-5", "enriched_at": "2026-01-06"})
    assert sorted(table) == ["p0-4", "p0-5", "p1-0"]
    assert recent_bound(200, 6) == 34


async def test_metrics_count_sends_and_time_enrichment() -> None:
    metrics = WorkerMetrics()
    sent: list[str] = []

    async def send(topic: str, key: bytes, value: bytes) -> None:
        sent.append(topic)

    counted = metrics.counted_send(send, "dl")
    await counted("out", b"k", b"v")
    await counted("dl", b"k", b"v")

    async def run(fn: Any, batch: list[int]) -> int:
        return int(fn(batch))

    assert await metrics.timed_enrichment(run)(len, [1, 2, 3]) == 3
    metrics.set_lag({("raw", 0): 5})
    text = metrics.exposition().decode()
    assert 'newsstream_events_out_total{topic="out"} 1.0' in text
    assert "newsstream_deadletters_total 1.0" in text
    assert "newsstream_enrichment_seconds_count 1.0" in text
    assert "newsstream_enriched_articles_total 3.0" in text
    assert 'newsstream_consumer_lag{partition="0",topic="raw"} 5.0' in text
    assert metrics.last_progress_at is not None
