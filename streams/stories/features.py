"""What the story clustering uses of one enriched article: its features.

:func:`article_features` turns an ``ArticleEnriched`` into :class:`ArticleFeatures`: the body's
MinHash signature (:mod:`streams.stories.minhash`), the entity-id counts and the content-word
counts that the same-event score compares, and the title a new story is named by. Called by
:meth:`streams.stories.cluster.StoryClusterer.features`, once per article.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from schemas import ArticleEnriched
from streams.stories.minhash import MinHasher, shingles

_WORD: Final = re.compile(r"\w+")
TITLE_CHARS: Final = 160

#: Dutch and English function words and newsroom verbs; they carry no topic.
_STOPWORD_TEXT: Final = """
    aan af al als alleen altijd ander andere auteur bij binnen boven daar daarom dan dat de deze
    die dit doch doen door dus een eens eerder en er geen had heb hebben heeft hem het hier hij
    hoe hun iemand iets ik in is ja je kan kon kunnen maar me meer men met mij mijn moet na naar
    niet niets nog nu of om omdat ons ook op over reeds te tegen toch toen tot u uit uw van veel
    voor want waren was wat we wel werd wie wij wil worden wordt zal ze zei zegt zelf zich zij
    zijn zo zou zouden zullen volgens aldus gisteren vandaag donderdag woensdag dinsdag maandag
    vrijdag zaterdag zondag jaar twee drie nieuwe nieuw gaat gaan komen komt
    a about after again against all also an and any are as at be been before being but by can
    could did do does during each few for from had has have having he her here him his how i if
    in into is it its just more most no not now of on once only or other our out over own said
    says same she should so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom why
    will with would you your told according yesterday today monday tuesday wednesday thursday
    friday saturday sunday year years two three new one
"""
STOPWORDS: Final = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True, slots=True)
class ArticleFeatures:
    """What the clustering uses of one article (computed by :meth:`StoryClusterer.features`)."""

    article_id: str
    at: float
    title: str
    signature: tuple[int, ...]
    entities: Mapping[str, tuple[int, str, str]]
    """entity id -> (mentions, canonical name, label)."""
    terms: Mapping[str, int]


def article_features(
    article: ArticleEnriched, hasher: MinHasher, shingle_words: int
) -> ArticleFeatures:
    """The article's signature, entity-id counts and content-word counts."""
    tokens = _WORD.findall(article.body.lower())
    entities: dict[str, tuple[int, str, str]] = {}
    for entity in article.entities:
        key = entity.entity_id or f"{entity.label.value.lower()}/{entity.canonical.lower()}"
        mentions, name, label = entities.get(key, (0, entity.canonical, entity.label.value))
        entities[key] = (mentions + 1, name, label)
    # Interned: the story profiles keep up to max_story_terms of them per story, and one
    # shared string per word is what keeps the state at a few KB per article.
    terms = dict(
        Counter(
            sys.intern(t) for t in tokens if len(t) > 2 and t not in STOPWORDS and not t.isdigit()
        )
    )
    return ArticleFeatures(
        article_id=article.article_id,
        at=article.ingested_at.timestamp(),
        title=_title(article),
        signature=hasher.signature(shingles(tokens, shingle_words)),
        entities=entities,
        terms=terms,
    )


def _title(article: ArticleEnriched) -> str:
    """The article's title, else its first sentence, shortened to ``TITLE_CHARS``."""
    text = (article.title or "").strip()
    if not text and article.sentiment.sentences:
        first = article.sentiment.sentences[0]
        text = article.body[first.start : first.end].strip()
    text = " ".join((text or article.body).split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"
