"""The sentiment enricher ``sentiment-e5``: our fine-tuned e5 sentence classifier
(``streams.enrich.e5.classifier``) applied to every sentence of an article.

It fills ``Document.sentiment`` with one label and score (P(positive) - P(negative)) per
sentence and a document aggregate (``streams.enrich.sentiment.SentenceSentimentEnricher``).
Per-entity sentiment is derived from these sentence scores downstream: the PostgreSQL sink
stores with every entity mention the score of the sentence it stands in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Unpack

import numpy as np

from streams.enrich.e5.classifier import (
    DEFAULT_MODEL_DIR,
    LABELS,
    E5SentenceClassifier,
)
from streams.enrich.e5.model import ModelOptions
from streams.enrich.sentiment import RULES_VERSION, FloatArray, SentenceSentimentEnricher


class E5SentimentAnalyzer(SentenceSentimentEnricher):
    """Fills ``Document.sentiment`` with our fine-tuned e5 sentence classifier.

    Label and score per sentence, document aggregate: see ``SentenceSentimentEnricher``.
    Trained on Dutch economic news headlines (ecosent); the base model is multilingual, so
    English sentences are scored too (checked on hand-written examples only, see the card).
    """

    name = "sentiment-e5"

    def __init__(
        self,
        model_dir: Path = DEFAULT_MODEL_DIR,
        cache_dir: Path | None = None,
        *,
        use_title: bool = True,
        **options: Unpack[ModelOptions],
    ) -> None:
        """Load (and on first use build) the model.

        ``cache_dir``: where the rebuilt weights are kept (give the data directory's
        ``models`` folder). ``use_title``: count the title as one more sentence of the
        document. ``options``: how to run the model (``variant``, ``threads``,
        ``batch_tokens``: see ``ModelOptions``). Raises EnricherError when the model cannot be
        built or loaded.
        """
        self.model = E5SentenceClassifier.for_enricher(model_dir, cache_dir, **options)
        self._use_title = use_title
        self.version = f"{self.model.version}+rules-{RULES_VERSION}{'+title' if use_title else ''}"

    def sentence_probabilities(self, texts: Sequence[str]) -> FloatArray:
        """Class probabilities (n, 3) in LABELS order for each text."""
        if not texts:
            return np.empty((0, len(LABELS)), dtype=np.float64)
        return self.model.probabilities(texts)

    def close(self) -> None:
        """Release the memory-mapped e5 file."""
        self.model.close()
