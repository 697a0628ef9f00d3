"""The lookup tables of entity identity, built once from the sources.

``AliasTable.load`` reads the alias files at once (a malformed file must fail
the worker's start, not its first article) and the packaged CLDR and GeoNames data lazily,
at the first lookup (about half a second, once per process). After that every lookup is a
dict access or a handful of them.

How sources combine: GeoNames cities, then CLDR territories, then the curated file, then the
user's files; a later source wins a name it shares with an earlier one. A packaged referent
that shares a main name with a curated one takes the curated id and label (CLDR's "Türkiye"
group becomes the curated ``loc/turkey``), so the curated ids stay stable.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from schemas import EntityLabel
from streams.enrich.links.keys import (
    MIN_NAME_CONSONANTS,
    MIN_STEM,
    consonants,
    demonym_stems,
    fine_key,
    name_key,
    place_stems,
    skeleton,
    translit_key,
)
from streams.enrich.links.sources import (
    LANGUAGES,
    Group,
    cldr_groups,
    data_versions,
    geonames_groups,
    read_alias_file,
)

log = logging.getLogger(__name__)

CURATED_ALIASES: Final = Path(__file__).parent.parent / "data" / "aliases.tsv"


@dataclass(frozen=True, slots=True)
class Alias:
    """What a name refers to: its id and label, and for an adjective or language the place
    it belongs to (``related``)."""

    id: str
    label: EntityLabel
    related: str | None = None


class AliasTable:
    """Names -> referents, display names per language, person and adjective keys."""

    def __init__(self, groups: Sequence[Group], packaged: bool, version: str) -> None:
        """Use ``load``. ``groups``: the alias files' groups in order; ``packaged``: whether
        CLDR and GeoNames are added (at the first lookup)."""
        self._files = list(groups)
        self._packaged = packaged
        self.version = version
        """Changes whenever any source changes: part of the enricher version."""
        self._lock = threading.Lock()
        self._built = False
        self._aliases: dict[str, Alias] = {}
        self._languages: dict[str, Alias] = {}
        self._persons: dict[str, Alias] = {}
        self._surnames: dict[str, tuple[Alias, str]] = {}
        self._adjectives: dict[str, Alias] = {}
        self._display: dict[str, dict[str, str]] = {}

    @classmethod
    def load(
        cls,
        files: Sequence[Path] = (CURATED_ALIASES,),
        packaged: bool = True,
    ) -> AliasTable:
        """The curated file ``files[0]``, the packaged CLDR/GeoNames names (if ``packaged``)
        and the user's ``files[1:]``, which win.

        Raises AliasFileError for an unreadable or malformed file.
        """
        digest = hashlib.sha256()
        groups = [group for path in files for group in read_alias_file(path, digest)]
        if packaged:
            digest.update(data_versions().encode())
        return cls(groups, packaged, digest.hexdigest()[:12])

    def __len__(self) -> int:
        self._build()
        return len(self._aliases)

    def lookup(self, name: str) -> Alias | None:
        """The referent a place, organisation or person name is exactly (case, accents and
        punctuation aside) a name of; None if no source knows it."""
        self._build()
        return self._aliases.get(name_key(name))

    def lookup_person(self, name: str) -> Alias | None:
        """The known person ``name`` is a transliteration of: by the coarse transliteration
        key of the full name ("Vladimir Poetin") or of its first and last word ("Khalifa
        Belqasim Haftar" -> Khalifa Haftar; not past an initial: "George W. Bush" is no
        George Bush); by the finer key of a surname no other known person has, alone
        ("Poetin") or after a first name with the known one's consonants ("Aleksandr
        Loekasjenko" -> Alexander Lukashenko; not "Maria Poetin")."""
        self._build()
        key = name_key(name)
        words = translit_key(key).split()
        if not words:
            return None
        found = self._persons.get(" ".join(words))
        middle = key.split()[1:-1]
        if found is None and len(words) > 2 and all(len(word) > 1 for word in middle):
            # Not past an initial: "George W. Bush" is no "George Bush" (article.drops_initials).
            found = self._persons.get(f"{words[0]} {words[-1]}")
        if found is None and consonants(words[-1]) >= MIN_NAME_CONSONANTS:
            surname = self._surnames.get(fine_key(key.rpartition(" ")[2]))
            if surname is not None and (len(words) == 1 or surname[1] in ("", skeleton(words[0]))):
                found = surname[0]
        return found

    def lookup_adjective(self, name: str) -> Alias | None:
        """A language or an adjective/demonym of a place ("Duitse", "Amerikaans", "Libyan"):
        a MISC id with the place as ``related``; None for any other name."""
        self._build()
        key = name_key(name)
        found = self._languages.get(key)
        if found is not None:
            return found
        for stem in demonym_stems(key):
            found = self._adjectives.get(stem)
            if found is not None:
                return found
        return None

    def display(self, ident: str, language: str) -> str | None:
        """The name a source gives ``ident`` in ``language`` (CLDR, a tagged curated name);
        None when none does (the enricher then shows the article's own name for it)."""
        self._build()
        return self._display.get(ident, {}).get(language)

    def _build(self) -> None:
        # Double-checked: one enricher is used by one thread at a time, but the eval command
        # and tests share tables across threads.
        if self._built:
            return
        with self._lock:
            if not self._built:
                self._build_now()
                self._built = True
                release_memory()

    def _build_now(self) -> None:
        packaged: list[Group] = []
        if self._packaged:
            packaged = geonames_groups() + cldr_groups()
            # Once here, before the maps below are built, so the parsed source files are gone
            # before the peak; ``_build`` releases once more for what building left behind.
            release_memory()
        curated: dict[str, Group] = {}
        curated_ids = {group.id for group in self._files}
        for group in self._files:
            for name in group.names:
                curated.setdefault(name_key(name), group)
        places = [g for g in packaged if g.kind != "language"]
        languages = [g for g in packaged if g.kind == "language"]
        renamed = {}
        for group in places:
            old = group.id
            _adopt_curated_id(group, curated)
            if group.kind == "territory":
                renamed[old] = group.id
        territories = {g.id for g in places if g.kind == "territory"}
        for group in places:
            if group.kind == "city" and group.id in territories and group.id not in curated_ids:
                # The city of Luxembourg is not the country: GeoNames and CLDR share the slug.
                group.id = f"{group.id}-city"
        for group in languages:
            if group.related is not None:
                group.related = renamed.get(group.related, group.related)
                group.id = f"misc/{group.related.partition('/')[2]}"
        for group in [*places, *self._files]:
            alias = Alias(group.id, group.label)
            for name in group.names:
                self._aliases[name_key(name)] = alias
        for group in [*places, *languages, *self._files]:
            if group.display:
                self._display.setdefault(group.id, {}).update(group.display)
        for group in languages:
            alias = Alias(group.id, EntityLabel.MISC, group.related)
            for name in group.names:
                self._languages.setdefault(name_key(name), alias)
        self._persons, self._surnames = _person_keys(
            g for g in self._files if g.label is EntityLabel.PER
        )
        self._adjectives = _adjective_stems(
            [g for g in [*places, *self._files] if g.label is EntityLabel.LOC and g.kind != "city"],
            [g for g in languages if g.related is not None],
        )


