"""E5Tagger, our e5 NER model in ONNX Runtime: windows, decoding, tags, batching, variants.

The model is the real shipped one (``streams/enrich/models/ner``), rebuilt once per module
into a temporary cache. Dev-set scores need ../shared/corpora and are skipped without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from streams.enrich.e5.tagger import (
    DEFAULT_MODEL_DIR,
    LABELS,
    E5Tagger,
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


def test_long_sentences_are_cut_at_word_boundaries(tagger: E5Tagger) -> None:
    tok = tagger.tokenizer
    words = ["Amsterdam", "ligt", "in", "Nederland", "."] * 40
    windows = sentence_windows(tok, [words, [], ["Kort", "."]], max_pieces=30)
    assert [w.sentence for w in windows][-2:] == [1, 2]
    first = [w for w in windows if w.sentence == 0]
    assert len(first) > 1
    assert sum(len(w.starts) for w in first) == len(words)
    for window in windows:
        assert window.ids[0] == tok.bos
        assert window.ids[-1] == tok.eos
        assert len(window.ids) <= 32
        for k, start in enumerate(window.starts):
            word = ([*words] if window.sentence == 0 else [[], [], ["Kort", "."]][window.sentence])[
                window.first_word + k
            ]
            pieces = tok.encode_word(word)
            assert window.ids[start : start + len(pieces)] == pieces


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
