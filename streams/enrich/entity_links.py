"""The ``entity-links`` enricher: one id per referent, across articles, outlets and languages.

Runs after the entity recogniser. Each entity's canonical name (then its surface text) is
looked up in an alias table: "VS", "Verenigde Staten", "Amerika", "United States" and "USA"
all give ``loc/united-states``. An entity the table does not know gets an id from its
normalised name and label (``per/donald-trump``), so the same name gets the same id
everywhere, and two referents with one name (a person and a place) stay apart.

The table is built from:

* ``data/aliases.tsv`` in this package: the curated list (countries, capitals, organisations
  and people in the news, in Dutch and English);
* Debian's frogdata name lists (``/usr/share/frog/nld``: Dutch places, provinces, European
  countries) when installed: they make place names the tagger took for persons places again
  unless the name holds a Dutch first name;
* the user's own file in the curated format (``--alias-file``), whose lines win.

A curated name also fixes the label of an entity that is exactly that name (Pyongyang as
PER becomes LOC, Witte Huis as LOC becomes ORG); adjectives and demonyms are MISC and never
match a place ("Amerikaanse" is not ``loc/united-states``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from schemas import Entity, EntityLabel
from streams.enrich.base import Document, Enricher, EnricherError

log = logging.getLogger(__name__)

LINKS_VERSION: Final = "1"
CURATED_ALIASES: Final = Path(__file__).parent / "data" / "aliases.tsv"
FROGDATA_DIR: Final = Path("/usr/share/frog/nld")
# Dutch place lists of frogdata and the prefix each line carries.
_FROG_PLACES: Final = {
    "plaatsen-nld.ner": "",
    "landen-europa.ner": "",
    "provincies-nld.ner": "Provincie ",
    "gemeenten-nld.ner": "Gemeente ",
}
_FROG_FIRST_NAMES: Final = "voornamen.ner"
# Not the family-name list: most Dutch place names are also somebody's surname (Utrecht,
# Zwolle), and a lone surname tagged as a person is rarer in news than a town mistaken for one.


class AliasFileError(ValueError):
    """An alias file could not be read; the message names the file and line."""


def name_key(text: str) -> str:
    """The form names are compared in: no accents, case or punctuation; hyphens are spaces.

    "V.S." and "VS" -> "vs"; "Noord-Korea" -> "noord korea"; "België" -> "belgie".
    """
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = re.sub(r"[.'’`]", "", plain.casefold())
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


def entity_id(label: EntityLabel, name: str) -> str:
    """The id of a name the table does not know: its label and slug (``per/donald-trump``)."""
    return f"{label.value.lower()}/{name_key(name).replace(' ', '-') or 'unnamed'}"


@dataclass(frozen=True, slots=True)
class Alias:
    id: str
    label: EntityLabel


class AliasTable:
    """Normalised name -> referent. Later sources override earlier ones, name by name."""

    def __init__(self) -> None:
        self._aliases: dict[str, Alias] = {}
        self._places: set[str] = set()
        self._first_names: set[str] = set()
        self._digest = hashlib.sha256()

    @classmethod
    def load(
        cls,
        files: Sequence[Path] = (CURATED_ALIASES,),
        frogdata: Path | None = FROGDATA_DIR,
    ) -> AliasTable:
        """The curated file, then frogdata (if the directory exists), then ``files[1:]``."""
        table = cls()
        if files:
            table.add_file(files[0])
        if frogdata is not None and frogdata.is_dir():
            table.add_frogdata(frogdata)
        else:
            log.info("frogdata name lists not found at %s: Dutch places not added", frogdata)
        for path in files[1:]:
            table.add_file(path)
        return table

    @property
    def version(self) -> str:
        """Changes whenever any source changes: part of the enricher version."""
        return self._digest.hexdigest()[:12]

    def __len__(self) -> int:
        return len(self._aliases)

    def add_file(self, path: Path) -> None:
        """Lines ``id<TAB>label<TAB>name|name...``; ``#`` comments and blank lines skipped."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AliasFileError(f"cannot read alias file {path}: {exc.strerror}") from None
        self._digest.update(data)
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
            for name in names.split("|"):
                key = name_key(name)
                if key:
                    self._aliases[key] = Alias(ident, label)

    def add_frogdata(self, directory: Path) -> None:
        for file_name, prefix in _FROG_PLACES.items():
            for name in _lines(directory / file_name, self._digest):
                self._places.add(name_key(name.removeprefix(prefix)))
        self._first_names.update(name_key(n) for n in _lines(directory / _FROG_FIRST_NAMES, None))
        self._places.discard("")

    def lookup(self, name: str) -> Alias | None:
        return self._aliases.get(name_key(name))

    def is_only_a_place(self, name: str) -> bool:
        """A frogdata place name that is no Dutch first or family name."""
        key = name_key(name)
        return key in self._places and not any(part in self._first_names for part in key.split())


def _lines(path: Path, digest: hashlib._Hash | None) -> Iterable[str]:
    if not path.is_file():
        return []
    data = path.read_bytes()
    if digest is not None:
        digest.update(data)
    return [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]


class EntityLinker(Enricher):
    """Gives every entity of ``Document.entities`` its ``entity_id`` (and fixes known labels).

    Deterministic for a given table: the version includes the table's content hash, so
    events linked with another table are told apart by their provenance.
    """

    name = "entity-links"

    def __init__(self, table: AliasTable | None = None, alias_files: Sequence[Path] = ()) -> None:
        """``table``: the alias table (default: curated file + frogdata + ``alias_files``,
        the user's own, which win). Raises EnricherError when an alias file is unreadable
        or malformed."""
        try:
            self.table = (
                table if table is not None else AliasTable.load((CURATED_ALIASES, *alias_files))
            )
        except AliasFileError as exc:
            raise EnricherError(str(exc)) from exc
        self.version = f"{LINKS_VERSION}+aliases-{self.table.version}"

    def enrich(self, doc: Document) -> Document:
        return doc.with_(entities=tuple(self._link(e) for e in doc.entities))

    def _link(self, entity: Entity) -> Entity:
        label = entity.label
        alias = self.table.lookup(entity.canonical) or self.table.lookup(entity.text)
        if alias is not None and label is not EntityLabel.MISC:
            return entity.model_copy(update={"entity_id": alias.id, "label": alias.label})
        if label is EntityLabel.PER and self.table.is_only_a_place(entity.canonical):
            label = EntityLabel.LOC
        return entity.model_copy(
            update={"entity_id": entity_id(label, entity.canonical), "label": label}
        )
