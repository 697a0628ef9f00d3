"""The ``ner-e5`` enricher: named entities from our own e5 tagger (Dutch and English).

Wraps ``streams.enrich.e5.tagger.E5Tagger`` (see there and ``models/ner/MODEL_CARD.md`` for
the model): each sentence of a document is split into words with body offsets
(``word_tokens``), the tagger gives IOB2 tags per word, tags become mentions per sentence,
and the backend-independent ``entity_rules`` clean them up and give canonical names, exactly
as for Frog. All sentences of a batch of documents go through the model together.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Unpack

from schemas import Entity, EntityLabel
from streams.enrich.base import Document, Enricher, EnricherError, Span
from streams.enrich.e5.model import ModelOptions
from streams.enrich.e5.tagger import DEFAULT_MODEL_DIR, TYPES, E5Tagger, NerModelError
from streams.enrich.entity_rules import (
    RULES_VERSION,
    Mention,
    Token,
    canonical_names,
    clean_mentions,
    mentions_from_bio,
)

ENTITY_LABELS: Final[dict[str, EntityLabel]] = {t: EntityLabel(t) for t in TYPES}
WORDS_VERSION: Final = "2"
"""Version of ``word_tokens``; part of the enricher version."""
DEFAULT_LANGUAGES: Final = frozenset({"nl", "en", "und"})

_WORD_CHAR = r"[\w\u0300-\u036f\u00ad]"
_WORD_RE = re.compile(
    rf"""
    (?:[^\W\d_]\.){{2,}}                          # abbreviations: U.S., a.m., F.C.
  | [A-Z]\.(?=\s)                                 # an initial: J. Smith
  | \d+(?:[.,:/]\d+)+                             # numbers: 2.300, 10,8, 12:30, 3/4
  | [^\W\d_a-z]{_WORD_CHAR}*(?:-{_WORD_CHAR}+)*(?=['’]s\b)  # a name before a possessive 's
  | (?<=\w)['’]s\b                              # ... and the 's: Trump 's (as in CoNLL-2003)
  | {_WORD_CHAR}+(?:[-'’&]{_WORD_CHAR}+)*         # words: Noord-Korea, zo'n, O'Brien, AT&T
  | \.{{2,}} | -{{2,}}                            # ... and --
  | [^\s\u200b\u200c\u200d\u2060\ufeff]           # any other visible character on its own
    """,
    re.VERBOSE,
)


def word_tokens(text: str, offset: int = 0) -> list[Token]:
    """Words and punctuation of ``text`` as tokens with body offsets (``offset`` added).

    CoNLL-like: punctuation stands alone, hyphens and apostrophes inside a word stay in it,
    abbreviations with dots and numbers with separators are one token.
    """
    return [Token(m.group(), m.start() + offset, m.end() + offset) for m in _WORD_RE.finditer(text)]


class E5EntityRecognizer(Enricher):
    """Fills ``Document.entities`` with the entities our e5 tagger finds, cleaned up.

    Runs after the sentence splitter and the language detector. Documents in a language the
    model was not trained on (anything but Dutch, English or undetermined, by default) get no
    entities. Each sentence (the whole body when there are none) is split into words with
    offsets; tags become mentions per sentence, then ``entity_rules`` cleans them and gives
    canonical names. ``enrich_batch`` runs all sentences of all documents through the model
    together (same results as one by one). Every entity satisfies ``text == body[start:end]``.
    """

    name = "ner-e5"

    def __init__(
        self,
        model_dir: Path = DEFAULT_MODEL_DIR,
        cache_dir: Path | None = None,
        *,
        languages: frozenset[str] | None = DEFAULT_LANGUAGES,
        **options: Unpack[ModelOptions],
    ) -> None:
        """Load (and on first use build) the model.

        ``cache_dir``: where the rebuilt weights are kept (give the data directory's
        ``models`` folder). ``languages``: language codes to tag (None: all). ``options``:
        how to run the model (``variant``, ``threads``, ``batch_tokens``: see
        ``ModelOptions``). Raises EnricherError when the model cannot be built or loaded.
        """
        try:
            self.tagger = E5Tagger(model_dir, cache_dir, **options)
        except NerModelError as exc:
            raise EnricherError(str(exc)) from exc
        self._languages = languages
        self.version = (
            f"{self.tagger.variant.name}-{self.tagger.content_hash[:12]}"
            f"+words-{WORDS_VERSION}+rules-{RULES_VERSION}"
        )

    def enrich(self, doc: Document) -> Document:
        return self.enrich_batch([doc])[0]

    def enrich_batch(self, docs: Sequence[Document]) -> list[Document]:
        sentences: list[list[Token]] = []
        owners: list[int] = []
        for d, doc in enumerate(docs):
            if self._skip(doc):
                continue
            for span in doc.sentences or _whole(doc.body):
                if not 0 <= span.start <= span.end <= len(doc.body):
                    raise EnricherError(f"sentence span {span} lies outside the body")
                tokens = word_tokens(doc.body[span.start : span.end], span.start)
                if tokens:
                    sentences.append(tokens)
                    owners.append(d)
        tags = self.tagger.tag_words([[t.text for t in s] for s in sentences])
        mentions: list[list[Mention]] = [[] for _ in docs]
        for tokens, sentence_tags, d in zip(sentences, tags, owners, strict=True):
            mentions[d].extend(mentions_from_bio(tokens, sentence_tags, ENTITY_LABELS))
        out: list[Document] = []
        for d, doc in enumerate(docs):
            if self._skip(doc):
                out.append(doc.with_(entities=()))
                continue
            cleaned = clean_mentions(mentions[d], doc.body)
            names = canonical_names([(m.text(doc.body), m.label) for m in cleaned])
            entities = tuple(
                Entity(text=m.text(doc.body), label=m.label, start=m.start, end=m.end, canonical=n)
                for m, n in zip(cleaned, names, strict=True)
            )
            out.append(doc.with_(entities=entities))
        return out

    def _skip(self, doc: Document) -> bool:
        return (
            self._languages is not None
            and doc.language is not None
            and doc.language.code not in self._languages
        )

    def close(self) -> None:
        self.tagger.close()


def _whole(body: str) -> tuple[Span, ...]:
    return (Span(0, len(body)),) if body.strip() else ()


# --- Measurement -------------------------------------------------------------------------------


def _memory() -> tuple[int, int]:
    """(RSS, PSS) of this process in bytes, from /proc (Linux)."""
    rss = pss = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "Rss":
                rss = int(value.split()[0]) * 1024
            elif key == "Pss":
                pss = int(value.split()[0]) * 1024
    return rss, pss


def _read_inputs(paths: Sequence[Path], limit: int) -> list[str]:
    bodies: list[str] = []
    for path in paths:
        if path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as handle:
                bodies.extend(str(json.loads(line)["text"]) for line in handle if line.strip())
        else:
            bodies.append(path.read_text(encoding="utf-8"))
    return bodies[:limit] if limit else bodies


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streams.enrich.ner_e5 FILE...``: entities, words/s and memory.

    FILEs are text files (one article each) or ``.jsonl`` files with a ``text`` field (such as
    the dpgmedia2019 corpus). Sentences come from the pipeline's splitter (not timed); the
    timed part is ``enrich_batch`` over batches of ``--batch`` articles, run twice (the first
    run warms up). Words are whitespace-separated tokens of the body.
    """
    import argparse

    from streams.enrich.sentences import SentenceSplitter

    parser = argparse.ArgumentParser(prog="python -m streams.enrich.ner_e5")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="articles at most")
    parser.add_argument("--variant", default=None, help="int8 or fp32 (default: manifest's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16, help="articles per enrich_batch")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--show", action="store_true", help="print the entities")
    args = parser.parse_args(argv)
    bodies = _read_inputs(args.files, args.limit)
    splitter = SentenceSplitter()
    docs = [splitter.enrich(Document(body=body)) for body in bodies]
    words = sum(len(body.split()) for body in bodies)
    rss0, _ = _memory()
    began = time.perf_counter()
    recognizer = E5EntityRecognizer(
        cache_dir=args.cache_dir, variant=args.variant, threads=args.threads
    )
    loaded = time.perf_counter() - began
    print(f"{recognizer.name} {recognizer.version}: loaded in {loaded:.1f} s", flush=True)
    try:
        for run in range(2):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            results: list[Document] = []
            for at in range(0, len(docs), args.batch):
                results.extend(recognizer.enrich_batch(docs[at : at + args.batch]))
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
            print(
                f"run {run + 1}: {len(docs)} articles, {words} words in {wall:.2f} s: "
                f"{words / wall:,.0f} words/s wall clock, {words / cpu:,.0f} per CPU second "
                f"({cpu / wall:.2f} cores busy); "
                f"{sum(len(d.entities) for d in results)} entities",
                flush=True,
            )
        if args.show:
            for body, doc in zip(bodies, results, strict=True):
                print(f"\n{body[:60]!r}...")
                for e in doc.entities:
                    print(
                        f"  {e.start:6d}-{e.end:<6d} {e.label.value:4s} {e.text!r} -> {e.canonical}"
                    )
        rss, pss = _memory()
        print(
            f"memory: RSS {rss / 2**20:.0f} MiB, PSS {pss / 2**20:.0f} MiB "
            f"(before loading: RSS {rss0 / 2**20:.0f} MiB)"
        )
    finally:
        recognizer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
