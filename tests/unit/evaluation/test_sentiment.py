"""The sentiment report: accuracy, macro-F1, per-class scores and the confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from streams.evaluation.sentiment import SentimentReport, evaluate


def test_report_counts_and_scores() -> None:
    # gold: 2 negative, 1 neutral, 1 positive; one negative predicted neutral.
    report = SentimentReport.of([0, 0, 1, 2], [0, 1, 1, 2], seconds=2.0)
    assert report.confusion.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert report.n == 4
    assert report.accuracy == 0.75
    (p_neg, r_neg, _f, support), (p_neu, *_), _pos = report.per_class()
    assert (p_neg, r_neg, support, p_neu) == (1.0, 0.5, 2, 0.5)
    assert report.macro_f1 == pytest.approx(np.mean([2 / 3, 2 / 3, 1.0]))
    assert report.sentences_per_second == 2.0
    assert report.as_json()["confusion"] == report.confusion.tolist()
    text = report.format()
    assert "accuracy   0.7500" in text
    assert "confusion (rows true, columns predicted):" in text


class _Fixed:
    """A model whose probabilities are given."""

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([[0.8, 0.1, 0.1] if "daalt" in t else [0.1, 0.1, 0.8] for t in texts])


def test_evaluate_scores_the_models_argmax() -> None:
    report = evaluate(_Fixed(), ["Koers daalt", "Koers stijgt", "Winst stijgt"], [0, 2, 0])
    assert report.confusion.tolist() == [[1, 0, 1], [0, 0, 0], [0, 0, 1]]
    assert report.seconds > 0
