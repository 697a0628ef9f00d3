"""NER scored end to end: CoNLL documents through the enrichment pipeline users run.

The entities a user reads come out of the whole pipeline (sentence splitter, language
detector, the tagger, ``entity_rules``, ``entity-links``), not out of the tagger alone. This
module rebuilds articles from a CoNLL file, runs them through a ``Pipeline`` (the one
``newsstream enrich`` and the worker build), maps each entity's character span back onto the
CoNLL tokens and scores the result exactly like ``streams.evaluation.ner`` scores the tagger,
so the two figures differ only by what the pipeline does around the tagger.

How an article is rebuilt: one ``-DOCSTART-`` block is one article; a file without any (the
CoNLL-2003 copy here) is cut into articles of ``sentences_per_document`` sentences. Each
sentence is one line of the body, its tokens joined by single spaces; the sentence splitter
then finds sentences itself, as it does for real input.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from schemas import ArticleEnriched, ArticleIngested, Entity
from schemas.ids import event_id
from streams.evaluation.conll import (
    DEFAULT_SENTENCES_PER_DOCUMENT,
    ConllSentence,
    conll_documents,
    read_conll,
)
from streams.evaluation.ner import NerReport, score

DEFAULT_BATCH_DOCUMENTS = 16


@dataclass(frozen=True, slots=True)
class ConllDocument:
    """One rebuilt article: its body and, per sentence, each token's ``(start, end)`` in it."""

    body: str
    sentences: tuple[ConllSentence, ...]
    offsets: tuple[tuple[tuple[int, int], ...], ...]


def rebuilt_article(sentences: Sequence[ConllSentence]) -> ConllDocument:
    """The article body of a group of sentences: one line each, tokens joined by spaces."""
    lines: list[str] = []
    offsets: list[tuple[tuple[int, int], ...]] = []
    position = 0
    for sentence in sentences:
        spans = []
        cursor = position
        for word in sentence.words:
            spans.append((cursor, cursor + len(word)))
            cursor += len(word) + 1
        offsets.append(tuple(spans))
        line = " ".join(sentence.words)
        lines.append(line)
        position += len(line) + 1
    return ConllDocument("\n".join(lines), tuple(sentences), tuple(offsets))


def entity_tags(document: ConllDocument, entities: Sequence[Entity]) -> list[list[str]]:
    """IOB2 tags per CoNLL token from the entities' character spans.

    A token belongs to an entity when their spans overlap; the first such token gets ``B-``.
    Entities that overlap an earlier one keep only the tokens still free, so every token has
    one tag, as conlleval needs.
    """
    tags = [["O"] * len(spans) for spans in document.offsets]
    for entity in sorted(entities, key=lambda e: (e.start, e.end)):
        first = True
        for s, spans in enumerate(document.offsets):
            for t, (start, end) in enumerate(spans):
                if start < entity.end and end > entity.start and tags[s][t] == "O":
                    tags[s][t] = f"{'B' if first else 'I'}-{entity.label.value}"
                    first = False
    return tags


class ArticlePipeline(Protocol):
    """What ``evaluate_pipeline`` needs of ``streams.enrich.pipeline.Pipeline``."""

    def enrich_batch(self, articles: Sequence[ArticleIngested]) -> Sequence[object]: ...


def _article(index: int, body: str, path: Path) -> ArticleIngested:
    return ArticleIngested(
        article_id=event_id("conll", str(path), str(index)),
        source_id=f"{path.stem}-{index}",
        source_path=f"{path.name}#{index}",
        content_format="txt",
        content_sha256="0" * 64,
        body=body,
        ingested_at=datetime.now(UTC),
    )


def evaluate_pipeline(
    pipeline: ArticlePipeline,
    conll_path: Path,
    *,
    sentences_per_document: int = DEFAULT_SENTENCES_PER_DOCUMENT,
    batch_documents: int = DEFAULT_BATCH_DOCUMENTS,
) -> NerReport:
    """Run the CoNLL file's rebuilt articles through ``pipeline`` and score its entities.

    ``seconds`` is the time ``enrich_batch`` took (every enricher, in batches of
    ``batch_documents`` articles, as the worker runs them). An article the pipeline fails on
    counts as tagged with no entities and is named in ``extra['failed']``.
    """
    sentences = read_conll(conll_path)
    documents = [
        rebuilt_article(group) for group in conll_documents(sentences, sentences_per_document)
    ]
    gold: list[tuple[str, ...]] = []
    predicted: list[list[str]] = []
    failed: list[str] = []
    seconds = 0.0
    for first in range(0, len(documents), batch_documents):
        batch = documents[first : first + batch_documents]
        articles = [_article(first + i, d.body, conll_path) for i, d in enumerate(batch)]
        started = time.perf_counter()
        results = pipeline.enrich_batch(articles)
        seconds += time.perf_counter() - started
        for document, article, result in zip(batch, articles, results, strict=True):
            entities: Sequence[Entity] = ()
            if isinstance(result, ArticleEnriched):
                entities = result.entities
            else:
                failed.append(article.source_path)
            gold.extend(s.tags for s in document.sentences)
            predicted.extend(entity_tags(document, entities))
    report = score(gold, predicted)
    extra = {"file": str(conll_path), "documents": str(len(documents))}
    if failed:
        extra["failed"] = ", ".join(failed)
    return replace(report, seconds=seconds, extra=extra)
