"""The training loop every e5 model shares: frozen lower layers computed once, AdamW with
warm-up and linear decay, gradient clipping, a loss and an end-of-epoch step of the model's
own (``training.ner``, ``training.joint``)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from training.e5.data import Embeddings, batches, make_batch, token_batches
from training.e5.example import Example
from training.e5.torch_model import E5TokenClassifier

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(logits, labels of the batch) -> the loss to minimise."""
EpochEnd = Callable[[int, float, dict[str, Any]], None]
"""Called after every epoch with its index (from 0), its mean loss and its history entry
(``epoch`` and ``seconds`` so far), to which it adds what it measured."""


@dataclass(frozen=True)
class E5TrainConfig:
    """The hyper-parameters every e5 model's training has; each model's TrainConfig adds its
    own (and its defaults)."""

    epochs: int = 3
    batch_size: int = 16
    lr: float = 1e-3
    """Learning rate of the adapters, biases and norms."""
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    """Of the adapter matrices only (not biases, norms or the head)."""
    warmup: float = 0.06
    """Fraction of the steps over which the learning rate rises linearly from 0."""
    rank: int = 16
    alpha: float = 32.0
    lora_dropout: float = 0.0
    hidden_dropout: float = 0.0
    layers: int = 12
    frozen_layers: int = 4
    """The first this many layers get no adapters; their outputs are computed once."""


def seed_all(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (before the model is built)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def prepare(model: E5TokenClassifier, frozen_layers: int, device: torch.device) -> None:
    """Freeze the model's lower layers and put it in training mode on ``device``."""
    model.freeze_lower(frozen_layers)
    model.to(device)
    model.train()


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


def fit(
    model: E5TokenClassifier,
    train_set: Sequence[Example],
    cache: LowerCache,
    opt: E5TrainConfig,
    loss_of: Loss,
    epoch_end: EpochEnd,
    *,
    seed: int,
    max_grad_norm: float = 1.0,
    progress_every: int = 0,
    stage: str = "",
) -> list[dict[str, Any]]:
    """Train ``model`` (prepared, its lower layers in ``cache``) on ``train_set``; returns the
    history, one entry per epoch. ``seed``: of the batch order. ``progress_every``: print the
    running loss every this many steps (0: never). ``stage``: shown after the epoch number."""
    body, head = model.trainable_groups()
    optimiser = torch.optim.AdamW(
        [
            {"params": [p for p in body if p.ndim > 1], "lr": opt.lr},
            {"params": [p for p in body if p.ndim <= 1], "lr": opt.lr, "weight_decay": 0.0},
            {"params": head, "lr": opt.head_lr, "weight_decay": 0.0},
        ],
        weight_decay=opt.weight_decay,
    )
    rng = random.Random(seed)
    steps_per_epoch = math.ceil(len(train_set) / opt.batch_size)
    total = steps_per_epoch * opt.epochs
    warmup = max(1, int(total * opt.warmup))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
    history: list[dict[str, Any]] = []
    step = 0
    started = time.perf_counter()
    for epoch in range(opt.epochs):
        running = epoch_loss = 0.0
        for batch in batches(train_set, opt.batch_size, rng):
            x, mask, labels = cache.batch(model, batch)
            loss = loss_of(model.upper(x, mask, cache.layers), labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_([*body, *head], max_grad_norm)
            optimiser.step()
            scheduler.step()
            step += 1
            value = float(loss.detach())
            running += value
            epoch_loss += value
            if progress_every and step % progress_every == 0:
                elapsed = time.perf_counter() - started
                print(
                    f"  step {step}/{total} loss {running / progress_every:.4f} "
                    f"({elapsed:.0f} s, ~{elapsed / step * (total - step):.0f} s left)",
                    flush=True,
                )
                running = 0.0
        entry: dict[str, Any] = {
            "epoch": epoch + 1,
            "seconds": round(time.perf_counter() - started, 1),
        }
        epoch_end(epoch, epoch_loss / steps_per_epoch, entry)
        print(f"epoch {epoch + 1}{f' ({stage})' if stage else ''}: {entry}", flush=True)
        history.append(entry)
    return history
