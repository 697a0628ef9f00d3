"""Sentiment toward an entity over several of its mentions: the one rule every consumer of
``Entity.sentiment`` uses to say how a whole article portrays an entity.

``streams.enrich.pipeline.entity_events`` fills ``EntityMentioned.sentiment`` with it,
``streams.app.trending`` counts it in ``EntityTrending.avg_sentiment`` and the SQLite sink stores
it per (article, entity). Nothing here makes entity sentiment up: mentions without one (events
before schema version 4, or no entity-sentiment enricher) are left out, and an entity none of
whose mentions has one gets None, so the caller decides what stands in for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from schemas import EntitySentiment, SentimentLabel


def entity_sentiment(mentions: Iterable[EntitySentiment | None]) -> EntitySentiment | None:
    """The sentiment toward an entity over its mentions' sentiments (None entries skipped);
    None when no mention has one.

    The document aggregate (``streams.enrich.sentiment.SentenceSentimentEnricher``) averages
    the sentences' class probabilities and takes the most probable class of that mean as its
    label and P(positive) - P(negative) of it as its score, so that its label never contradicts
    its score's sign. Mentions carry only their label (their most probable class) and score,
    not the probabilities, so the same rule is applied to what they carry, each mention
    weighing the same:

    * score: the mean of the mentions' scores. The score is linear in the probabilities, so
      this is exactly the document rule's score of the mean of their class probabilities.
    * label: the mean probabilities are not known, so each mention's class distribution is
      taken as its label alone; the most probable class of their mean is then the most common
      label. A tie goes to the label of the mean score's sign (positive above 0, negative
      below, neutral at 0), or neutral when that label is not among the tied ones. As in the
      document rule, the label never contradicts the score: where the most common label is
      positive and the mean score negative, or the reverse, the label is neutral.

    No thresholds: a single mention's sentiment is returned as it is (unless its own label
    contradicts its score, which then reads neutral), and a mean score near 0 keeps the label
    of the mentions.
    """
    given = [m for m in mentions if m is not None]
    if not given:
        return None
    score = max(-1.0, min(1.0, sum(m.score for m in given) / len(given)))
    counts = Counter(m.label for m in given)
    most = max(counts.values())
    tied = {label for label, n in counts.items() if n == most}
    sign = (
        SentimentLabel.POSITIVE
        if score > 0
        else SentimentLabel.NEGATIVE
        if score < 0
        else SentimentLabel.NEUTRAL
    )
    if len(tied) == 1:
        (label,) = tied
    else:
        label = sign if sign in tied else SentimentLabel.NEUTRAL
    contradicted = (label is SentimentLabel.POSITIVE and score < 0) or (
        label is SentimentLabel.NEGATIVE and score > 0
    )
    return EntitySentiment(label=SentimentLabel.NEUTRAL if contradicted else label, score=score)
