"""Reading CoNLL NER files (CoNLL-2002/2003 column format).

One ``word ... TAG`` line per token, the tag in the last column, a blank line between
sentences, ``-DOCSTART-`` lines between documents. Used by ``streams.evaluation.ner`` and by
training (``training.conll``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class ConllFormatError(ValueError):
    """A CoNLL file could not be read; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class ConllSentence:
    words: tuple[str, ...]
    tags: tuple[str, ...]
    document: int
    """Index of the document (``-DOCSTART-`` block) the sentence belongs to; 0 without any."""


def read_conll(path: Path) -> list[ConllSentence]:
    """The sentences of a CoNLL NER file (UTF-8; tags in the last column).

    Raises FileNotFoundError with a clear message when the file is absent, ConllFormatError
    for a line with fewer than two columns or a tag that is neither ``O`` nor ``B-``/``I-``.
    """
    if not path.is_file():
        raise FileNotFoundError(
            f"CoNLL file {path} not found (the corpora live in ../shared/corpora; "
            "see ../shared/corpora/README.md)"
        )
    sentences: list[ConllSentence] = []
    words: list[str] = []
    tags: list[str] = []
    document = 0
    seen_docstart = False

    def flush() -> None:
        if words:
            sentences.append(ConllSentence(tuple(words), tuple(tags), document))
            words.clear()
            tags.clear()

    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            fields = line.split()
            if not fields:
                flush()
                continue
            if fields[0] == "-DOCSTART-":
                flush()
                if seen_docstart or sentences:
                    document += 1
                seen_docstart = True
                continue
            if len(fields) < 2:
                raise ConllFormatError(f"{path}:{number}: expected 'word ... TAG', got {line!r}")
            tag = fields[-1]
            if tag != "O" and (len(tag) < 3 or tag[1] != "-" or tag[0] not in "BI"):
                raise ConllFormatError(f"{path}:{number}: {tag!r} is not an IOB tag")
            words.append(fields[0])
            tags.append(tag)
    flush()
    return sentences


DEFAULT_SENTENCES_PER_DOCUMENT = 20
"""Article size for files without ``-DOCSTART-`` lines: about a short news article."""


def conll_documents(
    sentences: Sequence[ConllSentence],
    sentences_per_document: int | None = DEFAULT_SENTENCES_PER_DOCUMENT,
) -> list[list[ConllSentence]]:
    """The sentences grouped into articles: one per ``-DOCSTART-`` block, or runs of
    ``sentences_per_document`` consecutive sentences when the file has no blocks (the
    CoNLL-2003 copy in ../shared/corpora: its sentences are still in article order; None:
    one document)."""
    if sentences_per_document is None:
        sentences_per_document = max(len(sentences), 1)
    if sentences_per_document < 1:
        raise ValueError("sentences_per_document must be at least 1")
    groups: list[list[ConllSentence]] = []
    has_blocks = any(s.document for s in sentences)
    for sentence in sentences:
        if has_blocks:
            new = not groups or groups[-1][-1].document != sentence.document
        else:
            new = not groups or len(groups[-1]) >= sentences_per_document
        if new:
            groups.append([])
        groups[-1].append(sentence)
    return groups
