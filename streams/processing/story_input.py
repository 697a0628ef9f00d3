"""The story input: the internal topic where enriched events wait for their story.

The enrich step sends its ``ArticleEnriched`` events there (see
:class:`~streams.processing.batch.BatchProcessor`'s ``enriched_via``); the worker's ``stories``
agent (:mod:`streams.app.agents.stories`) sets each one's ``story_id`` and publishes it.
"""

from __future__ import annotations

from typing import Final

STORY_ID_RESERVE: Final = 256
"""Bytes an enriched event may grow by when the ``stories`` agent sets its ``story_id``
(``"story-" + article id`` and the JSON around it): the enrich agent dead-letters events over
``max_event_bytes`` minus this, so the published event stays within ``max_event_bytes``."""


def story_input_topic(app_id: str) -> str:
    """The internal one-partition topic of the enriched events waiting for their story."""
    return f"{app_id}-story-input"
