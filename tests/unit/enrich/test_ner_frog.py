"""FrogEntityRecognizer and FrogServerPool: protocol, alignment, chunking, and real frog servers.

Tests marked ``frog`` run Debian's frog (no mocks); one pool of two servers is shared by the
module because loading takes seconds. The restart/close test starts a pool of its own.
"""

from __future__ import annotations

import functools
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from schemas import Entity, EntityLabel, Language
from streams.enrich.base import Document
from streams.enrich.entity_rules import Pos
from streams.enrich.frog import (
    INSTALL_HINT,
    FrogEntityRecognizer,
    FrogError,
    FrogNotInstalledError,
    FrogServerPool,
    align_tokens,
    cgn_pos,
    paragraph_chunks,
    parse_frog_answer,
    wire_text,
)

ROOT = Path(__file__).resolve().parents[3]
SEED_000 = ROOT / "streams" / "samples" / "articles" / "000_7b201681f24eebfa.txt"
SEED_002 = ROOT / "streams" / "samples" / "articles" / "002_5e518ff5de4b58f3.txt"
PER, LOC, ORG, MISC = EntityLabel.PER, EntityLabel.LOC, EntityLabel.ORG, EntityLabel.MISC


# --- Protocol, alignment and chunking (no frog needed) --------------------------------------------


def test_parse_answer_finds_columns_by_form() -> None:
    answer = (
        "1\tKim\t\t\t\tSPEC(deeleigen)\t1.000000\tB-PER\t\t\t\t\t\t\n"
        "2\tzei\t\t\t\tWW(pv,verl,ev)\t0.998967\tO\t\t\t\t\t\t\n"
        "\n"
        # Another layout (lemma filled, one column fewer) and a lower-case NER tag.
        "1\tHanoi\tHanoi\t[Hanoi]\tSPEC(deeleigen)\t1.0\tb-loc\n"
        "\n"
    )
    sentences = parse_frog_answer(answer)
    assert [[(t.word, t.tag, t.ner) for t in s] for s in sentences] == [
        [("Kim", "SPEC(deeleigen)", "B-PER"), ("zei", "WW(pv,verl,ev)", "O")],
        [("Hanoi", "SPEC(deeleigen)", "B-LOC")],
    ]
    assert sentences[0][1].confidence == pytest.approx(0.998967)
    assert parse_frog_answer("") == []


def test_parse_answer_rejects_lines_out_of_step() -> None:
    with pytest.raises(FrogError, match="unexpected line"):
        parse_frog_answer("1\tKim\t\t\t\tSPEC(deeleigen)\t1.000000\tB-PER\nsomething else\n")


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


def test_wire_text_never_sends_an_eot_line_or_control_characters() -> None:
    text = "Dit is\nEOT\nna\r\nEOT\r\nen\x00 \x1b \ud800 EOT midden\nEOT"
    wire = wire_text(text)
    assert "EOT" not in wire.split("\n")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]", wire)
    wire.encode("utf-8")
    assert "EOT midden" in wire


def test_align_tokens_survives_changed_quotes_soft_hyphens_and_normalisation() -> None:
    text = "Hij zei: „Ja” in Ha\u00adnoi,\u00a0Cafe\u0301 ''x'' \ufb01ets \u2014 EOT"
    # What a tokenizer could make of it: normalised quotes, soft hyphen dropped, NFC, ligature
    # decomposed, a dash normalised, and one token that is not in the text at all.
    words = ["Hij", "zei", ":", '"', "Ja", '"', "in", "Hanoi", ",", "Café", '"', "x", "''"]
    words += ["fiets", "-", "NOT-THERE", "EOT"]
    spans = align_tokens(text, words)
    found = [text[s:e] if s is not None else None for s, e in (sp or (None, None) for sp in spans)]
    assert found == [
        "Hij",
        "zei",
        ":",
        "„",
        "Ja",
        "”",
        "in",
        "Ha\u00adnoi",
        ",",
        "Cafe\u0301",
        "''",
        "x",
        "''",
        "\ufb01ets",
        "\u2014",
        None,
        "EOT",
    ]


def test_align_tokens_does_not_jump_far_ahead() -> None:
    text = "a " * 100 + "Trump"
    assert align_tokens(text, ["b", "a"]) == [None, (0, 1)]


