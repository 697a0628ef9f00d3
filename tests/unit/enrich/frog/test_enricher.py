"""FrogEntityRecognizer on real frog servers: entities, offsets, languages, concurrent callers.

Tests marked ``frog`` run Debian's frog (no mocks); one pool of two servers is shared by the
module because loading takes seconds.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest

from schemas import Entity, EntityLabel, Language
from streams.enrich.base import Document
from streams.enrich.entity_rules import Pos
from streams.enrich.frog import (
    FrogEntityRecognizer,
    FrogServerPool,
    cgn_pos,
)
from tests.support.entities import SEED_000, SEED_002, assert_aligned

PER, LOC, ORG, MISC = EntityLabel.PER, EntityLabel.LOC, EntityLabel.ORG, EntityLabel.MISC


@pytest.mark.parametrize(
    ("tag", "pos"),
    [
        ("SPEC(deeleigen)", Pos.PROPN),
        ("N(eigen,ev,basis,zijd,stan)", Pos.PROPN),
        ("N(soort,ev,basis,zijd,stan)", Pos.NOUN),
        ("SPEC(afk)", Pos.X),
        ("ADJ(prenom,basis,met-e,stan)", Pos.ADJ),
        ("WW(pv,verl,ev)", Pos.VERB),
        ("VZ(init)", Pos.ADP),
        ("VG(neven)", Pos.CCONJ),
        ("VG(onder)", Pos.SCONJ),
        ("LET()", Pos.PUNCT),
        ("BW()", Pos.ADV),
        ("XYZ()", Pos.X),
    ],
)
def test_cgn_pos(tag: str, pos: Pos) -> None:
    assert cgn_pos(tag) is pos


@pytest.fixture(scope="module")
def pool() -> Iterator[FrogServerPool]:
    with FrogServerPool(2) as shared:
        yield shared


@pytest.fixture(scope="module")
def recognizer(pool: FrogServerPool) -> FrogEntityRecognizer:
    return FrogEntityRecognizer(pool)


@pytest.fixture(scope="module")
def seed_000(recognizer: FrogEntityRecognizer) -> tuple[str, list[Entity]]:
    body = SEED_000.read_text(encoding="utf-8")
    return body, recognizer.recognize(body)


@pytest.fixture(scope="module")
def seed_002(recognizer: FrogEntityRecognizer) -> tuple[str, list[Entity]]:
    body = SEED_002.read_text(encoding="utf-8")
    return body, recognizer.recognize(body)


@pytest.mark.frog
def test_recognizer_identity(recognizer: FrogEntityRecognizer) -> None:
    assert recognizer.name == "ner-frog"
    assert re.fullmatch(r"frog-\d+(\.\d+)+\+rules-3", recognizer.version)
    assert recognizer.info.version == recognizer.version


@pytest.mark.frog
def test_seed_000_persons_and_places(seed_000: tuple[str, list[Entity]]) -> None:
    body, entities = seed_000
    assert_aligned(body, entities)
    found = {(e.canonical, e.label) for e in entities}
    assert {("Donald Trump", PER), ("Kim Jong-un", PER)} <= found
    assert {("Hanoi", LOC), ("Noord-Korea", LOC)} <= found
    # "Noord-Korea" stands once on its own in 000 (last paragraph); the four
    # "Noord-Koreaanse" are adjectives.
    assert [e.text for e in entities if e.canonical == "Noord-Korea"] == ["Noord-Korea"]
    assert {e.label for e in entities if e.text == "Noord-Koreaanse"} == {MISC}
    assert {e.label for e in entities if e.text == "Amerikaanse"} == {MISC}
    assert {e.label for e in entities if e.text == "Witte Huis"} == {ORG}
    # Short mentions carry the full name.
    assert {e.canonical for e in entities if e.text in ("Trump", "Kim")} == {
        "Donald Trump",
        "Kim Jong-un",
    }


@pytest.mark.frog
def test_seed_000_coordination_is_split(seed_000: tuple[str, list[Entity]]) -> None:
    body, entities = seed_000
    start = body.index("Kim en Trump")
    pair = [e for e in entities if start <= e.start < start + len("Kim en Trump")]
    assert [(e.text, e.label) for e in pair] == [("Kim", PER), ("Trump", PER)]


@pytest.mark.frog
def test_seed_002_boundaries_types_and_names(seed_002: tuple[str, list[Entity]]) -> None:
    body, entities = seed_002
    assert_aligned(body, entities)
    for phrase in ("zei Trump", "Volgens Trump", "heeft Trump", "benadrukte Trump"):
        at = body.index(phrase)
        trump = at + len(phrase) - len("Trump")
        assert any(e.start == trump and e.text == "Trump" for e in entities), phrase
    assert not any(
        word in e.text.split() for e in entities for word in ("zei", "Volgens", "aldus", "heeft")
    )
    labels = {e.text: e.label for e in entities}
    assert labels["Buitenlandse Zaken"] is ORG
    assert labels["Mike Pompeo"] is PER
    assert labels["Amerikaanse"] is MISC
    assert labels["Vietnam"] is LOC
    assert {e.canonical for e in entities if e.text == "Trump"} == {"Donald Trump"}


@pytest.mark.frog
def test_offsets_hold_on_hostile_text(recognizer: FrogEntityRecognizer) -> None:
    body = (
        "Trump en Kim\n\n"
        "De Amerikaanse president Donald\u00a0Trump sprak in Ha\u00adnoi met Kim Jong\u2011un.\r\n"
        "EOT\n"
        "Volgens Trump was het „heel goed”, zei Mark Rutte \U0001f600 in Den Haag.\x00 "
        "''Ja'', aldus Mark Rutte in Utrecht.\nEOT"
    )
    entities = recognizer.recognize(body)
    assert_aligned(body, entities)
    by_text = {e.text: e for e in entities}
    assert by_text["Ha\u00adnoi"].canonical == "Hanoi"
    assert by_text["Donald\u00a0Trump"].canonical == "Donald Trump"
    assert by_text["Kim"].canonical == "Kim Jong-un"
    assert by_text["Mark Rutte"].label is PER
    assert by_text["Den Haag"].label is LOC
    # The heading's "Kim" does not run into the next paragraph.
    assert all("\n" not in e.text for e in entities)


@pytest.mark.frog
def test_small_chunks_keep_offsets(pool: FrogServerPool) -> None:
    body = SEED_002.read_text(encoding="utf-8")
    chunked = FrogEntityRecognizer(pool, max_chunk_chars=120)
    assert chunked.version.endswith("+chunk120")
    entities = chunked.recognize(body)
    assert_aligned(body, entities)
    assert {("Donald Trump", PER), ("Mike Pompeo", PER)} <= {
        (e.canonical, e.label) for e in entities
    }


@pytest.mark.frog
def test_close_leaves_a_shared_pool_up_unless_handed_over(pool: FrogServerPool) -> None:
    FrogEntityRecognizer(pool).close()
    assert not pool.closed
    assert pool.analyse("Hanoi.")[0][0].ner == "B-LOC"


@pytest.mark.frog
def test_enrich_sets_entities_and_skips_other_languages(
    recognizer: FrogEntityRecognizer, seed_002: tuple[str, list[Entity]]
) -> None:
    body, entities = seed_002
    doc = Document(body=body, language=Language(code="nl", confidence=0.99))
    assert recognizer.enrich(doc).entities == tuple(entities)
    english = Document(
        body="Donald Trump met Kim Jong-un in Hanoi.", language=Language(code="en", confidence=0.99)
    )
    assert recognizer.enrich(english).entities == ()


@pytest.mark.frog
def test_concurrent_callers_get_the_same_results(
    recognizer: FrogEntityRecognizer,
    seed_000: tuple[str, list[Entity]],
    seed_002: tuple[str, list[Entity]],
) -> None:
    docs = [Document(body=seed_000[0]), Document(body=seed_002[0])]
    assert [d.entities for d in recognizer.enrich_batch(docs)] == [
        tuple(seed_000[1]),
        tuple(seed_002[1]),
    ]
    # More callers than servers: each waits for a free one and gets its own answers.
    texts = [f"Mark Rutte sprak {i} keer met Kim Jong-un in Hanoi." for i in range(6)]
    results: dict[int, list[tuple[str, str]]] = {}

    def work(i: int) -> None:
        results[i] = [(e.text, e.label.value) for e in recognizer.recognize(texts[i])]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == list(range(len(texts)))
    for i, text in enumerate(texts):
        assert results[i] == [(e.text, e.label.value) for e in recognizer.recognize(text)]
        assert ("Kim Jong-un", "PER") in results[i]
