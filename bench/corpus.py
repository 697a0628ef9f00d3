"""Benchmark input: real Dutch news articles when the shared corpus is there, generated otherwise.

The articles come from ``../shared/corpora/dpgmedia2019/articles.jsonl`` (1,438 DPG Media
articles of Feb-Apr 2019; only those of 200-1,500 words are used) plus the two seed articles
shipped in ``streams/samples/articles``. The corpus is read at run time and never copied into
the repository. Without it (a fresh clone) the suite says so and uses generated Dutch-like
articles of the same length range, so it still runs; figures from such a run are not
comparable with corpus runs (the NLP cost depends on the text).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

import orjson

from schemas import ArticleIngested, DatePrecision, encode
from streams.sources.parse import ParsedArticle, article_id_for, parse_article

REPO: Final = Path(__file__).resolve().parents[1]
SEEDS: Final = REPO / "streams" / "samples" / "articles"
DEFAULT_CORPUS: Final = REPO.parent / "shared" / "corpora" / "dpgmedia2019" / "articles.jsonl"
MIN_WORDS: Final = 200
MAX_WORDS: Final = 1500


@dataclass(frozen=True, slots=True)
class Article:
    """One benchmark article (text only; tags make copies unique where one is reused)."""

    name: str
    title: str | None
    body: str
    published: date | None

    @property
    def words(self) -> int:
        return len(self.body.split())

    def tagged(self, tag: str) -> Article:
        """A copy whose content (so whose article id) is unique for ``tag``."""
        title = f"{self.title} [{tag}]" if self.title else f"[{tag}]"
        return Article(f"{self.name}-{tag}", title, self.body, self.published)

    def file_bytes(self) -> bytes:
        """The article as an inbox ``.json`` file."""
        doc: dict[str, str] = {"body": self.body}
        if self.title:
            doc["title"] = self.title
        if self.published:
            doc["published"] = self.published.isoformat()
        return orjson.dumps(doc)

    @property
    def article_id(self) -> str:
        """The id the watcher gives this article's ``.json`` file."""
        return article_id_for(self.title, self.body)

    def event(self) -> ArticleIngested:
        """The ``ArticleIngested`` event the watcher would publish for the article's file."""
        data = self.file_bytes()
        return ArticleIngested(
            article_id=self.article_id,
            source_id=self.name,
            source_path=f"{self.name}.json",
            content_format="json",
            content_sha256=hashlib.sha256(data).hexdigest(),
            title=self.title,
            body=self.body,
            published=(
                datetime(self.published.year, self.published.month, self.published.day, tzinfo=UTC)
                if self.published
                else None
            ),
            published_precision=DatePrecision.DAY if self.published else None,
            ingested_at=datetime.now(UTC),
        )


@dataclass(frozen=True, slots=True)
class Corpus:
    articles: tuple[Article, ...]
    source: str
    """What the articles are, for the report."""
    generated: bool
    """True when the real corpus was absent and the articles are generated."""

    def shortened(self, words: int) -> Corpus:
        """The same articles cut to about their first ``words`` words (quick runs)."""
        cut = tuple(
            Article(a.name, a.title, " ".join(a.body.split()[:words]), a.published)
            for a in self.articles
        )
        return Corpus(cut, f"{self.source}, cut to {words} words", self.generated)

    def take(self, count: int, tag: str, *, start: int = 0) -> list[Article]:
        """``count`` articles from ``start`` on, cycling, each tagged unique for ``tag``."""
        n = len(self.articles)
        return [self.articles[(start + i) % n].tagged(f"{tag}{i}") for i in range(count)]


def load_corpus(path: Path | None = None, *, notice: bool = True) -> Corpus:
    """The seeds plus the corpus articles of 200-1,500 words, or seeds plus generated ones."""
    seeds = list(_seed_articles())
    path = path or DEFAULT_CORPUS
    if path.is_file():
        real = [a for a in _corpus_articles(path) if MIN_WORDS <= a.words <= MAX_WORDS]
        # A fixed shuffle spreads the publishers and the lengths over every prefix.
        random.Random(7).shuffle(real)
        return Corpus(
            tuple(seeds + real),
            f"dpgmedia2019 ({len(real)} articles of {MIN_WORDS}-{MAX_WORDS} words, {path}) "
            f"+ {len(seeds)} seeds",
            generated=False,
        )
    if notice:
        print(
            f"NOTE: the dpgmedia2019 corpus is absent ({path}): using generated Dutch-like "
            "articles; figures are not comparable with runs on the real corpus."
        )
    return Corpus(
        tuple(seeds + generated_articles(400)),
        f"GENERATED (corpus absent at {path}): 400 articles of {MIN_WORDS}-{MAX_WORDS} words "
        f"+ {len(seeds)} seeds",
        generated=True,
    )


def _seed_articles() -> Iterator[Article]:
    for path in sorted(SEEDS.iterdir()):
        parsed = parse_article(path.name, path.read_bytes())
        if isinstance(parsed, ParsedArticle):
            published = parsed.published.date() if parsed.published else None
            yield Article(path.stem, parsed.title, parsed.body, published)


def _corpus_articles(path: Path) -> Iterator[Article]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            doc = json.loads(line)
            published = None
            if isinstance(doc.get("published_at"), str):
                try:
                    published = date.fromisoformat(doc["published_at"][:10])
                except ValueError:
                    published = None
            yield Article(f"dpg{doc['id']}", doc.get("title") or None, doc["text"], published)


# --- generated articles (only when the corpus is absent) -------------------------------------

