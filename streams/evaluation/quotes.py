"""Scoring quote extraction and attribution on a hand-checked dev set (what ``newsstream eval
quotes`` prints).

The dev set is a JSON-lines file, one item a line:

- a corpus article, by reference only (the corpus text is never copied into this project):
  ``{"id", "source": "dpgmedia2019", "batch", "article": <id>, "lang", "quotes": [{"start", "end",
  "sha1", "speaker"}], "not_quotes": [{"start", "end", "sha1"}], "ignore": [...]}``; offsets
  index the article's ``text``, ``sha1`` is the first 10 hex digits of the SHA-1 of
  ``text[start:end]`` (UTF-8) and is checked at load time, so a different copy of the corpus
  fails loudly instead of scoring the wrong spans;
- a text written for the dev set: ``{"id", "source": "written", "batch", "lang", "text", "quotes":
  [{"text", "speaker"}], "not_quotes": [{"text"}]}``; each quoted ``text`` occurs once in
  ``text``.

``batch`` is the labelling round that added the item (1 when absent): a batch's figures
measured before the rules were tuned on it are the nearest thing to a held-out score, so the
report keeps each batch apart.

``speaker`` is a name, a list of names (any of them is right: "A and B said") or null (the text
names nobody). ``not_quotes`` are quoted terms that are no speech (scare quotes, titles,
glosses): emitting one is counted. ``ignore`` marks spans the annotator could not decide
(pulled-out subheadings, quoted written notices): predictions there count neither way.

Counting rules:

- a predicted quote *matches* a gold quote when their overlap covers at least half of each
  span; gold quotes are matched in text order to the first such unmatched prediction;
- precision = matched / predictions outside ``ignore`` spans; recall = matched / gold;
- speaker accuracy is over matched quotes: a gold null wants a null prediction; a gold name
  wants a predicted canonical name that equals it (case-insensitive) or contains its last word
  (the surname: "Van Loon" for "Ellen van Loon", "Korteling" for "Willem Korteling") as a word;
- a scare quote is *emitted* when a prediction covers at least half of a ``not_quotes`` span.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import Quote

CORPUS_SOURCE = "dpgmedia2019"
WRITTEN_SOURCE = "written"
DEFAULT_DEV_SET = Path(__file__).resolve().parent / "data" / "quotes_dev.jsonl"
_WORD = re.compile(r"\w+")


class DevSetError(ValueError):
    """The dev set or the corpus it refers to cannot be read as described; the message says
    which file and line, and what to do."""


@dataclass(frozen=True, slots=True)
class GoldQuote:
    start: int
    end: int
    speakers: tuple[str, ...]
    """Any of these is the right speaker; empty when the text names nobody."""


@dataclass(frozen=True, slots=True)
class DevItem:
    """One scored text: its body and the hand-checked spans in it."""

    id: str
    source: str
    lang: str
    body: str
    quotes: tuple[GoldQuote, ...]
    not_quotes: tuple[tuple[int, int], ...] = ()
    ignore: tuple[tuple[int, int], ...] = ()
    batch: int = 1
    """The labelling round that added the item (see the module docstring)."""


def span_digest(text: str) -> str:
    """The ``sha1`` a corpus reference stores for ``text``: 10 hex digits of its SHA-1."""
    # A check against a different corpus copy, not security: SHA-1 is plenty.
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:10]


def load_dev_set(path: Path, corpus: Path | None, *, written_only: bool = False) -> list[DevItem]:
    """The items of the dev set at ``path``, bodies loaded.

    ``corpus`` is dpgmedia2019's ``articles.jsonl``; it is needed when the dev set refers to
    corpus articles, unless ``written_only`` drops those items. Raises DevSetError, with a
    message fit for the user, when a file is missing or malformed, or when a reference does
    not match the corpus text.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DevSetError(f"{path}: no such dev set file") from None
    raw: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DevSetError(f"{path}:{number}: not JSON: {exc}") from None
        if not isinstance(entry, dict):
            raise DevSetError(f"{path}:{number}: an item is a JSON object")
        raw.append((number, entry))
    wanted = {
        int(entry["article"])
        for _, entry in raw
        if entry.get("source") == CORPUS_SOURCE and not written_only
    }
    texts = _corpus_texts(corpus, wanted) if wanted else {}
    items = []
    for number, entry in raw:
        where = f"{path}:{number}"
        try:
            if entry.get("source") == CORPUS_SOURCE:
                if not written_only:
                    items.append(_corpus_item(entry, texts, where))
            elif entry.get("source") == WRITTEN_SOURCE:
                items.append(_written_item(entry, where))
            else:
                raise DevSetError(f"{where}: unknown source {entry.get('source')!r}")
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, DevSetError):
                raise
            raise DevSetError(f"{where}: malformed item: {exc!r}") from None
    return items