def release_memory() -> None:
    """Give back what reading the name data freed: the key caches (filled with the sources'
    names, which would keep those strings alive), babel's cache of the locale files read
    (reread on demand should anything else use them), the cyclic garbage, and on glibc the heap
    pages malloc keeps after a burst of allocations (``malloc_trim``; skipped elsewhere)."""
    for cached in (name_key, translit_key, fine_key):
        cached.cache_clear()
    try:
        from babel.localedata import clear_caches  # babel 2.x: CLDR's parsed locale files

        clear_caches()
    except ImportError:
        pass
    gc.collect()
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _adopt_curated_id(group: Group, curated: dict[str, Group]) -> None:
    """Give a packaged group the id and label of the curated line its English or Dutch
    display name is on (never an alternate, nor CLDR's French "Mexico" for Mexico City, so
    no city takes a country's id)."""
    if group.kind == "language":
        return
    for language in ("en", "nl"):
        line = curated.get(name_key(group.display.get(language, "")))
        if line is not None and line.label is not EntityLabel.MISC:
            group.id, group.label = line.id, line.label
            return


def _person_keys(
    groups: Iterable[Group],
) -> tuple[dict[str, Alias], dict[str, tuple[Alias, str]]]:
    """Coarse key of full names -> person, and fine key of surnames -> (person, skeleton of
    the first name). A key two persons share is dropped (it would join them)."""
    full: dict[str, set[str]] = {}
    surnames: dict[str, dict[str, str]] = {}
    for group in groups:
        for name in group.names:
            words = translit_key(name_key(name)).split()
            if not words:
                continue
            if len(words) > 1:
                full.setdefault(" ".join(words), set()).add(group.id)
            if consonants(words[-1]) >= MIN_NAME_CONSONANTS:
                # A one-word name ("Poetin" on a curated line) is a surname: the fine key.
                last = fine_key(name_key(name).rpartition(" ")[2])
                first = skeleton(words[0]) if len(words) > 1 else ""
                surnames.setdefault(last, {}).setdefault(group.id, first)
    return (
        {
            key: Alias(next(iter(ids)), EntityLabel.PER)
            for key, ids in full.items()
            if len(ids) == 1
        },
        {
            key: (Alias(ident, EntityLabel.PER), first)
            for key, people in surnames.items()
            if len(people) == 1
            for ident, first in people.items()
        },
    )


def _adjective_stems(places: Sequence[Group], languages: Sequence[Group]) -> dict[str, Alias]:
    """Stem -> adjective referent ``misc/<place>`` related to the place, from place names
    and from the names of languages named after a place. A stem two places share is dropped;
    a language's stem wins over a place's ("Duits" is Germany's even if a place had it)."""
    found: dict[str, set[str]] = {}
    for group in places:
        for name in group.names:
            for stem in place_stems(name_key(name)):
                if len(stem) >= MIN_STEM:
                    found.setdefault(stem, set()).add(group.id)
    stems = {
        stem: Alias(f"misc/{next(iter(ids)).partition('/')[2]}", EntityLabel.MISC, next(iter(ids)))
        for stem, ids in found.items()
        if len(ids) == 1
    }
    for group in languages:
        alias = Alias(group.id, EntityLabel.MISC, group.related)
        for name in group.names:
            for stem in place_stems(name_key(name)):
                if len(stem) >= MIN_STEM:
                    stems[stem] = alias
    return stems


__all__ = ["CURATED_ALIASES", "LANGUAGES", "Alias", "AliasTable"]
