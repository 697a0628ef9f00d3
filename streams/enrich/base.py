"""The enricher interface: pure functions of an article, each with a name and a version.

Enrichers never import faust or aiokafka. The pipeline runs them in order over a ``Document``
that accumulates their results; each enricher reads what earlier ones added (sentences,
language) and returns a new document with its own part filled in.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from schemas import EnricherInfo, Entity, Language, Quote, Sentiment


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range of code points in the body: ``body[start:end]``."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Document:
    """An article as it moves through the enrichers.

    ``body`` never changes; every offset any enricher reports indexes into it.
    """

    body: str
    title: str | None = None
    sentences: tuple[Span, ...] = ()
    language: Language | None = None
    entities: tuple[Entity, ...] = ()
    quotes: tuple[Quote, ...] = ()
    sentiment: Sentiment | None = None

    def with_(self, **changes: object) -> Document:
        """A copy with some fields replaced (documents are immutable)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class EnricherError(RuntimeError):
    """An enricher could not process a document; the message says why, for the dead-letter event."""


class Enricher(ABC):
    """One enrichment step.

    Implementations are constructed once per worker process (model loading happens in
    ``__init__`` or lazily on first use) and then called from a worker thread, never on the
    event loop; one instance is used by one thread at a time.
    """

    name: str
    version: str

    @property
    def info(self) -> EnricherInfo:
        """The provenance record of this enricher, carried in every event it contributes to."""
        return EnricherInfo(name=self.name, version=self.version)

    @abstractmethod
    def enrich(self, doc: Document) -> Document:
        """Return ``doc`` with this enricher's part added.

        Deterministic for a given input and version. Raises EnricherError (or any exception)
        when the document cannot be processed; the caller dead-letters that article and goes on.
        """

    def enrich_batch(self, docs: Sequence[Document]) -> list[Document]:
        """Enrich several documents at once; override where batching is faster.

        Guarantees the same results as calling ``enrich`` on each, in the same order.
        """
        return [self.enrich(doc) for doc in docs]

    def close(self) -> None:  # noqa: B027 - optional hook, most enrichers hold nothing
        """Release processes, sockets or memory; called once when the worker stops."""