_PEOPLE: Final = (
    "Mark Rutte",
    "Sigrid Kaag",
    "Wopke Hoekstra",
    "Femke Halsema",
    "Ahmed Aboutaleb",
    "Hugo de Jonge",
    "Jesse Klaver",
    "Lilian Marijnissen",
    "Klaas Knot",
    "Ingrid van Engelshoven",
)
_PLACES: Final = (
    "Amsterdam",
    "Rotterdam",
    "Utrecht",
    "Den Haag",
    "Eindhoven",
    "Groningen",
    "Brussel",
    "Berlijn",
    "Zwolle",
    "Maastricht",
)
_ORGS: Final = (
    "De Nederlandsche Bank",
    "de Tweede Kamer",
    "Philips",
    "ProRail",
    "de gemeenteraad",
    "Ajax",
    "het CBS",
    "de Europese Commissie",
    "Rijkswaterstaat",
    "de FNV",
)
_SUBJECTS: Final = (
    "Het kabinet",
    "De minister",
    "Een woordvoerder",
    "De burgemeester",
    "De onderzoekers",
    "De directie",
    "Omwonenden",
    "De politie",
)
_VERBS: Final = (
    "maakte bekend dat",
    "zei dinsdag dat",
    "verwacht dat",
    "waarschuwt dat",
    "liet weten dat",
    "benadrukte dat",
)
_CLAUSES: Final = (
    "de kosten dit jaar fors hoger uitvallen dan begroot",
    "het plan voor de nieuwe woonwijk voorlopig niet doorgaat",
    "de economie in het eerste kwartaal sterker groeide dan verwacht",
    "er meer geld nodig is voor het onderhoud van bruggen en wegen",
    "de werkloosheid opnieuw is gedaald",
    "de staking langer kan duren dan een week",
    "het onderzoek naar de brand nog niet is afgerond",
    "de uitkomst van de gesprekken voor iedereen een verrassing was",
    "de prijzen van energie de komende maanden blijven stijgen",
    "het aantal reizigers op het spoor weer toeneemt",
)


def generated_articles(count: int, seed: int = 2019) -> list[Article]:
    """``count`` Dutch-like news articles of 200-1,500 words (names, places, organisations)."""
    rng = random.Random(seed)
    articles = []
    for index in range(count):
        target = int(min(MAX_WORDS, max(MIN_WORDS, rng.lognormvariate(5.8, 0.5))))
        paragraphs: list[str] = []
        words = 0
        while words < target:
            sentences = []
            for _ in range(rng.randint(2, 4)):
                sentence = (
                    f"{rng.choice(_SUBJECTS)} van {rng.choice(_ORGS)} in {rng.choice(_PLACES)} "
                    f"{rng.choice(_VERBS)} {rng.choice(_CLAUSES)}, aldus {rng.choice(_PEOPLE)}."
                )
                sentences.append(sentence)
                words += len(sentence.split())
            paragraphs.append(" ".join(sentences))
        title = f"{rng.choice(_PEOPLE)}: {rng.choice(_CLAUSES)}"
        day = date(2019, 2, 1 + index % 28)
        articles.append(Article(f"gen{index:04d}", title, "\n\n".join(paragraphs), day))
    return articles


# --- plumbing payloads ---------------------------------------------------------------------------


_SENTENCE_END: Final = re.compile(r"(?<=[.!?])\s+")


def plumbing_payloads(
    corpus: Corpus, count: int, size: int = 2000, seed: int = 2019
) -> list[tuple[bytes, bytes]]:
    """``count`` (key, value) pairs: ``ArticleIngested`` JSON of about ``size`` bytes each.

    Every event has its own article id and its own body: a seeded random draw of the corpus's
    sentences, cut at a word boundary so that the encoded event is close to ``size``. Distinct
    bodies matter: the worker's stories stage compares each article with its near-duplicates,
    so a few bodies repeated thousands of times (what this once did) measure that search, not
    the plumbing; most news is not a copy of earlier news. (Two draws share a sentence or two
    now and then, as agency copy does; the generated fallback corpus, built from a few
    templates, repeats far more.)
    """
    sentences = [
        sentence.strip()
        for article in corpus.articles
        for sentence in _SENTENCE_END.split(" ".join(article.body.split()))
        if sentence.strip()
    ]
    envelopes: list[tuple[ArticleIngested, int]] = []
    for article in corpus.articles[:64]:
        event = article.event()
        overhead = len(encode(event)) - len(event.body.encode())
        envelopes.append((event, max(64, size - overhead)))
    rng = random.Random(seed)
    pairs = []
    for i in range(count):
        envelope, budget = envelopes[i % len(envelopes)]
        parts: list[str] = []
        length = 0
        while length < budget:
            sentence = rng.choice(sentences)
            parts.append(sentence)
            length += len(sentence.encode()) + 1
        body = " ".join(parts).encode()[:budget].decode("utf-8", "ignore").rsplit(" ", 1)[0]
        article_id = hashlib.sha256(f"plumbing/{seed}/{i}".encode()).hexdigest()[:32]
        value = encode(envelope.model_copy(update={"article_id": article_id, "body": body}))
        pairs.append((article_id.encode(), value))
    return pairs


def balanced_partitions(articles: Sequence[Article], partitions: int) -> list[int]:
    """A partition per article so that every partition gets about the same number of words."""
    load = [0] * partitions
    chosen = [0] * len(articles)
    for index in sorted(range(len(articles)), key=lambda i: -articles[i].words):
        target = min(range(partitions), key=lambda p: (load[p], p))
        chosen[index] = target
        load[target] += articles[index].words
    return chosen
