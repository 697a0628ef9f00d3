"""Scoring entity identity: cross-language pairs and within-article joins.

Two files, both names and short sentences written for the purpose (no corpus text), shipped
in ``streams/evaluation/data``:

* pairs (``links-pairs.tsv``): ``category<TAB>label<TAB>English<TAB>Dutch``, one referent a
  line. Each name is linked alone, as the only entity of an English or a Dutch article; a pair
  agrees when both get one id. A false join is two different lines (referents) given one id.
* articles (``links-articles.jsonl``): a text, its entities (``[text, label]``, found in the
  text in order) and which must share an id (``same``), must not (``apart``), or must relate
  (``related``: the first's ``related_id`` is the second's id).

The linker is scored on its own (entities given, not recognised), so the figures say what
linking does, whatever the NER; ``newsstream eval links`` prints them (docs/quality.md).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from schemas import Entity, EntityLabel, Language
from streams.enrich.base import Document, Enricher
from streams.enrich.links.keys import slug
from streams.enrich.links.table import AliasTable

DATA_DIR: Final = Path(__file__).parent / "data"
DEFAULT_PAIRS: Final = DATA_DIR / "links-pairs.tsv"
DEFAULT_ARTICLES: Final = DATA_DIR / "links-articles.jsonl"


class LinksDataError(ValueError):
    """A pairs or articles file is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Pair:
    category: str
    label: EntityLabel
    english: str
    dutch: str


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    language: str
    text: str
    entities: tuple[Entity, ...]
    same: tuple[tuple[int, ...], ...]
    apart: tuple[tuple[int, int], ...]
    related: tuple[tuple[int, int], ...]


@dataclass(slots=True)
class LinksReport:
    """The figures of one run; ``format`` is what the command prints."""

    agree: dict[str, list[int]] = field(default_factory=dict)
    """Category -> [agreeing pairs, pairs]."""
    false_joins: list[tuple[str, list[str]]] = field(default_factory=list)
    """(id, the English names of the different referents given it)."""
    disagreements: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    """(category, English name, its id, Dutch name, its id) of the pairs given two ids."""
    checks: dict[str, list[int]] = field(default_factory=dict)
    """'same'/'apart'/'related' -> [passed, checks]."""
    failed_checks: list[str] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        agreed = sum(a for a, _ in self.agree.values())
        total = sum(n for _, n in self.agree.values())
        return agreed / total if total else 0.0

    def format(self) -> str:
        agreed = sum(a for a, _ in self.agree.values())
        total = sum(n for _, n in self.agree.values())
        lines = [f"cross-language id agreement: {agreed}/{total} = {self.agreement:.3f}"]
        for category, (a, n) in self.agree.items():
            lines.append(f"  {category:<14} {a:>3}/{n:<3} = {a / n:.3f}")
        lines.append(f"false joins (different referents, one id): {len(self.false_joins)}")
        lines.extend(f"  {ident}: {' / '.join(names)}" for ident, names in self.false_joins)
        lines.append("pairs given two ids:")
        lines.extend(f"  {c}: {en} -> {a} | {nl} -> {b}" for c, en, a, nl, b in self.disagreements)
        for kind, (passed, n) in self.checks.items():
            lines.append(f"within articles, {kind}: {passed}/{n}")
        lines.extend(f"  failed: {failure}" for failure in self.failed_checks)
        return "\n".join(lines)


def read_pairs(path: Path) -> list[Pair]:
    """The pairs of a pairs file; raises LinksDataError on a malformed line."""
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4:
            raise LinksDataError(f"{path}:{number}: expected 4 tab-separated fields")
        try:
            label = EntityLabel(fields[1])
        except ValueError:
            raise LinksDataError(f"{path}:{number}: unknown label {fields[1]!r}") from None
        pairs.append(Pair(fields[0], label, fields[2], fields[3]))
    return pairs


