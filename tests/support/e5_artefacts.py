"""Damaged copies of a shipped e5 model, for the tests of its checks."""

from __future__ import annotations

import shutil
from pathlib import Path


def damaged_copy(model_dir: Path, target: Path) -> Path:
    """``target``, a copy of ``model_dir`` whose ``adapter.npz`` has one byte flipped (so it
    no longer matches the manifest)."""
    shutil.copytree(model_dir, target)
    adapter = target / "adapter.npz"
    data = bytearray(adapter.read_bytes())
    data[len(data) // 2] ^= 0xFF
    adapter.write_bytes(bytes(data))
    return target
