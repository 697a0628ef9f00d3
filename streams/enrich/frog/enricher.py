"""The named-entity enricher on Frog: paragraphs to Frog, tokens back to entities."""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Sequence
from typing import Final

from schemas import Entity, EntityLabel
from streams.enrich.base import Document, Enricher
from streams.enrich.entity_rules import (
    RULES_VERSION,
    Mention,
    Pos,
    Token,
    mentions_from_bio,
    mentions_to_entities,
)
from streams.enrich.frog.alignment import align_tokens
from streams.enrich.frog.chunks import DEFAULT_MAX_CHUNK_CHARS, paragraph_chunks
from streams.enrich.frog.pool import FrogServerPool
from streams.enrich.frog.protocol import FrogToken

log = logging.getLogger(__name__)

FROG_LABELS: Final[dict[str, EntityLabel]] = {
    "PER": EntityLabel.PER,
    "LOC": EntityLabel.LOC,
    "ORG": EntityLabel.ORG,
    "MISC": EntityLabel.MISC,
    # Frog's products and events have no type of their own in our schema.
    "PRO": EntityLabel.MISC,
    "EVE": EntityLabel.MISC,
}


def cgn_pos(tag: str) -> Pos:
    """The coarse part of speech of a CGN tag (the tag set of Frog's tagger)."""
    head, _, rest = tag.partition("(")
    features = rest.rstrip(")").split(",")
    if head == "N":
        return Pos.PROPN if "eigen" in features else Pos.NOUN
    if head == "SPEC":
        return Pos.PROPN if "deeleigen" in features else Pos.X
    if head == "VG":
        return Pos.CCONJ if "neven" in features else Pos.SCONJ
    return _CGN_HEADS.get(head, Pos.X)


_CGN_HEADS: Final[dict[str, Pos]] = {
    "ADJ": Pos.ADJ,
    "WW": Pos.VERB,
    "VZ": Pos.ADP,
    "LID": Pos.DET,
    "VNW": Pos.PRON,
    "BW": Pos.ADV,
    "TW": Pos.NUM,
    "LET": Pos.PUNCT,
    "TSW": Pos.INTJ,
}


class FrogEntityRecognizer(Enricher):
    """Fills ``Document.entities`` with the named entities Frog finds in the body, cleaned up.

    Runs after the language detector. Articles whose detected language is known and not Dutch
    get no entities (Frog's models are Dutch only); 'und' and undetected ones are processed.
    Each paragraph is one request; tokens are aligned back to the body, grouped by their BIO
    tags, repaired by ``entity_rules.clean_mentions`` and named by
    ``entity_rules.canonical_names``. Every entity satisfies ``text == body[start:end]``.
    """

    name = "ner-frog"

    def __init__(
        self,
        pool: FrogServerPool | None = None,
        *,
        close_pool: bool = False,
        frog_bin: str = "frog",
        servers: int = 1,
        max_chunk_chars: int = DEFAULT_MAX_CHUNK_CHARS,
    ) -> None:
        """Use ``pool``, or start (and own) a pool of ``servers`` servers of ``frog_bin``.

        A given pool stays up when this recognizer closes, unless ``close_pool`` hands it over.
        Starting takes seconds and fails here, not on the first article, when Frog is missing.
        ``max_chunk_chars``: longest text per request; part of the version when not default.
        """
        if max_chunk_chars < 1:
            raise ValueError("max_chunk_chars must be at least 1")
        self._owns_pool = pool is None or close_pool
        self._pool = pool if pool is not None else FrogServerPool(servers, frog_bin=frog_bin)
        self._max_chunk_chars = max_chunk_chars
        self.version = f"frog-{self._pool.frog_version}+rules-{RULES_VERSION}"
        if max_chunk_chars != DEFAULT_MAX_CHUNK_CHARS:
            self.version += f"+chunk{max_chunk_chars}"

    @property
    def pool(self) -> FrogServerPool:
        return self._pool

    def enrich(self, doc: Document) -> Document:
        """``doc`` with ``entities`` set (replacing any earlier ones), in body order."""
        if doc.language is not None and doc.language.code not in ("nl", "und"):
            return doc.with_(entities=())
        return doc.with_(entities=tuple(self.recognize(doc.body)))

    def enrich_batch(self, docs: Sequence[Document]) -> list[Document]:
        """Like ``enrich`` on each, spread over the pool's servers when it has several."""
        if self._pool.size == 1 or len(docs) < 2:
            return [self.enrich(doc) for doc in docs]
        workers = min(self._pool.size, len(docs))
        with concurrent.futures.ThreadPoolExecutor(workers, "frog-batch") as executor:
            return list(executor.map(self.enrich, docs))

    def recognize(self, body: str) -> list[Entity]:
        """The entities of one text, in body order; raises FrogError when Frog fails twice."""
        mentions: list[Mention] = []
        with self._pool.lease() as server:
            for start, end in paragraph_chunks(body, self._max_chunk_chars):
                chunk = body[start:end]
                mentions.extend(_frog_mentions(chunk, start, server.analyse(chunk)))
        return mentions_to_entities(mentions, body)

    def close(self) -> None:
        """Stop the servers if this recognizer started or was handed them; else leave them up."""
        if self._owns_pool:
            self._pool.close()


def _frog_mentions(chunk: str, offset: int, sentences: list[list[FrogToken]]) -> list[Mention]:
    spans = align_tokens(chunk, [tok.word for sent in sentences for tok in sent])
    lost: list[str] = []
    mentions: list[Mention] = []
    at = 0
    for sentence in sentences:
        tokens: list[Token] = []
        tags: list[str] = []
        for frog_token in sentence:
            span = spans[at]
            at += 1
            if span is None:
                lost.append(frog_token.word)
                continue
            start, end = span
            tokens.append(
                Token(chunk[start:end], start + offset, end + offset, cgn_pos(frog_token.tag))
            )
            tags.append(frog_token.ner)
        mentions.extend(mentions_from_bio(tokens, tags, FROG_LABELS))
    if any(word.strip() for word in lost):
        log.warning("%d frog tokens not found in the text, left out: %r", len(lost), lost[:10])
    return mentions