def read_cases(path: Path) -> list[Case]:
    """The cases of an articles file; raises LinksDataError when an entity is not in its
    text (in order) or a line is not the format above."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw: dict[str, Any] = json.loads(line)
            text = str(raw["text"])
            entities, at = [], 0
            for surface, label in raw["entities"]:
                start = text.index(surface, at)
                at = start + len(surface)
                entities.append(
                    Entity(text=surface, label=EntityLabel(label), start=start, end=at,
                           canonical=surface)
                )  # fmt: skip
            cases.append(
                Case(
                    str(raw["id"]),
                    str(raw["lang"]),
                    text,
                    tuple(entities),
                    tuple(tuple(group) for group in raw.get("same", ())),
                    tuple((a, b) for a, b in raw.get("apart", ())),
                    tuple((a, b) for a, b in raw.get("related", ())),
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise LinksDataError(f"{path}:{number}: {exc}") from None
    return cases


def _linked(linker: Enricher, text: str, language: str, entities: Sequence[Entity]) -> list[Entity]:
    doc = Document(
        body=text, language=Language(code=language, confidence=1.0), entities=tuple(entities)
    )
    return list(linker.enrich(doc).entities)


def _alone(linker: Enricher, name: str, label: EntityLabel, language: str) -> str | None:
    entity = Entity(text=name, label=label, start=0, end=len(name), canonical=name)
    [linked] = _linked(linker, name, language, [entity])
    return linked.entity_id


def evaluate_links(linker: Enricher, pairs: Sequence[Pair], cases: Sequence[Case]) -> LinksReport:
    """Score ``linker`` (any enricher that sets ``Entity.entity_id``) on pairs and cases."""
    report = LinksReport()
    holders: dict[str, set[int]] = defaultdict(set)
    for n, pair in enumerate(pairs):
        english = _alone(linker, pair.english, pair.label, "en")
        dutch = _alone(linker, pair.dutch, pair.label, "nl")
        counts = report.agree.setdefault(pair.category, [0, 0])
        counts[1] += 1
        if english == dutch:
            counts[0] += 1
        else:
            report.disagreements.append((pair.category, pair.english, str(english), pair.dutch,
                                         str(dutch)))  # fmt: skip
        for ident in (english, dutch):
            if ident is not None:
                holders[ident].add(n)
    report.false_joins = [
        (ident, [pairs[n].english for n in sorted(lines)])
        for ident, lines in holders.items()
        if len(lines) > 1
    ]
    for case in cases:
        linked = _linked(linker, case.text, case.language, case.entities)
        ids = [e.entity_id for e in linked]
        for group in case.same:
            _check(report, "same", len({ids[i] for i in group}) == 1, case, group, ids)
        for a, b in case.apart:
            _check(report, "apart", ids[a] != ids[b], case, (a, b), ids)
        for a, b in case.related:
            related = getattr(linked[a], "related_id", None)
            _check(report, "related", related == ids[b], case, (a, b), ids)
    return report


def _check(
    report: LinksReport,
    kind: str,
    passed: bool,
    case: Case,
    at: Sequence[int],
    ids: list[str | None],
) -> None:
    counts = report.checks.setdefault(kind, [0, 0])
    counts[1] += 1
    if passed:
        counts[0] += 1
    else:
        names = ", ".join(f"{case.entities[i].text}={ids[i]}" for i in at)
        report.failed_checks.append(f"{case.name} ({kind}): {names}")


def key_only_joins(table: AliasTable, names: Iterable[str]) -> tuple[int, list[tuple[str, str]]]:
    """False joins of the person keys: of ``names`` (surnames of people who are not the
    known persons, e.g. frogdata's Dutch family names), those that alone map to a known
    person only by transliteration key, not by being that person's surname. Returns
    (names tried, [(name, id)])."""
    tried, joined = 0, []
    for name in names:
        tried += 1
        found = table.lookup_person(name)
        if (
            found is not None
            and table.lookup(name) is None
            and slug(name) != found.id.rpartition("-")[2]
        ):
            joined.append((name, found.id))
    return tried, joined
