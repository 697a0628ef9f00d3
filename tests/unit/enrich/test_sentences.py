"""SentenceSplitter: spans into the body, on the seed articles and on edge cases."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest

from streams.enrich.base import Document, Span
from streams.enrich.sentences import SentenceSplitter, split_sentences

ROOT = Path(__file__).resolve().parents[3]
SEEDS = sorted((ROOT / "streams" / "samples" / "articles").glob("*.txt"))
DPG = ROOT.parent / "shared" / "corpora" / "dpgmedia2019" / "articles.jsonl"

# A sentence of running text ends in a terminal, possibly followed by closing quotes/brackets.
ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)]*$")


def texts(body: str) -> list[str]:
    return [body[s.start : s.end] for s in split_sentences(body)]


def is_space(ch: str) -> bool:
    # syntok also treats the zero-width space as a separator.
    return ch.isspace() or ch == "\u200b"


def assert_well_formed(body: str, spans: tuple[Span, ...]) -> None:
    """Ordered, non-overlapping, stripped spans that cover every non-whitespace character."""
    covered = [False] * len(body)
    previous_end = 0
    for span in spans:
        assert previous_end <= span.start < span.end <= len(body), span
        assert not is_space(body[span.start]), span
        assert not is_space(body[span.end - 1]), span
        covered[span.start : span.end] = [True] * (span.end - span.start)
        previous_end = span.end
    uncovered = [i for i, ch in enumerate(body) if not covered[i] and not is_space(ch)]
    assert not uncovered, [body[max(0, i - 10) : i + 10] for i in uncovered[:3]]


def test_seed_articles_exist() -> None:
    assert len(SEEDS) >= 2


@pytest.mark.parametrize("path", SEEDS, ids=[p.name for p in SEEDS])
def test_seed_sentences_are_real_sentences(path: Path) -> None:
    body = path.read_text(encoding="utf-8")
    spans = split_sentences(body)
    assert_well_formed(body, spans)
    sentences = [body[s.start : s.end] for s in spans]
    assert len(sentences) >= 20
    for sentence in sentences:
        # Running text ends in a terminal; a heading (a paragraph of its own) may not.
        standalone_paragraph = f"\n\n{sentence}\n\n" in f"\n\n{body}\n\n"
        assert ENDS_SENTENCE.search(sentence) or standalone_paragraph, sentence
        assert "\n\n" not in sentence
        assert sentence[0].isupper() or sentence[0] in "„“‘\"'(" or sentence.startswith("date")


def test_seed_quotes_stay_with_their_sentence() -> None:
    body = (ROOT / "streams" / "samples" / "articles" / "000_7b201681f24eebfa.txt").read_text(
        encoding="utf-8"
    )
    sentences = texts(body)
    assert "„Als ik dat niet was, zou ik hier niet zijn”, aldus Kim tegen verslaggevers." in (
        sentences
    )
    assert "„We praten overal over”, aldus Trump." in sentences
    assert "Kim noemde de suggestie ’welkom’." in sentences
    # The quote that closes in the next sentence: the closing mark belongs to that sentence.
    assert "Hun medewerkers zien ernaar uit in de toekomst weer bijeen te komen.”" in sentences


def test_heading_paragraph_is_a_sentence() -> None:
    body = (ROOT / "streams" / "samples" / "articles" / "002_5e518ff5de4b58f3.txt").read_text(
        encoding="utf-8"
    )
    assert "‘We hebben geen haast’" in texts(body)


# Edge cases: name -> the sentences. The body is the sentences joined by one space, except in
# WITH_BODY (name -> (body, sentences)), where the whitespace between them is the point.
EDGE_CASES: dict[str, list[str]] = {
    "titles": ["Dhr. Jansen zei dat het bedrijf verloor.", "Mevr. de Vries reageerde niet."],
    "titles-mid-sentence": [
        "Wij spraken met mevr. Jansen en dhr. Pietersen.",
        "Zij waren het eens.",
    ],
    "stacked-titles": ["Prof. dr. ir. J. van Dam sprak in Den Haag.", "Hij sprak lang."],
    "capitals-are-an-acronym": ["Hij werkt bij HR.", "Dr. Smit niet."],
    "abbreviations-before-capital-and-digit": [
        "Zie bijv. Amsterdam en Rotterdam.",
        "Dit staat op blz. 4 van het rapport.",
    ],
    "dotted-abbreviations": [
        "Er waren o.a. Nederlanders bij, d.w.z. veel mensen.",
        "Het kost ca. 500 euro.",
    ],
    "abbreviation-may-end-sentence": [
        "Het verlies is 5 mln. euro.",
        "Het verlies bedraagt 5 mln.",
        "De winst daalde.",
    ],
    "low-high-quotes": ["Hij zei: „Dit is onacceptabel.”", "Daarna vertrok hij."],
    "quote-then-attribution": ["„Ik ga”, zei hij.", "„Jij ook?” vroeg zij."],
    "comma-apostrophe-quotes": [",,Ja'', zei hij.", ",,Nee.''", "Klaar."],
    "no-final-period": ["Eerste zin.", "Tweede zin zonder punt"],
    "sentence-running-on-over-a-newline": ["Een zin die over\neen regelovergang loopt.", "Klaar."],
    "terminals": ["Is het waar?!", "Ja...", "Misschien wel."],
    "english": ["The U.S. economy grew by 3.5 percent.", "Mr. Smith was pleased."],
}
WITH_BODY: dict[str, tuple[str, list[str]]] = {
    # Headings, bylines and datelines have no final punctuation; a line break ends them.
    "line-break-ends-heading-byline-dateline": (
        "Buitenland\nPeter Goris\ndinsdag 1 augustus 2000\nDe Concorde is neergestort. Er "
        "vielen 113 doden.\nBrussel\nDe NMBS sluit de loketten.",
        [
            "Buitenland",
            "Peter Goris",
            "dinsdag 1 augustus 2000",
            "De Concorde is neergestort.",
            "Er vielen 113 doden.",
            "Brussel",
            "De NMBS sluit de loketten.",
        ],
    ),
    "line-break-after-a-period-before-lower-case": (
        "Dat heeft de politie gemeld.\npublicatiedatum\nDe resten werden gevonden.",
        ["Dat heeft de politie gemeld.", "publicatiedatum", "De resten werden gevonden."],
    ),
    # Hard-wrapped text: line breaks fall anywhere, even before a name.
    "hard-wrapped-paragraph": (
        "De minister van Buitenlandse Zaken zei dinsdag in een toelichting dat\n"
        "Mark Rutte het voorstel van de Europese Commissie over de nieuwe regels\n"
        "voor asielzoekers niet zal steunen, omdat het kabinet daar geen meerderheid\n"
        "voor verwacht. Daarna vertrok hij.",
        [
            "De minister van Buitenlandse Zaken zei dinsdag in een toelichting dat\n"
            "Mark Rutte het voorstel van de Europese Commissie over de nieuwe regels\n"
            "voor asielzoekers niet zal steunen, omdat het kabinet daar geen meerderheid\n"
            "voor verwacht.",
            "Daarna vertrok hij.",
        ],
    ),
    "paragraph-break-ends-sentence": (
        "Kop zonder punt\n\nEerste zin. Tweede zin",
        ["Kop zonder punt", "Eerste zin.", "Tweede zin"],
    ),
    "crlf-blank-line-with-spaces": (
        "Een paragraaf zonder punt\r\n   \r\nen een tweede",
        ["Een paragraaf zonder punt", "en een tweede"],
    ),
    "whitespace-at-edges": (
        "  \n Zin met witruimte eromheen.  \n\n  ",
        ["Zin met witruimte eromheen."],
    ),
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [(" ".join(sentences), sentences) for sentences in EDGE_CASES.values()]
    + list(WITH_BODY.values()),
    ids=[*EDGE_CASES, *WITH_BODY],
)
def test_edge_cases(body: str, expected: list[str]) -> None:
    spans = split_sentences(body)
    assert_well_formed(body, spans)
    assert [body[s.start : s.end] for s in spans] == expected


@pytest.mark.parametrize("body", ["", " ", "\n\n\t \n", "\u200b"])
def test_no_text_no_sentences(body: str) -> None:
    assert split_sentences(body) == ()


@pytest.mark.parametrize(
    "body",
    [
        "Eén\u00a0zin\u00a0met harde spaties.\u3000En nog één\u200bzin.",
        "Emoji 😀 tellen als tekens. 😀",
        "a,, b '' c ,,",
        "(Tussen haakjes.) [Nog een.] Einde",
        "...",
        "x" * 5000,
    ],
)
def test_unusual_text_is_covered(body: str) -> None:
    assert_well_formed(body, split_sentences(body))


def test_long_body_is_fast_enough() -> None:
    # Many paragraphs: tokenising each at its own offset keeps this linear.
    paragraph = "De koers steeg met 3 procent. Beleggers waren blij.\n\n"
    body = paragraph * 4000
    spans = split_sentences(body)
    assert len(spans) == 8000
    assert body[spans[-1].start : spans[-1].end] == "Beleggers waren blij."


def test_enricher_fills_sentences() -> None:
    splitter = SentenceSplitter()
    assert splitter.name == "sentences-syntok"
    assert version("syntok") in splitter.version
    assert splitter.info.version == splitter.version
    doc = Document(body="Eerste zin. Tweede zin.", title="Kop")
    out = splitter.enrich(doc)
    assert out.sentences == (Span(0, 11), Span(12, 23))
    assert out.body == doc.body
    assert out.title == doc.title
    assert splitter.enrich(doc) == out  # deterministic
    assert splitter.enrich_batch([doc, doc]) == [out, out]


@pytest.mark.skipif(not DPG.is_file(), reason="../shared/corpora/dpgmedia2019 not available")
def test_real_articles_are_covered() -> None:
    """1,438 real Dutch articles: spans well formed, no runaway sentences from quote styles."""
    splitter = SentenceSplitter()
    total = 0
    with DPG.open(encoding="utf-8") as handle:
        for line in handle:
            body = json.loads(line)["text"]
            spans = splitter.enrich(Document(body=body)).sentences
            assert_well_formed(body, spans)
            total += len(spans)
            # The AD-style ,,quote.'' must end sentences; a sentence holding a closed quote
            # followed by a new one means it did not.
            for s in spans:
                assert ".'' ,," not in body[s.start : s.end]
    assert total > 25_000