def _corpus_texts(corpus: Path | None, wanted: set[int]) -> dict[int, str]:
    hint = (
        "the dev set refers to dpgmedia2019 articles by id and offsets (their text is not "
        "shipped): pass the corpus's articles.jsonl (this project's copy is "
        "../shared/corpora/dpgmedia2019/articles.jsonl), or score only the written items"
    )
    if corpus is None:
        raise DevSetError(hint)
    texts: dict[int, str] = {}
    try:
        with corpus.open(encoding="utf-8") as lines:
            for line in lines:
                article = json.loads(line)
                if int(article["id"]) in wanted:
                    texts[int(article["id"])] = str(article["text"])
    except FileNotFoundError:
        raise DevSetError(f"{corpus}: no such file; {hint}") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DevSetError(f"{corpus}: not dpgmedia2019's articles.jsonl ({exc!r})") from None
    missing = sorted(wanted - texts.keys())
    if missing:
        raise DevSetError(f"{corpus}: lacks the dev set's articles {missing[:5]} ...")
    return texts


def _speakers(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"speaker is a name, a list of names or null, not {value!r}")


def _corpus_item(entry: Mapping[str, Any], texts: Mapping[int, str], where: str) -> DevItem:
    body = texts[int(entry["article"])]

    def span(ref: Mapping[str, Any]) -> tuple[int, int]:
        start, end = int(ref["start"]), int(ref["end"])
        if not 0 <= start < end <= len(body) or span_digest(body[start:end]) != ref["sha1"]:
            raise DevSetError(
                f"{where}: span {start}-{end} of article {entry['article']} is not the "
                "annotated text: a different copy or version of the corpus?"
            )
        return start, end

    return DevItem(
        id=str(entry["id"]),
        source=CORPUS_SOURCE,
        lang=str(entry.get("lang", "nl")),
        body=body,
        quotes=tuple(GoldQuote(*span(q), _speakers(q["speaker"])) for q in entry["quotes"]),
        not_quotes=tuple(span(ref) for ref in entry.get("not_quotes", ())),
        ignore=tuple(span(ref) for ref in entry.get("ignore", ())),
        batch=int(entry.get("batch", 1)),
    )


def _written_item(entry: Mapping[str, Any], where: str) -> DevItem:
    body = str(entry["text"])

    def span(ref: Mapping[str, Any]) -> tuple[int, int]:
        quoted = str(ref["text"])
        if body.count(quoted) != 1:
            raise DevSetError(f"{where}: {quoted!r} must occur exactly once in the item's text")
        start = body.index(quoted)
        return start, start + len(quoted)

    return DevItem(
        id=str(entry["id"]),
        source=WRITTEN_SOURCE,
        lang=str(entry["lang"]),
        body=body,
        quotes=tuple(GoldQuote(*span(q), _speakers(q["speaker"])) for q in entry["quotes"]),
        not_quotes=tuple(span(ref) for ref in entry.get("not_quotes", ())),
        ignore=tuple(span(ref) for ref in entry.get("ignore", ())),
        batch=int(entry.get("batch", 1)),
    )


