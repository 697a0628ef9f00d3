"""The ``news.stories`` event of an assignment: what the worker publishes per article.

Called by the worker's ``stories`` agent (:mod:`streams.app.agents.stories`) after each
:meth:`streams.stories.cluster.StoryClusterer.assign`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from schemas import EntityLabel, StoryDuplicate, StoryEntity, StoryUpdated
from schemas.events import utc_now
from schemas.ids import event_id
from streams.stories.cluster import Assignment, entity_rank


def story_event(assignment: Assignment, top: int = 10) -> StoryUpdated:
    """The ``news.stories`` event for ``assignment``: the story's state after it.

    ``event_id`` is derived from the story id, its article ids and the reported article, so
    re-sending the same state (a redelivery) gives the same id.
    """
    story = assignment.story
    entities = sorted(story["entities"].items(), key=entity_rank)
    return StoryUpdated(
        event_id=event_id(story["id"], assignment.article_id, *story["articles"]),
        story_id=story["id"],
        title=story["title"],
        article_ids=tuple(story["articles"]),
        duplicates=tuple(
            StoryDuplicate(article_id=a, duplicate_of=o) for a, o in story["duplicates"].items()
        ),
        top_entities=tuple(
            StoryEntity(
                entity_id=eid, name=v[2], label=EntityLabel(v[3]), mentions=v[0], articles=v[1]
            )
            for eid, v in entities[:top]
        ),
        first_seen=datetime.fromtimestamp(story["first"], UTC),
        last_seen=datetime.fromtimestamp(story["last"], UTC),
        article_id=assignment.article_id,
        duplicate_of=assignment.duplicate_of,
        match_score=max(0.0, min(1.0, assignment.score)),
        new_story=assignment.new_story,
        updated_at=utc_now(),
    )