def test_paragraph_chunks_cover_every_paragraph_trimmed() -> None:
    body = "  Kop zonder punt\n\nEerste alinea.\nTweede regel.\n \n\n\tLaatste.  \n"
    spans = paragraph_chunks(body)
    assert [body[s:e] for s, e in spans] == [
        "Kop zonder punt",
        "Eerste alinea.\nTweede regel.",
        "Laatste.",
    ]
    assert paragraph_chunks("   \n\n  ") == []


def test_long_paragraphs_are_cut_at_sentence_ends_then_whitespace_then_hard() -> None:
    body = "Een zin hier. Nog een zin daar. En een derde zin."
    spans = paragraph_chunks(body, max_chars=35)
    assert [body[s:e] for s, e in spans] == ["Een zin hier. Nog een zin daar.", "En een derde zin."]
    body = "woord " * 10
    assert all(e - s <= 12 for s, e in paragraph_chunks(body, max_chars=12))
    assert " ".join(body[s:e] for s, e in paragraph_chunks(body, 12)).split() == body.split()
    body = "x" * 25
    assert paragraph_chunks(body, max_chars=10) == [(0, 10), (10, 20), (20, 25)]


def test_missing_frog_gives_the_install_hint(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-frog")
    with pytest.raises(FrogNotInstalledError, match=re.escape(INSTALL_HINT)):
        FrogServerPool(frog_bin=missing)
    with pytest.raises(FrogNotInstalledError, match="apt-get install frog frogdata"):
        FrogEntityRecognizer(frog_bin=missing)


# --- Real frog servers ---------------------------------------------------------------------------


def _group(pgid: int) -> dict[int, str]:
    """pid -> state letter of every process in a process group (zombies included)."""
    members = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members[int(entry.name)] = fields[0]
    return members


def _group_is_empty(pgid: int) -> bool:
    return not _group(pgid)


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


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


def _assert_aligned(body: str, entities: list[Entity]) -> None:
    assert entities
    previous_end = 0
    for e in entities:
        assert e.text == body[e.start : e.end]
        assert e.text == e.text.strip()
        assert e.start >= previous_end
        previous_end = e.end


@pytest.mark.frog
def test_recognizer_identity(recognizer: FrogEntityRecognizer) -> None:
    assert recognizer.name == "ner-frog"
    assert re.fullmatch(r"frog-\d+(\.\d+)+\+rules-1", recognizer.version)
    assert recognizer.info.version == recognizer.version


@pytest.mark.frog
def test_seed_000_persons_and_places(seed_000: tuple[str, list[Entity]]) -> None:
    body, entities = seed_000
    _assert_aligned(body, entities)
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
    _assert_aligned(body, entities)
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
    _assert_aligned(body, entities)
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
    _assert_aligned(body, entities)
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


@pytest.mark.frog
def test_pool_restarts_dead_servers_and_close_leaves_no_process() -> None:
    pool = FrogServerPool(1)
    try:
        with pool.lease() as server:
            first = server.pid
            assert first is not None
            assert server.analyse("Kim zei dat.")
            # The connection child (Frog forks one per connection) dies mid-session: the
            # request fails, the server is replaced and the request sent again.
            children = [pid for pid in _group(first) if pid != first]
            assert children
            for child in children:
                os.kill(child, signal.SIGKILL)
            assert [t.word for t in server.analyse("Kim zei dat.")[0]] == ["Kim", "zei", "dat", "."]
            second = server.pid
            assert second not in (None, first)
            assert pool.restarts == 1
            # The server itself dies between requests: restarted before the next one.
            assert second is not None
            os.kill(second, signal.SIGKILL)
            assert _wait_for(lambda: _group(second).get(second) == "Z")
            assert server.analyse("Hanoi.")[0][0].ner == "B-LOC"
            third = server.pid
            assert third not in (None, first, second)
            assert pool.restarts == 2
        assert pool.memory()[0].rss_bytes > 100 * 2**20
    finally:
        FrogEntityRecognizer(pool, close_pool=True).close()
    assert pool.closed
    for pid in (first, second, third):
        assert pid is not None
        # An orphaned connection child (its server was killed) is reaped by init: wait for it.
        assert _wait_for(functools.partial(_group_is_empty, pid)), _group(pid)
    with pytest.raises(FrogError, match="closed"), pool.lease():
        pass
    pool.close()  # idempotent
