"""Scoring quotes: dev-set loading (corpus references checked, clear errors) and the counts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from schemas import Quote
from streams.evaluation.quotes import (
    DevSetError,
    evaluate_quotes,
    load_dev_set,
    span_digest,
    speaker_matches,
)

# A corpus article written for this test, in dpgmedia2019's format.
ARTICLE = (
    ",,Wij gaan door'', zegt Anna de Vries. Het 'plan' is klaar. Volgens Bas Smit is het 'te laat'."
)


def _write(path: Path, items: Sequence[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def _ref(text: str, fragment: str, **extra: object) -> dict[str, object]:
    start = text.index(fragment)
    end = start + len(fragment)
    return {"start": start, "end": end, "sha1": span_digest(fragment), **extra}


@pytest.fixture
def dev_set(tmp_path: Path) -> tuple[Path, Path]:
    corpus = _write(tmp_path / "articles.jsonl", [{"id": 7, "title": "t", "text": ARTICLE}])
    items: list[dict[str, object]] = [
        {
            "id": "a7",
            "source": "dpgmedia2019",
            "article": 7,
            "lang": "nl",
            "quotes": [
                _ref(ARTICLE, "Wij gaan door", speaker="Anna de Vries"),
                _ref(ARTICLE, "te laat", speaker=["Bas Smit", "Cor Smit"]),
            ],
            "not_quotes": [_ref(ARTICLE, "plan")],
        },
        {
            "id": "w1",
            "source": "written",
            "lang": "en",
            "text": '"We won," said Ann Lee. Nobody knows.',
            "quotes": [{"text": "We won", "speaker": "Ann Lee"}],
        },
    ]
    return _write(tmp_path / "dev.jsonl", items), corpus


def _quote(body: str, fragment: str, speaker: str | None) -> Quote:
    start = body.index(fragment)
    return Quote(text=fragment, start=start, end=start + len(fragment), speaker=speaker)


def test_scores_count_spans_speakers_and_scare_quotes(dev_set: tuple[Path, Path]) -> None:
    path, corpus = dev_set
    items = load_dev_set(path, corpus)
    assert [i.body for i in items] == [ARTICLE, '"We won," said Ann Lee. Nobody knows.']
    predicted = [
        [
            # Overlaps the gold span by more than half of each: a match, right surname.
            _quote(ARTICLE, "Wij gaan", "De Vries"),
            _quote(ARTICLE, "plan", None),  # a scare quote emitted
            _quote(ARTICLE, "te laat", "Anna de Vries"),  # matched, wrong speaker
        ],
        [_quote(items[1].body, "Nobody knows", None)],  # spurious; the gold quote missed
    ]
    report = evaluate_quotes(items, lambda bodies: (predicted, 0.5))
    total = report.total
    assert (total.gold, total.predicted, total.matched, total.speaker_right) == (3, 4, 2, 1)
    assert (total.scare_emitted, total.scare_gold) == (1, 1)
    assert total.precision == pytest.approx(0.5)
    assert total.recall == pytest.approx(2 / 3)
    assert total.speaker_accuracy == pytest.approx(0.5)
    assert sorted(m.kind for m in report.mistakes) == ["missed", "scare", "speaker", "spurious"]
    assert report.groups["dpgmedia2019/nl"].matched == 2
    text = report.format()
    assert "all" in text
    assert "0.500" in text
    assert "1/1" in text


def test_a_prediction_covering_too_little_of_the_gold_span_does_not_match(
    dev_set: tuple[Path, Path],
) -> None:
    path, corpus = dev_set
    [item] = load_dev_set(path, corpus, written_only=True)
    body = item.body
    report = evaluate_quotes([item], lambda bodies: ([[_quote(body, "We", "Ann Lee")]], 0.0))
    assert report.total.matched == 0


def test_speaker_rule() -> None:
    assert speaker_matches("Ellen van Loon", ["Ellen van Loon"])
    assert speaker_matches("Van Loon", ["Ellen van Loon"])
    assert speaker_matches(None, [])
    assert not speaker_matches("Loon", [])
    assert not speaker_matches(None, ["Ellen van Loon"])
    assert not speaker_matches("Ellen", ["Ellen van Loon"])


def test_a_missing_corpus_says_what_to_pass(dev_set: tuple[Path, Path], tmp_path: Path) -> None:
    path, _corpus = dev_set
    with pytest.raises(DevSetError, match=r"articles\.jsonl"):
        load_dev_set(path, None)
    with pytest.raises(DevSetError, match="no such file"):
        load_dev_set(path, tmp_path / "absent.jsonl")
    assert [i.id for i in load_dev_set(path, None, written_only=True)] == ["w1"]


def test_a_different_corpus_text_is_refused(dev_set: tuple[Path, Path], tmp_path: Path) -> None:
    path, _corpus = dev_set
    other = _write(tmp_path / "other.jsonl", [{"id": 7, "text": ARTICLE.replace("Wij", "Zij")}])
    with pytest.raises(DevSetError, match="not the annotated text"):
        load_dev_set(path, other)


def test_the_shipped_dev_set_loads_without_the_corpus_for_its_written_items() -> None:
    from streams.evaluation.quotes import DEFAULT_DEV_SET

    items = load_dev_set(DEFAULT_DEV_SET, None, written_only=True)
    assert len(items) >= 50
    assert {i.lang for i in items} == {"nl", "en"}
