"""The ``entity-links`` enricher alone: start-up, first article and per-article time.

    python -m bench.links ../shared/corpora/conll2002-nl/ned.testa \
        ../shared/corpora/conll2003-en/eng.testa

Each CoNLL document becomes one article (as ``newsstream eval ner`` rebuilds it) whose
entities are the gold ones (canonical = text), so the figure is the linker's own cost on a
realistic mix of names, whatever the NER. What
docs/quality.md reports under "Entity identity"; not part of ``python -m bench``.

Memory is the process's resident set (``VmRSS`` of /proc/self/status; ``VmHWM`` its peak so
far) before the name data is read, after the first article (which reads it) and after 100
articles; Linux only (elsewhere it prints nothing for it).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

from bench.procs import status_kib
from schemas import Entity, EntityLabel, Language
from streams.enrich.base import Document
from streams.enrich.entity_links import EntityLinker
from streams.evaluation.conll import ConllSentence, conll_documents, read_conll
from streams.evaluation.ner import chunks
from streams.evaluation.ner_pipeline import rebuilt_article


def documents(sentences: Sequence[ConllSentence], language: str) -> list[Document]:
    """One document per CoNLL document (a file without ``-DOCSTART-`` lines is one), rebuilt
    as ``newsstream eval ner`` rebuilds it, with its gold entities as spans."""
    code = Language(code=language, confidence=1.0)
    docs = []
    for group in conll_documents(sentences, sentences_per_document=None):
        article = rebuilt_article(group)
        entities = []
        for sentence, offsets in zip(article.sentences, article.offsets, strict=True):
            for first, end, label in chunks(sentence.tags):
                start, stop = offsets[first][0], offsets[end - 1][1]
                text = article.body[start:stop]
                entities.append(
                    Entity(
                        text=text, label=EntityLabel(label), start=start, end=stop, canonical=text
                    )
                )
        docs.append(Document(body=article.body, language=code, entities=tuple(entities)))
    return docs


def memory() -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` of this process in MiB; empty where /proc is not there."""
    found = {key: status_kib(os.getpid(), key) / 1024 for key in ("VmRSS", "VmHWM")}
    return found if found["VmRSS"] else {}


def _memory_line(stage: str, figures: dict[str, float]) -> str:
    if not figures:
        return ""
    return f"RSS {stage}: {figures['VmRSS']:.0f} MiB (peak so far {figures['VmHWM']:.0f} MiB)\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("conll", nargs="+", type=Path, help="CoNLL files (name .testa/.train)")
    args = parser.parse_args(argv)
    docs: list[Document] = []
    for path in args.conll:
        docs += documents(read_conll(path), "nl" if "ned" in path.name else "en")
    started = time.perf_counter()
    linker = EntityLinker()
    constructed = time.perf_counter()
    before = memory()
    linker.enrich(docs[0])
    first = time.perf_counter()
    after_first = memory()
    for doc in docs:
        linker.enrich(doc)
    done = time.perf_counter()
    # 100 articles in all, the first included: the documents again if there are fewer.
    for n in range(len(docs) + 1, 100):
        linker.enrich(docs[n % len(docs)])
    after_100 = memory()
    entities = sum(len(d.entities) for d in docs)
    print(f"construct (worker start-up share): {constructed - started:.3f} s")
    print(f"first article (loads the name data): {first - constructed:.3f} s")
    print(
        f"{len(docs)} articles, {entities} entities: {(done - first) / len(docs) * 1000:.2f} ms "
        f"per article, {(done - first) / entities * 1e6:.0f} us per entity"
    )
    print(
        _memory_line("before the name data is read", before)
        + _memory_line("after the first article", after_first)
        + _memory_line(f"after {max(100, len(docs) + 1)} articles", after_100),
        end="",
    )


if __name__ == "__main__":
    main()
