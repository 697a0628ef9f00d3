"""``streams.config.Topics``: the one table of the public topics and their short names."""

from __future__ import annotations

from streams.config import Settings, Topics

ALL = (
    "p.articles.raw",
    "p.articles.enriched",
    "p.entities",
    "p.quotes",
    "p.deadletter",
    "p.entities.trending",
    "p.stories",
)


def test_each_public_topic_is_its_prefix_and_short_name() -> None:
    t = Topics("p.")
    assert (t.raw, t.enriched, t.entities, t.quotes, t.deadletter, t.trending, t.stories) == ALL


def test_all_lists_every_public_topic_once_in_table_order() -> None:
    assert Topics("p.").all() == ALL


def test_by_short_name_maps_every_short_name_to_its_topic() -> None:
    topics = Topics("p.")
    by_short = topics.by_short_name()
    assert by_short == {
        "articles.raw": "p.articles.raw",
        "articles.enriched": "p.articles.enriched",
        "entities": "p.entities",
        "quotes": "p.quotes",
        "deadletter": "p.deadletter",
        "entities.trending": "p.entities.trending",
        "stories": "p.stories",
    }
    assert sorted(by_short.values()) == sorted(topics.all())


def test_a_renamed_topic_shows_in_all_and_by_short_name() -> None:
    # cli/replay.py retargets some topics of one Topics (``--to-suffix``); the table follows.
    topics = Topics("p.")
    topics.enriched = "p.articles.enriched.v2"
    assert "p.articles.enriched.v2" in topics.all()
    assert topics.by_short_name()["articles.enriched"] == "p.articles.enriched.v2"


def test_an_empty_prefix_gives_the_short_names() -> None:
    assert Topics("").all() == tuple(Topics("").by_short_name())


def test_settings_give_the_topics_of_their_prefix() -> None:
    assert Settings(topic_prefix="x.").topics.stories == "x.stories"
    assert Settings(topic_prefix="x.").topics.all() == Topics("x.").all()