def spans_match(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """The overlap of ``a`` and ``b`` covers at least half of each."""
    return _covers_half(a, b) and _covers_half(b, a)


def _covers_half(predicted: tuple[int, int], gold: tuple[int, int]) -> bool:
    overlap = min(predicted[1], gold[1]) - max(predicted[0], gold[0])
    return overlap > 0 and 2 * overlap >= gold[1] - gold[0]


def speaker_matches(predicted: str | None, gold: Sequence[str]) -> bool:
    """The rule in the module docstring: null for null; else equal, or contains the surname."""
    if not gold or predicted is None:
        return not gold and predicted is None
    words = {w.casefold() for w in _WORD.findall(predicted)}
    for name in gold:
        surname = _WORD.findall(name)
        if predicted.casefold() == name.casefold() or (surname and surname[-1].casefold() in words):
            return True
    return False


@dataclass
class Counts:
    """Counts of one group of items (all, or one source and language)."""

    gold: int = 0
    predicted: int = 0
    matched: int = 0
    speaker_right: int = 0
    scare_gold: int = 0
    scare_emitted: int = 0

    def add(self, other: Counts) -> None:
        self.gold += other.gold
        self.predicted += other.predicted
        self.matched += other.matched
        self.speaker_right += other.speaker_right
        self.scare_gold += other.scare_gold
        self.scare_emitted += other.scare_emitted

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 0.0

    @property
    def speaker_accuracy(self) -> float:
        return self.speaker_right / self.matched if self.matched else 0.0


@dataclass(frozen=True, slots=True)
class Mistake:
    """One thing the extractor got wrong, for ``--show-errors``."""

    item: str
    kind: str
    """'missed', 'spurious', 'speaker' or 'scare'."""
    text: str
    expected: str
    got: str


@dataclass
class QuoteReport:
    """The scores of one run over a dev set; ``groups`` keys are "source/lang"; ``batches``
    cuts the same items by labelling round: "batch N" and "batch N source"."""

    total: Counts = field(default_factory=Counts)
    groups: dict[str, Counts] = field(default_factory=dict)
    batches: dict[str, Counts] = field(default_factory=dict)
    mistakes: list[Mistake] = field(default_factory=list)
    articles: int = 0
    seconds: float = 0.0
    """Time spent in the quote extractor itself (not NER), for the whole dev set."""

    def format(self) -> str:
        lines = [
            f"items {self.articles}; gold quotes {self.total.gold}, predicted "
            f"{self.total.predicted}, matched {self.total.matched} "
            "(span rule: overlap >= 50% of both spans)",
            f"{'group':<22}{'gold':>6}{'pred':>6}{'prec':>8}{'recall':>8}{'speaker':>9}"
            f"{'scare':>8}",
        ]
        rows = [*sorted(self.groups.items()), *sorted(self.batches.items()), ("all", self.total)]
        for name, c in rows:
            lines.append(
                f"{name:<22}{c.gold:>6}{c.predicted:>6}{c.precision:>8.3f}{c.recall:>8.3f}"
                f"{c.speaker_accuracy:>9.3f}{c.scare_emitted:>4}/{c.scare_gold:<3}"
            )
        lines.append(
            "speaker: accuracy over matched quotes (name equal or containing the gold surname; "
            "null for null); scare: quoted terms emitted as quotes / quoted terms"
        )
        if self.articles and self.seconds:
            lines.append(f"quotes-rules: {1000 * self.seconds / self.articles:.2f} ms/item")
        return "\n".join(lines)


def score_item(item: DevItem, predicted: Sequence[Quote]) -> tuple[Counts, list[Mistake]]:
    """Counts and mistakes of ``predicted`` (one item's quotes) against the item's gold."""
    counts = Counts(gold=len(item.quotes), scare_gold=len(item.not_quotes))
    mistakes: list[Mistake] = []
    spans = [
        q
        for q in predicted
        if not any(_covers_half((q.start, q.end), span) for span in item.ignore)
    ]
    counts.predicted = len(spans)
    free = list(spans)
    for gold in item.quotes:
        expected = " | ".join(gold.speakers) or "None"
        match = next(
            (q for q in free if spans_match((q.start, q.end), (gold.start, gold.end))), None
        )
        if match is None:
            mistakes.append(
                Mistake(item.id, "missed", item.body[gold.start : gold.end], expected, "")
            )
            continue
        free.remove(match)
        counts.matched += 1
        if speaker_matches(match.speaker, gold.speakers):
            counts.speaker_right += 1
        else:
            mistakes.append(Mistake(item.id, "speaker", match.text, expected, str(match.speaker)))
    for scare in item.not_quotes:
        hit = next((q for q in spans if _covers_half((q.start, q.end), scare)), None)
        if hit is not None:
            counts.scare_emitted += 1
            mistakes.append(Mistake(item.id, "scare", hit.text, "no quote", str(hit.speaker)))
            if hit in free:
                free.remove(hit)
    mistakes.extend(Mistake(item.id, "spurious", q.text, "no quote", str(q.speaker)) for q in free)
    return counts, mistakes


def evaluate_quotes(
    items: Sequence[DevItem],
    extract: Callable[[Sequence[str]], tuple[Sequence[Sequence[Quote]], float]],
) -> QuoteReport:
    """Score ``extract`` on ``items``.

    ``extract`` takes the bodies and returns each body's quotes (in order) and the seconds its
    quote step took; the CLI passes the enrichment pipeline the worker runs.
    """
    predictions, seconds = extract([item.body for item in items])
    report = QuoteReport(articles=len(items), seconds=seconds)
    for item, predicted in zip(items, predictions, strict=True):
        counts, mistakes = score_item(item, predicted)
        report.total.add(counts)
        report.groups.setdefault(f"{item.source}/{item.lang}", Counts()).add(counts)
        report.batches.setdefault(f"batch {item.batch}", Counts()).add(counts)
        report.batches.setdefault(f"batch {item.batch} {item.source}", Counts()).add(counts)
        report.mistakes.extend(mistakes)
    return report
