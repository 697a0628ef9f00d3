"""The sink contract: where enriched articles end up, durably and idempotently.

Every sink implements ``Sink`` and passes the same abstract contract test suite
(``tests/support/sink_contract.py``). The Kafka consumer loop that feeds sinks lives elsewhere and
never depends on a particular sink: it consumes a batch of ``ArticleEnriched`` events from
``news.articles.enriched``, calls ``write(batch)``, and commits the Kafka offsets only after
``write`` returned. Delivery is therefore at-least-once, and sinks make it effectively-once by
being idempotent.

Which derivation of an article a sink keeps
-------------------------------------------
An article (``article_id``) may be enriched more than once: a redelivery or replay carries the
same ``event_id`` (it is derived from the article id and the enricher versions), a
re-enrichment with other enricher versions carries a new one. A sink stores, per article, the
*newest derivation*, ordered by the key ``(enriched_at, event_id)``: later ``enriched_at``
(compared as instants, whatever the UTC offset) wins, and equal instants are broken by the
greater ``event_id`` so that every sink picks the same one whatever the arrival order. An
incoming event, compared with the derivation currently stored for its article:

* nothing stored -> it is *inserted*;
* same ``event_id`` as the stored one -> *unchanged* (a redelivery or a replay with the same
  enrichers, even if its ``enriched_at`` is later: it is the same derivation);
* greater key -> it *replaces* the stored one (*updated*);
* smaller or equal key -> *unchanged* (an older derivation arriving late never wins).

Sinks must not import faust or aiokafka.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from schemas import ArticleEnriched
from streams.resources import Resource


class SinkError(RuntimeError):
    """A sink cannot do what was asked; the message says why."""


class SinkStateError(SinkError):
    """A method was called in the wrong state (``write`` before ``open`` or after ``close``)."""


class SinkCorruptError(SinkError):
    """The stored data is damaged in a way the sink will not repair by guessing."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one ``write`` did, counted per event of the batch.

    ``inserted + updated + unchanged == len(batch)``: the counts are those of applying the
    batch's events one by one, in order (so ``[v1, v2]`` of a new article is one insert and one
    update, and a duplicate inside a batch is counted as unchanged the second time).
    """

    inserted: int = 0
    """Events stored for an article the sink did not hold before."""
    updated: int = 0
    """Events that replaced an older derivation of their article."""
    unchanged: int = 0
    """Events that changed nothing: already stored, or older than what is stored."""

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged

    @property
    def changed(self) -> int:
        """Events that changed what is stored (inserted or updated)."""
        return self.inserted + self.updated

    def __add__(self, other: WriteResult) -> WriteResult:
        return WriteResult(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


def newer(
    candidate: tuple[datetime, str],
    stored: tuple[datetime, str],
) -> bool:
    """Whether a derivation keyed ``(enriched_at, event_id)`` replaces the stored one.

    This is the one ordering rule of the module docstring, shared so sinks cannot drift apart.
    """
    if candidate[1] == stored[1]:
        return False
    return candidate > stored


class Sink(Resource, ABC):
    """A durable, idempotent store of ``ArticleEnriched`` events (one current row per article).

    Life cycle: construct (cheap, touches nothing on disk) -> ``open()`` once -> any number of
    ``write`` / ``count`` / ``get`` calls -> ``close()``. Usable as a context manager, which
    opens and closes it.

    Threads: every method may be called from any thread (the consumer loop calls ``write`` via
    ``asyncio.to_thread``); implementations serialise calls with a lock, so concurrent calls are
    safe but do not run in parallel.
    """

    name: ClassVar[str]
    """Short name of the kind of sink ('jsonl', 'sqlite'), for logs and metrics."""

    @abstractmethod
    def open(self) -> None:
        """Prepare storage; called once, before the first ``write``.

        Creates missing files, directories and tables, applies schema migrations, and recovers
        from a crash in the middle of an earlier ``write`` (each sink documents how). Raises
        SinkError when the storage cannot be used (damaged, locked by another writer, or of a
        newer schema than this code knows); the sink holds no resources after it raised.
        """

    @abstractmethod
    def write(self, batch: Sequence[ArticleEnriched]) -> WriteResult:
        """Store a batch of events; called with batches in topic order.

        Durable on return: when ``write`` returns, every change it reports is on stable storage
        (fsynced / committed) and survives a crash, so the caller may then commit the Kafka
        offsets of the batch. Idempotent: the events are applied in order by the rule in the
        module docstring, so writing a batch again (a redelivery after a crash before the
        offset commit) changes nothing and reports every event as unchanged.

        If ``write`` raises, the batch must be treated as not written and written again (the
        caller does not commit its offsets); the sink stays consistent and the retry is applied
        exactly as if the failed call had not happened. An empty batch is a no-op.
        Raises SinkStateError unless the sink is open.
        """

    @abstractmethod
    def close(self) -> None:
        """Release files and connections; called once when the consumer stops.

        Everything a returned ``write`` reported is already durable, so closing adds no
        durability. Calling it again, or on a sink never opened, does nothing.
        """

    @abstractmethod
    def count(self) -> int:
        """Number of distinct articles stored (for reads, health checks and tests)."""

    @abstractmethod
    def get(self, article_id: str) -> ArticleEnriched | None:
        """The stored (newest) derivation of an article, exactly as written, or None."""
