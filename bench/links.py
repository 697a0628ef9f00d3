"""The ``entity-links`` enricher alone: start-up, first article and per-article time.

    python -m bench.links ../shared/corpora/conll2002-nl/ned.testa \
        ../shared/corpora/conll2003-en/eng.testa

Each CoNLL document becomes one article whose entities are the gold ones (canonical = text),
so the figure is the linker's own cost on a realistic mix of names, whatever the NER. What
docs/quality.md reports under "Entity identity"; not part of ``python -m bench``.

Memory is the process's resident set (``VmRSS`` of /proc/self/status; ``VmHWM`` its peak so
far) before the name data is read, after the first article (which reads it) and after 100
articles; Linux only (elsewhere it prints nothing for it).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from schemas import Entity, EntityLabel, Language
from streams.enrich.base import Document
from streams.enrich.entity_links import EntityLinker
from streams.evaluation.conll import ConllSentence, read_conll


def documents(sentences: Sequence[ConllSentence], language: str) -> list[Document]:
    """One document per CoNLL document: words joined by spaces, gold entities as spans."""
    bodies: dict[int, list[str]] = {}
    spans: dict[int, list[Entity]] = {}
    for sentence in sentences:
        body = bodies.setdefault(sentence.document, [])
        at = sum(len(w) + 1 for w in body)
        current: tuple[int, int, str] | None = None
        found = []
        for word, tag in zip(sentence.words, sentence.tags, strict=True):
            if current is not None and not tag.startswith("I-"):
                found.append(current)
                current = None
            if tag.startswith("B-") or (tag.startswith("I-") and current is None):
                current = (at, at + len(word), tag[2:])
            elif tag.startswith("I-") and current is not None:
                current = (current[0], at + len(word), current[2])
            body.append(word)
            at += len(word) + 1
        if current is not None:
            found.append(current)
        text = " ".join(body)
        for start, end, label in found:
            spans.setdefault(sentence.document, []).append(
                Entity(
                    text=text[start:end],
                    label=EntityLabel(label),
                    start=start,
                    end=end,
                    canonical=text[start:end],
                )
            )
    code = Language(code=language, confidence=1.0)
    return [
        Document(body=" ".join(words), language=code, entities=tuple(spans.get(n, ())))
        for n, words in bodies.items()
    ]


def memory() -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` of this process in MiB; empty where /proc is not there."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    found = {}
    for line in lines:
        field, _, value = line.partition(":")
        if field in ("VmRSS", "VmHWM"):
            found[field] = int(value.split()[0]) / 1024
    return found


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
