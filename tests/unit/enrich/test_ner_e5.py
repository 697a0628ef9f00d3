"""The ner-e5 enricher: words with offsets, entities from the shipped e5 tagger, cleaned up
and named, one by one or in batches."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import EntityLabel, Language
from streams.enrich.base import Document, EnricherError, Span
from streams.enrich.ner_e5 import E5EntityRecognizer, word_tokens
from streams.enrich.sentences import SentenceSplitter
from tests.support.entities import SEED_000, SEED_002, assert_aligned

PER, LOC, ORG, MISC = EntityLabel.PER, EntityLabel.LOC, EntityLabel.ORG, EntityLabel.MISC


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E5EntityRecognizer]:
    enricher = E5EntityRecognizer(cache_dir=tmp_path_factory.mktemp("models"))
    yield enricher
    enricher.close()


def test_word_tokens_keep_offsets() -> None:
    text = "Volgens Trump, zo'n 2.300 U.S.-soldaten in Noord-Korea (AT&T) … J. Smith zei: „ja”."
    tokens = word_tokens(text, 10)
    assert all(text[t.start - 10 : t.end - 10] == t.text for t in tokens)
    assert [t.text for t in tokens] == [
        "Volgens", "Trump", ",", "zo'n", "2.300", "U.S.", "-", "soldaten", "in", "Noord-Korea",
        "(", "AT&T", ")", "…", "J.", "Smith", "zei", ":", "„", "ja", "”", ".",
    ]  # fmt: skip
    english = "Trump's lawyer and the NGO's office, but auto's and O'Brien stay whole."
    assert [t.text for t in word_tokens(english)] == [
        "Trump", "'s", "lawyer", "and", "the", "NGO", "'s", "office", ",", "but", "auto's",
        "and", "O'Brien", "stay", "whole", ".",
    ]  # fmt: skip


def _split(body: str, code: str | None = "nl") -> Document:
    language = Language(code=code, confidence=0.99) if code else None
    return SentenceSplitter().enrich(Document(body=body, language=language))


def test_recognizer_identity(recognizer: E5EntityRecognizer) -> None:
    assert recognizer.name == "ner-e5"
    assert re.fullmatch(r"int8-[0-9a-f]{12}\+words-2\+rules-3", recognizer.version)


def test_seed_000_types_and_names(recognizer: E5EntityRecognizer) -> None:
    body = SEED_000.read_text(encoding="utf-8")
    entities = recognizer.enrich(_split(body)).entities
    assert_aligned(body, entities)
    found = {(e.canonical, e.label) for e in entities}
    assert {("Donald Trump", PER), ("Kim Jong-un", PER), ("Hanoi", LOC)} <= found
    assert {("Noord-Korea", LOC), ("Witte Huis", ORG), ("NBC", ORG), ("VS", LOC)} <= found
    assert {e.label for e in entities if e.text in ("Amerikaanse", "Noord-Koreaanse")} == {MISC}
    assert {e.canonical for e in entities if e.text in ("Trump", "Kim")} == {
        "Donald Trump",
        "Kim Jong-un",
    }
    start = body.index("Kim en Trump")
    pair = [e for e in entities if start <= e.start < start + len("Kim en Trump")]
    assert [(e.text, e.label) for e in pair] == [("Kim", PER), ("Trump", PER)]


def test_seed_002_boundaries_types_and_names(recognizer: E5EntityRecognizer) -> None:
    body = SEED_002.read_text(encoding="utf-8")
    entities = recognizer.enrich(_split(body)).entities
    assert_aligned(body, entities)
    for phrase in ("zei Trump", "Volgens Trump", "heeft Trump", "benadrukte Trump"):
        trump = body.index(phrase) + len(phrase) - len("Trump")
        assert any(e.start == trump and e.text == "Trump" for e in entities), phrase
    labels = {e.text: e.label for e in entities}
    assert labels["Buitenlandse Zaken"] is ORG
    assert labels["Mike Pompeo"] is PER
    assert labels["Amerikaanse"] is MISC
    assert labels["Vietnam"] is LOC
    assert labels["Noord-Korea"] is LOC
    assert {e.canonical for e in entities if e.text == "Trump"} == {"Donald Trump"}


def test_batch_equals_one_by_one_and_languages(recognizer: E5EntityRecognizer) -> None:
    docs = [
        _split(SEED_000.read_text(encoding="utf-8")),
        _split("Angela Merkel met Emmanuel Macron in Berlin on Tuesday.", "en"),
        _split("Angela Merkel a rencontré Emmanuel Macron à Berlin.", "fr"),
        _split("Mark Rutte sprak in Utrecht.", None),
        Document(body="   \n "),
    ]
    batched = recognizer.enrich_batch(docs)
    assert batched == [recognizer.enrich(d) for d in docs]
    assert {e.text for e in batched[1].entities} == {"Angela Merkel", "Emmanuel Macron", "Berlin"}
    assert batched[2].entities == ()  # French is not tagged by default
    assert {(e.text, e.label) for e in batched[3].entities} == {
        ("Mark Rutte", PER),
        ("Utrecht", LOC),
    }
    assert batched[4].entities == ()


def test_offsets_hold_on_hostile_text(recognizer: E5EntityRecognizer) -> None:
    body = (
        "Trump en Kim\n\n"
        "De Amerikaanse president Donald\u00a0Trump sprak in Ha\u00adnoi met Kim Jong\u2011un.\r\n"
        "Volgens Trump was het „heel goed”, zei Mark Rutte \U0001f600 in Den Haag.\x00 "
        "''Ja'', aldus Mark Rutte in Utrecht.\n\u200b"
    )
    doc = _split(body)
    entities = recognizer.enrich(doc).entities
    assert_aligned(body, entities)
    by_text = {e.text: e for e in entities}
    assert by_text["Donald\u00a0Trump"].canonical == "Donald Trump"
    assert by_text["Mark Rutte"].label is PER
    assert by_text["Den Haag"].label is LOC
    assert all("\n" not in e.text for e in entities)
    # Sentences outside the body are refused.
    with pytest.raises(EnricherError, match="outside the body"):
        recognizer.enrich(Document(body="Kort.", sentences=(Span(0, 50),)))


def test_missing_model_is_an_enricher_error(tmp_path: Path) -> None:
    with pytest.raises(EnricherError, match="manifest"):
        E5EntityRecognizer(tmp_path / "nothing", cache_dir=tmp_path)


# Clauses written for this test; joined with commas they make one sentence of 600+ words.
CLAUSES = [
    ("Mark Rutte", PER, "{} sprak dinsdag lang over de begroting van het kabinet"),
    ("Amsterdam", LOC, "de gemeenteraad van {} wilde daarna meer geld voor de woningbouw"),
    ("Europese Commissie", ORG, "de {} vroeg opnieuw om een plan voor de komende jaren"),
    ("Angela Merkel", PER, "bondskanselier {} liet weten dat zij het voorstel steunt"),
    ("Rotterdam", LOC, "in de haven van {} lagen de schepen al dagen stil door de staking"),
    ("Philips", ORG, "het bestuur van {} zei dat de winst dit jaar iets lager uitvalt"),
]


def test_a_600_word_sentence_is_read_whole_and_every_entity_in_it_found(
    recognizer: E5EntityRecognizer,
) -> None:
    parts = [template.format(name) for _ in range(8) for name, _, template in CLAUSES]
    body = ", en ".join(parts) + "."
    assert len(body.split()) > 600
    doc = _split(body)
    assert len(doc.sentences) == 1
    entities = recognizer.enrich(doc).entities
    assert_aligned(body, entities)
    expected = sorted(
        (m.start(), name, label)
        for name, label, _ in CLAUSES
        for m in re.finditer(re.escape(name), body)
    )
    assert len(expected) == 48
    assert sorted((e.start, e.text, e.label) for e in entities) == expected


def test_headings_are_no_persons_or_organisations(recognizer: E5EntityRecognizer) -> None:
    # Section names are MISC in the CoNLL-2002 convention ("Buitenland", "Sport") or nothing
    # ("Algemeen"); what a reader must never see is a heading as a person or organisation.
    body = (
        "Buitenland\nPeter de Vries\n\nDe Franse president Emmanuel Macron heeft dinsdag in "
        "Parijs de Duitse bondskanselier ontvangen.\nAlgemeen\nHet overleg ging over de "
        "begroting van de Europese Unie."
    )
    entities = recognizer.enrich(_split(body)).entities
    assert_aligned(body, entities)
    found = {(e.text, e.label) for e in entities}
    assert {("Emmanuel Macron", PER), ("Parijs", LOC), ("Europese Unie", ORG)} <= found
    headings = {(e.text, e.label) for e in entities if e.text in ("Buitenland", "Algemeen")}
    assert not {label for _, label in headings} & {PER, ORG}
    assert ("Peter de Vries", PER) in found
