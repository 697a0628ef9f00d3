"""The shipped sentiment model in ONNX Runtime: what one reading gives each sentence."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from streams.enrich.e5.sentiment_reader import E5SentimentReader
from streams.enrich.e5.tagger import MAX_WORD_PIECES
from tests.support.e5_sentences import SENTENCES


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E5SentimentReader]:
    model = E5SentimentReader(cache_dir=tmp_path_factory.mktemp("models"))
    yield model
    model.close()


def test_every_word_gets_its_pieces_and_target_sums(reader: E5SentimentReader) -> None:
    outputs = reader.read(SENTENCES)
    assert len(outputs) == len(SENTENCES)
    for words, out in zip(SENTENCES, outputs, strict=True):
        expected = [len(reader.tokenizer.encode_word(w)[:MAX_WORD_PIECES]) for w in words]
        assert list(out.word_pieces) == expected
        assert out.word_target.shape == (len(words), 3)
        assert out.sentence.shape == out.context.shape == (3,)
        assert np.isfinite(out.word_target).all()


def test_a_sentence_reads_the_same_alone_and_in_a_batch(reader: E5SentimentReader) -> None:
    together = reader.read(SENTENCES)
    for words, batched in zip(SENTENCES, together, strict=True):
        (alone,) = reader.read([words])
        np.testing.assert_allclose(alone.sentence, batched.sentence, atol=1e-3)
        np.testing.assert_allclose(alone.word_target, batched.word_target, atol=1e-3)


def test_a_sentence_longer_than_a_window_is_read_whole(reader: E5SentimentReader) -> None:
    long = [w for _ in range(40) for w in SENTENCES[5]]  # about 1,000 pieces
    (out,) = reader.read([long])
    assert all(n > 0 for n in out.word_pieces)
    assert np.isfinite(out.sentence).all()
    assert np.abs(out.word_target).sum(axis=1).min() > 0
