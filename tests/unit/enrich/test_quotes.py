"""Quotes and their speakers: a hand-made gold list for both seed articles, and the edge cases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import Entity, EntityLabel
from streams.enrich.base import Document
from streams.enrich.entity_links import EntityLinker
from streams.enrich.language import LanguageDetector
from streams.enrich.ner_e5 import E5EntityRecognizer
from streams.enrich.quotes import QuoteExtractor, find_quotes
from streams.enrich.sentences import SentenceSplitter
from streams.sources.parse import ParsedArticle, parse_article

SAMPLES = Path(__file__).resolve().parents[3] / "streams" / "samples" / "articles"
TRUMP, KIM, POMPEO = "Donald Trump", "Kim Jong-un", "Mike Pompeo"

# Every direct quote of the seeds, read by hand: (the start of the quoted words, speaker).
# "Een woordvoerster van het Witte Huis zei ..." is attributed to the organisation; the
# subheading "‘We hebben geen haast’" names nobody, so its speaker is None.
GOLD: dict[str, list[tuple[str, str | None]]] = {
    "000_7b201681f24eebfa.txt": [
        ("heel goede en constructieve ontmoetingen", "Witte Huis"),
        ("Als ik dat niet was, zou ik hier niet zijn", KIM),
        ("juiste deal", TRUMP),  # "volgens de president"
        ("Ik waardeer het heel erg", TRUMP),
        ("Het is te vroeg om er iets over te zeggen", KIM),  # "De Noord-Koreaanse dictator gaf"
        ("welkom", KIM),
        ("geweldig idee", TRUMP),
        ("We praten overal over", TRUMP),
    ],
    "002_5e518ff5de4b58f3.txt": [
        ("Het was verstandiger om te stoppen", TRUMP),  # "Dat heeft Trump laten weten"
        ("Dat konden we niet doen", TRUMP),
        ("We hebben een sterke relatie", TRUMP),
        ("productieve en interessante dagen", TRUMP),  # "Hij benadrukte"
        ("Maar soms moet je weglopen", TRUMP),
        ("Ik geloof hem en vertrouw hem", TRUMP),
        ("complex", POMPEO),
        ("We hebben veel vooruitgang geboekt", POMPEO),
        ("We hebben geen haast", None),
        ("geen haast", TRUMP),
        ("We willen gewoon de juiste deal maken", TRUMP),
        ("Uiteindelijk tekenen we een overeenkomst", TRUMP),  # "Hij zei dat ..."
        ("Als ik niet bereid was", KIM),
        ("een goed idee", TRUMP),
        ("welkom", KIM),
        ("alles", TRUMP),
    ],
}


@pytest.fixture(scope="module")
def enrichers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[object]]:
    ner = E5EntityRecognizer(cache_dir=tmp_path_factory.mktemp("models"))
    try:
        yield [SentenceSplitter(), LanguageDetector(), ner, EntityLinker(), QuoteExtractor()]
    finally:
        ner.close()


def _run(enrichers: list[object], body: str) -> Document:
    doc = Document(body=body)
    for enricher in enrichers:
        doc = enricher.enrich(doc)  # type: ignore[attr-defined]
    return doc


def _mention(body: str, name: str, label: EntityLabel) -> Entity:
    """The first mention of ``name`` in ``body``, its own canonical name."""
    start = body.index(name)
    return Entity(text=name, label=label, start=start, end=start + len(name), canonical=name)


def _seed_body(name: str) -> str:
    parsed = parse_article(name, (SAMPLES / name).read_bytes())
    assert isinstance(parsed, ParsedArticle)
    return parsed.body


def test_seed_quotes_match_the_gold_list(
    enrichers: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    gold_total = predicted_total = right_quotes = right_speakers = 0
    for name, gold in GOLD.items():
        body = _seed_body(name)
        quotes = _run(enrichers, body).quotes
        for quote in quotes:
            assert body[quote.start : quote.end] == quote.text
            if quote.speaker == TRUMP:
                assert quote.speaker_id == "per/donald-trump"
        found = [(q.text, q.speaker) for q in quotes]
        predicted_total += len(found)
        gold_total += len(gold)
        for start, speaker in gold:
            match = next((f for f in found if f[0].startswith(start)), None)
            if match is not None:
                found.remove(match)
                right_quotes += 1
                right_speakers += match[1] == speaker
    precision = right_speakers / predicted_total
    recall = right_speakers / gold_total
    with capsys.disabled():
        print(
            f"\nquotes on the seeds: gold {gold_total}, found {predicted_total}, "
            f"spans right {right_quotes}, spans and speakers right {right_speakers}: "
            f"precision {precision:.3f}, recall {recall:.3f}"
        )
    assert right_quotes == gold_total == predicted_total
    assert precision >= 0.9
    assert recall >= 0.9


def test_english_attribution_and_unattributed_quotes(enrichers: list[object]) -> None:
    body = (
        "“We will not give up,” said Angela Merkel on Monday.\n\n"
        'Barack Obama told reporters: "The deal is done." According to Obama, the '
        "'historic' agreement was signed in Paris.\n\n"
        "“Nobody knows what happens next.”"
    )
    quotes = [(q.text, q.speaker) for q in _run(enrichers, body).quotes]
    assert quotes == [
        ("We will not give up", "Angela Merkel"),
        ("The deal is done.", "Barack Obama"),
        ("historic", "Barack Obama"),
        ("Nobody knows what happens next.", None),
    ]


def test_apostrophes_are_not_quotes() -> None:
    body = "Zo'n akkoord is ’s avonds getekend in ’s-Hertogenbosch; auto's, Anna's fiets, ’t klopt."
    assert find_quotes(body) == []


def test_unclosed_marks_and_paragraphs_do_not_make_quotes() -> None:
    body = "„Dit loopt door\n\nnaar een nieuwe alinea” zonder dat het klopt. En “dit sluit” wel."
    assert [body[s:e] for s, e in find_quotes(body)] == ["dit sluit"]


def test_a_cue_without_a_named_speaker_gives_no_speaker() -> None:
    body = "Volgens ingewijden is het „een kwestie van dagen”."
    doc = Document(body=body, entities=())
    [quote] = QuoteExtractor().enrich(doc).quotes
    assert (quote.text, quote.speaker) == ("een kwestie van dagen", None)


def test_speaker_is_the_canonical_name_of_the_nearest_mention() -> None:
    body = "De minister van Buitenlandse Zaken Mike Pompeo noemde de gesprekken “complex”."
    entities = (
        _mention(body, "Buitenlandse Zaken", EntityLabel.ORG),
        _mention(body, "Mike Pompeo", EntityLabel.PER),
    )
    [quote] = QuoteExtractor().enrich(Document(body=body, entities=entities)).quotes
    assert quote.speaker == "Mike Pompeo"


# Issue 16's failures, each in a news-style snippet written for this test, through the real
# recogniser: (body, [(quoted text, speaker)]).
ISSUE_16 = {
    "relative clause": (
        "Advocaat Peter Plasman, die de familie bijstaat, noemde het vonnis tegen Michael P. "
        "'een lichtpunt in een zware week'.",
        [("een lichtpunt in een zware week", "Peter Plasman")],
    ),
    "party in parentheses": (
        "Kamerlid Lisa Westerveld (GroenLinks) zei dat ze het plan 'volstrekt onuitvoerbaar' "
        "vindt.",
        [("volstrekt onuitvoerbaar", "Lisa Westerveld")],
    ),
    "old newspaper marks": (
        ",,We hebben alles gedaan wat we konden'', zegt brandweercommandant Kees Bakker. "
        ",,Het vuur was gewoon te groot.'' De schade loopt in de miljoenen.",
        [
            ("We hebben alles gedaan wat we konden", "Kees Bakker"),
            ("Het vuur was gewoon te groot.", "Kees Bakker"),
        ],
    ),
    "colon frame": (
        "Premier Mark Rutte liet na afloop weten: ‘Dit is een goede dag voor Nederland.’",
        [("Dit is een goede dag voor Nederland.", "Mark Rutte")],
    ),
    "pronoun after the quote": (
        "Marianne Vos won zondag de Ronde van Drenthe. „Het was een achtbaan”, lacht ze.",
        [("Het was een achtbaan", "Marianne Vos")],
    ),
    "aldus and guillemets": (
        "«Wij laten ons niet wegjagen», aldus de Belgische premier Charles Michel.",
        [("Wij laten ons niet wegjagen", "Charles Michel")],
    ),
    "english said": (
        "“The economy is strong,” Jerome Powell said on Wednesday. “But risks remain.”",
        [("The economy is strong", "Jerome Powell"), ("But risks remain.", "Jerome Powell")],
    ),
    "english told reporters": (
        "Boris Johnson told reporters: “We are leaving on October 31, come what may.”",
        [("We are leaving on October 31, come what may.", "Boris Johnson")],
    ),
    "scare quotes": (
        "Thierry Baudet sprak over de verkiezingen als een 'noodlotsverkiezing'. Forum voert "
        "campagne tegen de 'Brusselse elite'. Critics call the measure a \"poll tax\".",
        [],
    ),
}


# Round three (quotes-rules 3): the failures left by round two, in snippets written for this
# test (not the dev set's sentences).
ISSUE_16.update(
    {
        "partial quote without a speech verb": (
            "Kamerlid Joris Hendriks is 'nogal verbaasd over de gang van zaken' en wil "
            "opheldering. Het 'Deltaplan' van het kabinet is een 'papieren tijger'.",
            [("nogal verbaasd over de gang van zaken", "Joris Hendriks")],
        ),
        "an epithet after an article stays a scare quote": (
            "Bioloog Karin Smit wil de 'koningin van de nacht' beter beschermen.",
            [],
        ),
        "speaker named in the next sentence": (
            "„Wij blijven vechten.” Met die woorden sloot vakbondsleider Petra Kuipers de "
            "bijeenkomst af.",
            [("Wij blijven vechten.", "Petra Kuipers")],
        ),
        "a catch-phrase opening the article": (
            "'Eens een sjoemelaar, altijd een sjoemelaar.' Het lijkt het devies van de "
            "gemeente, die opnieuw te laat is.",
            [],
        ),
        "pronoun after a relative of a named person": (
            "De zus van Daan Willems wacht nog steeds op nieuws. „We weten niets”, zegt ze.",
            [("We weten niets", None)],
        ),
        "pronoun after a sentence about someone else": (
            "Rechercheur Bart Jansen sprak met de buren. „Ze hoorden niets”, vertelt Jansen. "
            "De buurt praat nog over Emma. „Het blijft een raadsel”, zegt hij.",
            [("Ze hoorden niets", "Bart Jansen"), ("Het blijft een raadsel", "Bart Jansen")],
        ),
        "unnamed speaker after a named one": (
            "Senator Tom Harris praised the deal. “It is a good day,” he said. A local farmer "
            "was less sure. “We have heard this before.”",
            [("It is a good day", "Tom Harris"), ("We have heard this before.", None)],
        ),
        "unnamed speaker after the cue": (
            "„Dit had nooit mogen gebeuren”, zegt een buurvrouw van de familie Bakker. "
            "„Iedereen is geschokt.”",
            [("Dit had nooit mogen gebeuren", None), ("Iedereen is geschokt.", None)],
        ),
    }
)


@pytest.mark.parametrize("case", sorted(ISSUE_16))
def test_issue_16_failures(enrichers: list[object], case: str) -> None:
    body, expected = ISSUE_16[case]
    quotes = [(q.text, q.speaker) for q in _run(enrichers, body).quotes]
    assert quotes == expected


def test_text_between_two_closing_marks_is_no_quote() -> None:
    body = ",,Eerst dit'', zei hij, en later ,,dat''. Daarna niets."
    assert [body[s:e] for s, e in find_quotes(body)] == ["Eerst dit", "dat"]


def test_a_quote_spanning_sentences_is_one_quote() -> None:
    body = "Ze zei: „We zijn er nog niet. Er moet meer geld komen. En snel ook.” Toen ging ze."
    assert [body[s:e] for s, e in find_quotes(body)] == [
        "We zijn er nog niet. Er moet meer geld komen. En snel ook."
    ]


def test_a_first_name_speaker_is_the_article_s_full_name() -> None:
    # The recogniser sometimes keeps only "Ingrid" at the frame; the article named her in full.
    body = "Minister Ingrid van Engelshoven opende het lab. „Dit is een begin”, zei Ingrid daarna."
    doc = Document(
        body=body,
        sentences=SentenceSplitter().enrich(Document(body=body)).sentences,
        entities=(
            _mention(body, "Ingrid van Engelshoven", EntityLabel.PER),
            Entity(
                text="Ingrid",
                label=EntityLabel.PER,
                start=body.rindex("Ingrid"),
                end=body.rindex("Ingrid") + 6,
                canonical="Ingrid",
            ),
        ),
    )
    [quote] = QuoteExtractor().enrich(doc).quotes
    assert quote.speaker == "Ingrid van Engelshoven"


# Round four (quotes-rules 4): failures found on the dev set's batch 3, in snippets written for
# these tests (not the dev set's sentences).
ISSUE_16_ROUND_4 = {
    "a speech verb starting with waar- is no relative clause": (
        'De Franse president Emmanuel Duval blijft aan. "Ik ga nergens heen", waarschuwde de '
        "president op de televisie.",
        [("Ik ga nergens heen", "Emmanuel Duval")],
    ),
    "a title is the person introduced before it, not after": (
        "Volgens woordvoerder Sanne de Wit blijft het park dicht. „Daar is voor gekozen.” Bij "
        "de provincie zegt woordvoerder Joost Maas: „Wij wachten af.”",
        [("Daar is voor gekozen.", "Sanne de Wit"), ("Wij wachten af.", "Joost Maas")],
    ),
    "english: a title is the person introduced before it": (
        "According to spokesman Tom Reed, the park stays shut. “That was our choice.” At the "
        "county, spokesman Bill Hart said: “We will wait.”",
        [("That was our choice.", "Tom Reed"), ("We will wait.", "Bill Hart")],
    ),
    "a quote over paragraphs re-opens at each and keeps its speaker": (
        "Wethouder Karin Bos zei: 'We bouwen door. Het geld is er.\n\n'Over een jaar staat de "
        "school er.' Daarna vertrok ze.",
        [
            ("We bouwen door. Het geld is er.", "Karin Bos"),
            ("Over een jaar staat de school er.", "Karin Bos"),
        ],
    ),
    "english: a quote over flattened paragraphs": (
        "Mayor Anne Kerr said: “The plan is ready. We start in May. “Nobody will lose a "
        "home.” The council votes today.",
        [
            ("The plan is ready. We start in May.", "Anne Kerr"),
            ("Nobody will lose a home.", "Anne Kerr"),
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(ISSUE_16_ROUND_4))
def test_issue_16_round_4(enrichers: list[object], case: str) -> None:
    body, expected = ISSUE_16_ROUND_4[case]
    quotes = [(q.text, q.speaker) for q in _run(enrichers, body).quotes]
    assert quotes == expected


def test_a_straight_double_mark_closes_with_two_apostrophes() -> None:
    # A ,, that a corpus flattened to " keeps its '' at the end.
    body = 'Ze zei: "Daar kozen we voor.\'\' En toen "niets".'
    assert [body[s:e] for s, e in find_quotes(body)] == ["Daar kozen we voor.", "niets"]


def test_a_nested_quote_of_the_other_kind_does_not_split_a_quote() -> None:
    body = "Hij zei: 'Ze riep \"Stop!\" en liep weg. Daarna niets.' Klaar."
    assert [body[s:e] for s, e in find_quotes(body)] == [
        'Ze riep "Stop!" en liep weg. Daarna niets.'
    ]
