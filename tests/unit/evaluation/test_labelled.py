"""Reading labelled sentiment CSV files and the held-out split training and eval share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streams.evaluation.labelled import LabelledFileError, read_labelled_csv, stratified_split


def test_reading_merges_duplicates_and_drops_ties(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_text(
        "id,date,medium,headline,value\n"
        "1,d,m,Koers stijgt,1\n"
        "2,d,m,Koers  stijgt,1\n"  # same headline after whitespace normalisation
        "3,d,m,Koers daalt,-1\n"
        "4,d,m,Twijfel,1\n"
        "5,d,m,Twijfel,-1\n"  # tied labels: dropped
        "6,d,m,Kabinet vergadert,0\n",
        encoding="utf-8",
    )
    corpus = read_labelled_csv(path)
    assert corpus.texts == ["Koers stijgt", "Koers daalt", "Kabinet vergadert"]
    assert corpus.labels.tolist() == [2, 0, 1]
    assert (corpus.rows_read, corpus.duplicates_merged, corpus.conflicts_dropped) == (6, 2, 1)
    kept = read_labelled_csv(path, merge_duplicates=False)
    assert len(kept.texts) == 6


def test_bad_labels_columns_and_files_are_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,headline,value\n1,Kop,2\n", encoding="utf-8")
    with pytest.raises(LabelledFileError, match="-1/0/1 or negative/neutral/positive"):
        read_labelled_csv(path)
    path.write_text("words,stars\nmooi,5\n", encoding="utf-8")
    with pytest.raises(LabelledFileError, match="no text column"):
        read_labelled_csv(path)
    with pytest.raises(LabelledFileError, match="not found"):
        read_labelled_csv(tmp_path / "absent.csv")


def test_split_is_stratified_and_seeded() -> None:
    labels = np.repeat(np.arange(3), [200, 100, 60])
    a_train, a_held = stratified_split(labels, 0.15, 7)
    _, b_held = stratified_split(labels, 0.15, 7)
    assert a_held.tolist() == b_held.tolist()
    assert np.bincount(labels[a_held]).tolist() == [30, 15, 9]
    assert sorted([*a_train.tolist(), *a_held.tolist()]) == list(range(len(labels)))
