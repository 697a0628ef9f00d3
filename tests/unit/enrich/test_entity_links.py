"""Entity ids across articles, outlets and languages, from the shipped alias table."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import Entity, EntityLabel
from streams.enrich.base import Document, EnricherError
from streams.enrich.entity_links import (
    CURATED_ALIASES,
    FROGDATA_DIR,
    AliasTable,
    EntityLinker,
    entity_id,
    name_key,
)

PER, LOC, ORG, MISC = EntityLabel.PER, EntityLabel.LOC, EntityLabel.ORG, EntityLabel.MISC


def _entity(text: str, label: EntityLabel, canonical: str | None = None) -> Entity:
    return Entity(text=text, label=label, start=0, end=len(text), canonical=canonical or text)


def _link(linker: EntityLinker, *entities: Entity) -> list[Entity]:
    return list(linker.enrich(Document(body="x" * 100, entities=entities)).entities)


@pytest.fixture(scope="module")
def linker() -> EntityLinker:
    # frogdata comes with Debian's frog, which ./dev setup installs: a real part, never faked.
    assert FROGDATA_DIR.is_dir(), "install Debian's frogdata (apt-get install frogdata)"
    return EntityLinker()


def test_name_keys_ignore_case_accents_dots_and_hyphens() -> None:
    assert name_key("V.S.") == name_key("VS") == "vs"
    assert name_key("Noord-Korea") == "noord korea"
    assert name_key("België") == name_key("Belgie")
    assert name_key("Kim Jong-un") == name_key("Kim Jong Un")


@pytest.mark.parametrize(
    ("names", "label", "expected"),
    [
        (["VS", "Verenigde Staten", "Amerika", "United States", "USA"], LOC, "loc/united-states"),
        (["Noord-Korea", "North Korea", "DPRK"], LOC, "loc/north-korea"),
        (["Witte Huis", "White House"], ORG, "org/white-house"),
        (["Kim Jong-un", "Kim Jong Un"], PER, "per/kim-jong-un"),
    ],
)  # fmt: skip
def test_one_id_for_one_referent_in_both_languages(
    linker: EntityLinker, names: list[str], label: EntityLabel, expected: str
) -> None:
    linked = _link(linker, *(_entity(name, label) for name in names))
    assert {e.entity_id for e in linked} == {expected}


def test_short_mentions_link_through_their_canonical_name(linker: EntityLinker) -> None:
    [trump] = _link(linker, _entity("Trump", PER, canonical="Donald Trump"))
    assert trump.entity_id == "per/donald-trump"
    assert trump.text == "Trump"


def test_curated_names_fix_the_label(linker: EntityLinker) -> None:
    pyongyang, white_house = _link(linker, _entity("Pyongyang", PER), _entity("Witte Huis", LOC))
    assert (pyongyang.label, pyongyang.entity_id) == (LOC, "loc/pyongyang")
    assert (white_house.label, white_house.entity_id) == (ORG, "org/white-house")


def test_demonyms_stay_misc_and_relate_to_their_place(linker: EntityLinker) -> None:
    # "Het Amerikaanse ministerie ... Amerikaans onderzoek ... an American envoy": one
    # adjective referent, related to the country rather than standing alone.
    linked = _link(
        linker, _entity("Amerikaanse", MISC), _entity("Amerikaans", MISC), _entity("American", MISC)
    )
    assert {(e.label, e.entity_id, e.related_id) for e in linked} == {
        (MISC, "misc/united-states", "loc/united-states")
    }
    [america] = _link(linker, _entity("Amerika", MISC))
    assert america.label is MISC  # a MISC entity never takes a place's id
    assert america.entity_id != "loc/united-states"


def test_unknown_names_get_an_id_from_label_and_name(linker: EntityLinker) -> None:
    a, b, c = _link(
        linker,
        _entity("Jan de Vries", PER),
        _entity("Jan  de  Vries", PER),
        _entity("De Vries", ORG),
    )
    assert a.entity_id == b.entity_id == "per/jan-de-vries"
    assert c.entity_id == entity_id(ORG, "De Vries") == "org/de-vries"


def test_frogdata_places_taken_for_persons_become_places(linker: EntityLinker) -> None:
    lelystad, anna = _link(linker, _entity("Lelystad", PER), _entity("Anna", PER))
    assert (lelystad.label, lelystad.entity_id) == (LOC, "loc/lelystad")
    assert anna.label is PER  # a first name stays a person even if some place is called so


def test_user_aliases_win_and_change_the_version(tmp_path: Path) -> None:
    own = tmp_path / "own.tsv"
    own.write_text("# ours\norg/acme\tORG\tACME|Acme Holding\nloc/usa\tLOC\tVS\n", encoding="utf-8")
    default = EntityLinker(AliasTable.load(frogdata=None))
    custom = EntityLinker(AliasTable.load((CURATED_ALIASES, own), frogdata=None))
    assert custom.version != default.version
    acme, vs = _link(custom, _entity("Acme Holding", ORG), _entity("VS", LOC))
    assert (acme.entity_id, vs.entity_id) == ("org/acme", "loc/usa")


def test_malformed_alias_files_fail_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("org/acme ORG ACME\n", encoding="utf-8")
    with pytest.raises(EnricherError, match=r"bad\.tsv:1: expected 'id<TAB>label<TAB>names'"):
        EntityLinker(alias_files=[bad])
    bad.write_text("org/acme\tCOMPANY\tACME\n", encoding="utf-8")
    with pytest.raises(EnricherError, match="label 'COMPANY' is not one of"):
        EntityLinker(alias_files=[bad])
    with pytest.raises(EnricherError, match="cannot read alias file"):
        EntityLinker(alias_files=[tmp_path / "missing.tsv"])
