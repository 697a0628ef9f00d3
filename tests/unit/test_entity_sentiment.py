"""``streams.entity_sentiment``: an entity's sentiment over its mentions, by the document
aggregate's rule (mean score; most common label, never against the score's sign)."""

from __future__ import annotations

import pytest

from schemas import EntitySentiment, SentimentLabel
from streams.entity_sentiment import entity_sentiment

NEG, NEU, POS = SentimentLabel.NEGATIVE, SentimentLabel.NEUTRAL, SentimentLabel.POSITIVE


def s(label: SentimentLabel, score: float) -> EntitySentiment:
    return EntitySentiment(label=label, score=score)


def test_no_mention_with_sentiment_gives_none_not_neutral() -> None:
    assert entity_sentiment([]) is None
    assert entity_sentiment([None, None]) is None


def test_one_mention_is_its_own_sentiment() -> None:
    assert entity_sentiment([s(POS, 0.1)]) == s(POS, 0.1)
    assert entity_sentiment([s(NEU, -0.3)]) == s(NEU, -0.3)


def test_mentions_without_sentiment_are_left_out() -> None:
    assert entity_sentiment([None, s(NEG, -0.8), None]) == s(NEG, -0.8)


def test_the_score_is_the_mean_and_the_label_the_most_common() -> None:
    got = entity_sentiment([s(POS, 0.9), s(POS, 0.5), s(NEU, 0.1)])
    assert got is not None
    assert got.label is POS
    assert got.score == pytest.approx(0.5)
    # Two neutral mentions outvote a positive one; the mean leans positive, which a neutral
    # label does not contradict.
    got = entity_sentiment([s(NEU, 0.2), s(NEU, 0.0), s(POS, 0.7)])
    assert got is not None
    assert got.label is NEU
    assert got.score == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("mentions", "label"),
    [
        ([s(POS, 0.8), s(NEG, -0.2)], POS),  # mean +0.3
        ([s(POS, 0.2), s(NEG, -0.8)], NEG),  # mean -0.3
        ([s(POS, 0.5), s(NEG, -0.5)], NEU),  # mean 0
        ([s(POS, 0.6), s(NEU, 0.0)], POS),  # mean +0.3
        ([s(POS, 0.1), s(NEU, -0.3)], NEU),  # mean -0.1: negative is not among the tied
        ([s(NEG, -0.4), s(NEU, 0.0), s(POS, 0.1)], NEG),  # three-way tie, mean -0.1
    ],
)
def test_a_tie_goes_to_the_label_of_the_mean_score_s_sign(
    mentions: list[EntitySentiment], label: SentimentLabel
) -> None:
    got = entity_sentiment(mentions)
    assert got is not None
    assert got.label is label


def test_the_label_never_contradicts_the_score() -> None:
    # Mostly (mildly) positive, one strongly negative mention: the mean is negative, so the
    # most common label (positive) would contradict it.
    got = entity_sentiment([s(POS, 0.1), s(POS, 0.1), s(NEG, -0.9)])
    assert got is not None
    assert got.score == pytest.approx(-0.7 / 3)
    assert got.label is NEU
    got = entity_sentiment([s(NEG, -0.1), s(NEG, -0.1), s(POS, 0.9)])
    assert got is not None
    assert (got.label, got.score > 0) == (NEU, True)


def test_opposite_mentions_give_opposite_aggregates() -> None:
    praised = entity_sentiment([s(POS, 0.7), s(POS, 0.5)])
    blamed = entity_sentiment([s(NEG, -0.7), s(NEG, -0.5)])
    assert praised is not None
    assert blamed is not None
    assert (praised.label, blamed.label) == (POS, NEG)
    assert praised.score == pytest.approx(-blamed.score) == pytest.approx(0.6)


def test_the_score_stays_in_range() -> None:
    got = entity_sentiment([s(POS, 1.0)] * 7)
    assert got == s(POS, 1.0)
