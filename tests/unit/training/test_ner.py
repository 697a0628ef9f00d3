"""python -m training.ner without its corpora."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_missing_corpora_fail_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.conll import CorpusMissingError, load

    with pytest.raises(CorpusMissingError, match=r"ned\.train not found"):
        load("nl", "train", tmp_path)
    pytest.importorskip("torch")
    from training.ner import main

    assert main(["--corpora", str(tmp_path), "--out-dir", str(tmp_path / "out")]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
