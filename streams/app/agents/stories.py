"""The ``stories`` agent: every enriched article gets its story before it is published.

:func:`install_stories` is called once by :func:`streams.app.factory.create_app`. Data flow
(enrich -> stories -> enriched):

1. The ``enrich`` agent (:class:`~streams.processing.batch.BatchProcessor` with ``enriched_via``)
   sends each :class:`~schemas.ArticleEnriched` event, without a story, to the internal topic
   ``{app_id}-story-input`` (:mod:`streams.processing.story_input`) instead of
   ``news.articles.enriched``.
   That topic has **one partition**: clustering compares every article with every recent
   story, so the story state needs one owner that sees the articles in one order.
2. The ``stories`` agent (on whichever worker holds that partition) takes the events one by
   one, computes each article's features (MinHash signature, entity-id counts, content
   words; ~0.4 ms an article) and assigns it with
   :class:`~streams.stories.cluster.StoryClusterer` over two Faust tables
   (``stories-articles``, ``stories-stories``; one partition each, backed by changelog topics,
   so a restarted or replacement worker recovers the state; the near-duplicate band index and
   the entity index are rebuilt in memory from them after every partition assignment). For
   each article it sends the enriched event with ``story_id`` set to
   ``news.articles.enriched`` (key: article id) and a :class:`~schemas.StoryUpdated` to
   ``news.stories`` (key: story id).

So ``news.articles.enriched`` holds each derivation once, with its story: sinks and the
dashboard's agents (trending) see one event per article and delivery, as before stories.
``story_id`` is not part of the event id (article id + enricher versions).

Delivery is at-least-once like the rest of the worker: a story-input event is acknowledged
only after both of its outputs (and those of every earlier record) were acknowledged by the
broker. The agent does not wait for each article's acknowledgements before the next article:
up to ``in_flight`` records' outputs are in the broker's hands at once
(:class:`~streams.processing.delivery.DeliveryWindow`).
A redelivered story-input record (same bytes) gives the same two events: the clusterer returns
the article's recorded assignment and the state is unchanged. A raw record enriched again
after a crash of the enrich agent reaches the story input as a second event that differs only
in ``enriched_at``; it gets the recorded story, and the sinks keep one row (same ``event_id``).
Story ids come from the story's first article; with one ordered input the same raw log gives
the same stories, up to the order in which the raw partitions' batches reached the single
input partition. Records of the story input that are not ``ArticleEnriched`` events (e.g. the
feature records of a worker from before this design) are logged and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import faust

from schemas import DeadLetterStage, encode
from schemas.deadletters import record_deadletter
from streams.app.agents.loop import Outlet, add_agent
from streams.app.metrics import WorkerMetrics
from streams.app.trending import decode_enriched
from streams.config import Topics
from streams.processing.delivery import Output
from streams.processing.story_input import story_input_topic
from streams.stories.cluster import StoryClusterer, StoryParams, StoryState
from streams.stories.events import story_event

log = logging.getLogger(__name__)

TABLES = ("articles", "stories")
"""The story state's tables (``stories-articles``, ``stories-stories``). Earlier workers
also kept ``stories-entities``; its changelog topic is no longer read (the entity
index is derived from ``stories-stories``) and may be deleted."""


def install_stories(
    app: faust.App,
    topics: Topics,
    outlet: Outlet,
    on_done: Callable[[Any], None],
    *,
    app_id: str,
    metrics: WorkerMetrics,
    max_deadletter_payload_bytes: int,
    in_flight: int = 256,
    params: StoryParams | None = None,
) -> None:
    """Add the story tables, the internal story-input topic and the ``stories`` agent.

    ``on_done(event)`` is called once a story-input event's outputs were acknowledged (the
    worker's watchdog counts it as progress). Outputs go to ``outlet``, at most ``in_flight``
    records' worth waiting for the broker. A record that is not an ``ArticleEnriched`` is
    dead-lettered with at most ``max_deadletter_payload_bytes`` of its bytes.

    From then on the app's enriched events must go to the story input (the agent
    publishes them on ``topics.enriched`` with their ``story_id``), never to
    ``topics.enriched`` directly, or they would be published without a story.
    """
    # One partition for the input and every table: one owner of the story state (see above).
    input_topic = app.topic(story_input_topic(app_id), partitions=1, internal=True)
    tables = {
        name: app.Table(
            f"stories-{name}",
            default=None,
            partitions=1,
            help=f"Story clustering state: {name} (see streams.stories.cluster.StoryState).",
        )
        for name in TABLES
    }
    clusterer = StoryClusterer(StoryState(**tables), params)

    async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # The tables are recovered after each assignment: the band index derived from them
        # is rebuilt when the next article is assigned (events flow only after recovery).
        clusterer.forget_index()

    app.on_partitions_assigned.connect(on_assigned)

    async def outputs_of(events: Sequence[Any]) -> list[Output]:
        [event] = events
        article = decode_enriched(event.value)
        if article is None:
            # Never dropped silently: the record goes to the dead-letter topic, with its
            # bytes and where it came from, like every other undecodable input.
            return [story_input_deadletter(event.message, topics, max_deadletter_payload_bytes)]
        assignment = clusterer.assign(clusterer.features(article))
        placed = article.model_copy(update={"story_id": assignment.story_id})
        return [
            (topics.enriched, article.article_id.encode(), encode(placed)),
            (topics.stories, assignment.story_id.encode(), encode(story_event(assignment))),
        ]

    def delivered(event: Any) -> None:
        metrics.progress()
        on_done(event)

    # One event at a time (the tables change per event). The outputs of successive events
    # wait for the broker together; each event is acknowledged once its outputs were.
    add_agent(
        app, input_topic, "stories", outputs_of, outlet, in_flight=in_flight, on_delivered=delivered
    )


def story_input_deadletter(message: Any, topics: Topics, max_payload_bytes: int) -> Output:
    """The dead letter of a story-input record that is not an ``ArticleEnriched``, with at
    most ``max_payload_bytes`` of its bytes."""
    letter = record_deadletter(
        message,
        DeadLetterStage.DECODE,
        "invalid-event",
        "a story-input record that is not an ArticleEnriched event",
        max_payload_bytes=max_payload_bytes,
    )
    return (topics.deadletter, message.key or b"", encode(letter))
