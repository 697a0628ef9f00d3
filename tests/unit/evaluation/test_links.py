"""Scoring entity identity: the dev files parse, and agreement and false joins are counted."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import EntityLabel
from streams.enrich.base import Document, Enricher
from streams.enrich.entity_links import AliasTable
from streams.evaluation.links import (
    DEFAULT_ARTICLES,
    DEFAULT_PAIRS,
    LinksDataError,
    Pair,
    evaluate_links,
    key_only_joins,
    read_cases,
    read_pairs,
)


class FirstWordLinker(Enricher):
    """Ids from the first three letters of a name: joins Libya/Libië and, wrongly, Libya and
    Liberia, so both counts have something to count."""

    name = "first-letters"
    version = "1"

    def enrich(self, doc: Document) -> Document:
        return doc.with_(
            entities=tuple(
                e.model_copy(update={"entity_id": e.canonical[:3].casefold()}) for e in doc.entities
            )
        )


def test_the_shipped_dev_sets_are_large_enough_and_parse() -> None:
    pairs = read_pairs(DEFAULT_PAIRS)
    assert len(pairs) >= 150
    assert len({(p.label, p.english) for p in pairs}) == len(pairs)  # one line per referent
    cases = read_cases(DEFAULT_ARTICLES)
    assert {c.name for c in cases} >= {"ovv", "tweede-kamer", "fidesz", "haftar", "amerikaans"}


def test_agreement_and_false_joins_are_counted() -> None:
    pairs = [
        Pair("country", EntityLabel.LOC, "Libya", "Libië"),
        Pair("country", EntityLabel.LOC, "Liberia", "Liberia"),
        Pair("city", EntityLabel.LOC, "Cologne", "Keulen"),
    ]
    report = evaluate_links(FirstWordLinker(), pairs, [])
    assert report.agree == {"country": [2, 2], "city": [0, 1]}
    assert report.agreement == pytest.approx(2 / 3)
    assert report.false_joins == [("lib", ["Libya", "Liberia"])]
    assert "Cologne -> col | Keulen -> keu" in report.format()


def test_a_malformed_pairs_file_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "pairs.tsv"
    bad.write_text("# x\ncountry\tLOC\tLibya\n", encoding="utf-8")
    with pytest.raises(LinksDataError, match=r"pairs\.tsv:2: expected 4"):
        read_pairs(bad)


def test_key_only_joins_count_other_people_the_person_keys_join() -> None:
    table = AliasTable.load(packaged=False)
    tried, joined = key_only_joins(table, ["Merkel", "Merckel", "Jansen", "Boden"])
    # Merkel is Angela Merkel's own surname; Merckel is another family joined by its key.
    assert (tried, joined) == (4, [("Merckel", "per/angela-merkel")])
