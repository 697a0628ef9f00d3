"""The ``entity-links`` enricher: one id per referent, across articles, outlets and languages.

Runs after the entity recogniser (and the language detector). Every entity gets:

* ``entity_id``: the referent. A name is looked up in the tables of ``streams.enrich.links``
  (CLDR countries, territories and languages in Dutch, English, German and French; GeoNames
  cities with their exonyms; the curated file; the user's ``--alias-file``): "VS", "Verenigde
  Staten", "United States" and "Vereinigte Staaten" all give ``loc/united-states``, "Keulen"
  and "Cologne" ``loc/koln``. A person is also found by a transliteration key ("Poetin",
  "Vladimir Poetin" -> ``per/vladimir-putin``). A name no source knows gets an id from its
  normalised name and label (``per/jan-de-vries``), unless the article itself joins it to
  another: an acronym it defines ("Onderzoeksraad voor Veiligheid (OVV)"), a longer name it is
  a short form of ("Kamer" of "Tweede Kamer"), a person's name transliterated otherwise.
* ``related_id``: for an adjective, demonym or language (MISC), the place it belongs to
  ("Amerikaanse", "Amerikaans", "American" are ``misc/united-states`` related to
  ``loc/united-states``).
* ``display_name``: the name to show for the id in the article's language: the sources'
  preferred name ("Verenigde Staten" in Dutch, "United States" in English, never "VS"), else
  the article's own fullest name for it.

Labels are the recogniser's: a name takes a known referent's id only when their kinds agree
("Leeds" tagged as an organisation, a team, does not become the city). Letting the tables fix
labels (Pyongyang as PER -> LOC) was measured through the pipeline and lowered entity F1 on
both CoNLL dev sets, most of all in English sports results (docs/quality.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from schemas import Entity, EntityLabel
from streams.enrich.base import Document, Enricher, EnricherError
from streams.enrich.links.article import Link, join_in_article
from streams.enrich.links.keys import name_key, slug
from streams.enrich.links.sources import LANGUAGES, AliasFileError
from streams.enrich.links.table import CURATED_ALIASES, Alias, AliasTable

LINKS_VERSION: Final = "3"
"""Version of the linking rules (keys, joins, display names); bumped with any change that
changes an id, so ``newsstream replay`` re-derives old articles."""

__all__ = [
    "CURATED_ALIASES",
    "LINKS_VERSION",
    "Alias",
    "AliasFileError",
    "AliasTable",
    "EntityLinker",
    "entity_id",
    "name_key",
]


def entity_id(label: EntityLabel, name: str) -> str:
    """The id of a name the tables do not know: its label and slug (``per/donald-trump``)."""
    return f"{label.value.lower()}/{slug(name)}"


class EntityLinker(Enricher):
    """Gives every entity of ``Document.entities`` its ``entity_id``, ``display_name`` and,
    for adjectives, ``related_id``. Labels are left as the recogniser gave them.

    Deterministic for a given table: the version includes the table's content hash and the
    versions of the packaged name data, so events linked with other names are told apart by
    their provenance.
    """

    name = "entity-links"

    def __init__(self, table: AliasTable | None = None, alias_files: Sequence[Path] = ()) -> None:
        """``table``: the alias table (default: curated file + CLDR + GeoNames +
        ``alias_files``, the user's own, which win). Raises EnricherError when an alias file
        is unreadable or malformed. The packaged name data is read at the first article."""
        try:
            self.table = (
                table if table is not None else AliasTable.load((CURATED_ALIASES, *alias_files))
            )
        except AliasFileError as exc:
            raise EnricherError(str(exc)) from exc
        self.version = f"{LINKS_VERSION}+aliases-{self.table.version}"

    def enrich(self, doc: Document) -> Document:
        entities = doc.entities
        links = join_in_article(doc.body, entities, [self._link(e) for e in entities])
        language = doc.language.code if doc.language is not None else "und"
        shown = self._display_names(entities, links, language)
        return doc.with_(
            entities=tuple(
                entity.model_copy(
                    update={
                        "entity_id": link.id,
                        "label": link.label,
                        "related_id": link.related,
                        "display_name": shown[link.id],
                    }
                )
                for entity, link in zip(entities, links, strict=True)
            )
        )

    def _link(self, entity: Entity) -> Link:
        label = entity.label
        if label is EntityLabel.MISC:
            # Adjectives and languages never take a place's own id, only relate to it.
            adjective = self.table.lookup_adjective(entity.canonical)
            if adjective is not None:
                return Link(adjective.id, label, adjective.related, known=True)
            return Link(entity_id(label, entity.canonical), label)
        alias = self.table.lookup(entity.canonical) or self.table.lookup(entity.text)
        if alias is None and label is EntityLabel.PER:
            alias = self.table.lookup_person(entity.canonical)
        # The label stays the tagger's, read in context: "Leeds" beat "Chelsea" is a team,
        # not the city the name tables know. Overriding labels from the tables lowered F1
        # through the pipeline on both dev sets (docs/quality.md), so a name only takes a
        # known referent's id when the kinds agree.
        if alias is not None and alias.label is label:
            return Link(alias.id, alias.label, alias.related, known=True)
        return Link(entity_id(label, entity.canonical), label)

    def _display_names(
        self, entities: Sequence[Entity], links: Sequence[Link], language: str
    ) -> dict[str, str]:
        """Id -> the name shown: the sources' name in the article's language (English for a
        language we hold no names in), else the article's fullest name for the id."""
        wanted = language if language in LANGUAGES else "en"
        own: dict[str, str] = {}
        for entity, link in zip(entities, links, strict=True):
            best = own.get(link.id)
            if best is None or _fuller(entity.canonical, best):
                own[link.id] = entity.canonical
        return {ident: self.table.display(ident, wanted) or name for ident, name in own.items()}


def _fuller(name: str, than: str) -> bool:
    """Whether ``name`` is the better one to show: not an acronym where the other is, then
    more words, then longer ("Verenigde Staten" over "VS", "Tweede Kamer" over "Kamer")."""

    def rank(text: str) -> tuple[bool, int, int]:
        return (not text.isupper(), len(name_key(text).split()), len(text))

    return rank(name) > rank(than)
