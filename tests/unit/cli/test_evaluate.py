"""``newsstream eval``: the commands users run to reproduce the model scores."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from streams.cli.main import cli

# Written for this test (not corpus text): two Dutch and one English sentence, CoNLL columns.
TYPES = {"PER ", "LOC ", "ORG "}
CONLL = """\
-DOCSTART- -DOCSTART- O

Premier N O
Mark N B-PER
Rutte N I-PER
sprak V O
in Prep O
Amsterdam N B-LOC
met Prep O
Philips N B-ORG
. Punc O

Angela N B-PER
Merkel N I-PER
bezocht V O
Parijs N B-LOC
. Punc O

Barack NNP B-PER
Obama NNP I-PER
visited VBD O
London NNP B-LOC
. . O
"""


def test_eval_ner_prints_the_tagger_alone_and_through_the_pipeline(tmp_path: Path) -> None:
    conll = tmp_path / "mini.conll"
    conll.write_text(CONLL, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["eval", "ner", "--conll", str(conll), "--lang", "nl", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    alone, through = result.output.split(f"== {conll} (through the enrichment pipeline")
    assert alone.splitlines()[0] == f"== {conll} (ner-e5 int8 alone, language nl)"
    for part in (alone, through):
        assert "sentences 3, words 19; entities: gold 7" in part
        rows = {line.split()[0]: line.split() for line in part.splitlines() if line[:4] in TYPES}
        assert set(rows) == {"PER", "LOC", "ORG"}
        # Well-known names in plain sentences: all persons, places and companies found.
        assert [rows[kind][3] for kind in ("PER", "LOC", "ORG")] == ["1.0000"] * 3
        assert "words/s" in part
    assert through.splitlines()[-1] == "gap (tagger alone minus pipeline): +0.00 F1 points"


def test_eval_ner_tagger_only_skips_the_pipeline(tmp_path: Path) -> None:
    conll = tmp_path / "mini.conll"
    conll.write_text(CONLL, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["eval", "ner", "--conll", str(conll), "--tagger-only", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"== {conll} (ner-e5 int8 alone)")
    assert "pipeline" not in result.output


def test_eval_ner_on_a_missing_file_says_where_corpora_live(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["eval", "ner", "--conll", str(tmp_path / "ned.testa"), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "not found" in result.output
    assert "../shared/corpora" in result.output


# Written for this test: headlines whose tone nobody would dispute.
SENTIMENT_CSV = """\
headline,value
Economie groeit sterk en werkloosheid daalt naar laagste punt in jaren,1
Bedrijven melden recordwinst en nemen duizenden mensen aan,1
Stock markets rally as profits beat every forecast,1
Fabriek sluit: tweeduizend banen verloren en faillissementen stijgen,-1
Economy collapses as unemployment soars and banks fail,-1
Huizenmarkt stort in en schulden lopen hoog op,-1
Kabinet presenteert op dinsdag de begroting,0
"The central bank meets on Thursday, as scheduled",0
"""


def test_eval_sentiment_prints_accuracy_confusion_and_speed(tmp_path: Path) -> None:
    csv = tmp_path / "tones.csv"
    csv.write_text(SENTIMENT_CSV, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["eval", "sentiment", "--csv", str(csv), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"== {csv} (sentiment-e5 int8)"
    assert "confusion (rows true, columns predicted):" in result.output
    assert "sentences/s" in result.output
    accuracy = next(line for line in result.output.splitlines() if "accuracy" in line)
    assert float(accuracy.split()[-1].rstrip(",")) >= 0.75, result.output


def test_eval_sentiment_names_the_missing_column(tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("words,stars\nmooi,5\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["eval", "sentiment", "--csv", str(csv), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "column" in result.output


def test_eval_sentiment_on_a_missing_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    result = CliRunner().invoke(
        cli, ["eval", "sentiment", "--csv", str(missing), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert f"labelled file not found: {missing}" in result.output


def test_eval_quotes_scores_the_written_items(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["eval", "quotes", "--written-only", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "quotes-rules" in result.output
    [total] = [line.split() for line in result.output.splitlines() if line.startswith("all ")]
    # gold, predicted, precision, recall, speaker accuracy, scare emitted/terms
    assert float(total[4]) >= 0.9
    assert float(total[5]) >= 0.9
    assert total[6] == "0/18"
    # Each labelling round is scored apart, so batch 2 (held out from round two) stays visible.
    assert any(line.startswith("batch 2 written") for line in result.output.splitlines())


def test_eval_quotes_without_the_corpus_says_what_to_pass(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["eval", "quotes", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "dpgmedia2019" in result.output
    assert "articles.jsonl" in result.output


def test_eval_entity_sentiment_scores_every_target(tmp_path: Path) -> None:
    # Written for this test (not corpus text), in NewsMTSC's format.
    lines = [
        {
            "sentence_normalized": "Profits soared and investors cheered Acme.",
            "targets": [{"from": 37, "to": 41, "mention": "Acme", "polarity": 6.0}],
        },
        {
            "sentence_normalized": "The company collapsed and Smith lost everything.",
            "targets": [
                {"from": 26, "to": 31, "mention": "Smith", "polarity": 2.0},
                {"from": 4, "to": 11, "mention": "company", "polarity": 2.0},
            ],
        },
    ]
    path = tmp_path / "mini.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["eval", "entity-sentiment", "--newsmtsc", str(path), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"== {path} (2 sentences; each target as an entity through sentiment-e5 int8)"
    )
    assert "targets    3" in result.output
    assert "macro-F1" in result.output
    assert "confusion (rows true, columns predicted):" in result.output


def test_eval_entity_sentiment_names_the_malformed_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"sentence_normalized": "Acme", "targets": []}\n', encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["eval", "entity-sentiment", "--newsmtsc", str(path), "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert f"{path}:1: no non-empty list 'targets'" in result.output
