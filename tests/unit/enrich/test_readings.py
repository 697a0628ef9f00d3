"""Readings: a sentence's reading gives the sentence's probabilities and, for any span, the
probabilities of the words that overlap it plus the sentence's context part."""

from __future__ import annotations

import numpy as np
import pytest

from streams.enrich.readings import Readings, SentenceReading, softmax

# "Ajax wint , Feyenoord verliest" at body offset 10; words and their piece counts.
WORDS = ((10, 14), (15, 19), (19, 20), (21, 30), (31, 39))
PIECES = (1, 2, 1, 3, 2)
TARGET_SUMS = np.array(
    [[0.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
    dtype=np.float32,
)
CONTEXT = np.array([0.5, 0.0, 0.0], dtype=np.float32)


def reading() -> SentenceReading:
    return SentenceReading(
        10, 39, WORDS, np.array([0.0, 1.0, 0.0], np.float32), CONTEXT, TARGET_SUMS, PIECES
    )


def test_a_span_takes_the_mean_of_its_words_pieces_plus_the_context() -> None:
    ajax = reading().target_probabilities(10, 14)
    assert ajax is not None
    np.testing.assert_allclose(ajax, softmax(np.array([0.5, 0.0, 2.0])))
    feyenoord = reading().target_probabilities(21, 30)
    assert feyenoord is not None
    np.testing.assert_allclose(feyenoord, softmax(np.array([2.5, 0.0, 0.0])))
    assert ajax.argmax() == 2
    assert feyenoord.argmax() == 0


def test_a_span_over_several_words_divides_by_all_their_pieces() -> None:
    both = reading().target_probabilities(12, 25)  # overlaps "Ajax", "wint", ",", "Feyenoord"
    assert both is not None
    np.testing.assert_allclose(both, softmax(np.array([6.0 / 7 + 0.5, 0.0, 2.0 / 7])))


def test_a_span_outside_the_words_has_no_view() -> None:
    assert reading().target_probabilities(0, 9) is None
    assert reading().target_probabilities(39, 45) is None


def test_softmax_rounds_logits_so_batches_agree() -> None:
    assert softmax(np.array([1.0, 2.0, 3.0])) == pytest.approx(
        softmax(np.array([1.0 + 4e-4, 2.0, 3.0 - 4e-4]))
    )
    assert softmax(np.array([0.0, 0.0, 0.0])).sum() == pytest.approx(1.0)


def test_the_sentence_holding_an_offset_is_found() -> None:
    other = SentenceReading(40, 50, ((40, 45),), CONTEXT, CONTEXT, TARGET_SUMS[:1], (1,))
    readings = Readings((reading(), other), None)
    assert readings.sentence_at(10) is readings.sentences[0]
    assert readings.sentence_at(45) is other
    assert readings.sentence_at(39) is None
