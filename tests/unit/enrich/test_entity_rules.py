"""entity_rules: BIO grouping, clean-up rules and canonical names, on hand-made token sequences."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from schemas import EntityLabel
from streams.enrich.entity_rules import (
    E5_REPAIRS,
    FROG_REPAIRS,
    Mention,
    Pos,
    Token,
    canonical_names,
    clean_mentions,
    mentions_from_bio,
    mentions_to_entities,
    normalise_name,
    relabel,
    split_at_line_breaks,
    split_at_separators,
    trim_edges,
)

PER, LOC, ORG, MISC = EntityLabel.PER, EntityLabel.LOC, EntityLabel.ORG, EntityLabel.MISC
LABELS = {"PER": PER, "LOC": LOC, "ORG": ORG, "MISC": MISC}


def tokenize(body: str, pos: Sequence[Pos | None] | None = None) -> list[Token]:
    """Whitespace tokens of ``body`` with their offsets, and optional parts of speech."""
    tokens: list[Token] = []
    at = 0
    for i, word in enumerate(body.split()):
        start = body.index(word, at)
        at = start + len(word)
        tokens.append(Token(word, start, at, pos[i] if pos is not None else None))
    return tokens


def mention(body: str, label: EntityLabel, pos: Sequence[Pos | None] | None = None) -> Mention:
    return Mention(tuple(tokenize(body, pos)), label)


def words(m: Mention | None) -> str | None:
    return None if m is None else " ".join(t.text for t in m.tokens)


# --- mentions_from_bio ---------------------------------------------------------------------------


def test_bio_groups_runs_and_maps_labels() -> None:
    tokens = tokenize("Donald Trump sprak in Hanoi met Kim Jong-un")
    tags = ["B-PER", "I-PER", "O", "O", "B-LOC", "O", "B-per", "I-per"]
    got = mentions_from_bio(tokens, tags, LABELS)
    assert [(words(m), m.label) for m in got] == [
        ("Donald Trump", PER),
        ("Hanoi", LOC),
        ("Kim Jong-un", PER),
    ]
    assert (got[0].start, got[0].end) == (0, 12)


def test_bio_is_lenient_and_maps_unknown_types_to_misc() -> None:
    tokens = tokenize("a b c d e")
    # I- after O starts a mention; a change of type inside I- tags starts another; B- after B-
    # of the same type too. PRO is not in the label map: MISC.
    tags = ["I-ORG", "I-LOC", "B-LOC", "B-LOC", "I-PRO"]
    got = mentions_from_bio(tokens, tags, LABELS)
    assert [(words(m), m.label) for m in got] == [
        ("a", ORG),
        ("b", LOC),
        ("c", LOC),
        ("d", LOC),
        ("e", MISC),
    ]


def test_bio_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="tags"):
        mentions_from_bio(tokenize("a b"), ["O"], LABELS)


# --- trimming ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pos", "expected"),
    [
        ("zei Trump", [Pos.VERB, Pos.PROPN], "Trump"),
        ("aldus Trump", [Pos.ADV, Pos.PROPN], "Trump"),
        ("Volgens Trump", [Pos.ADP, Pos.PROPN], "Trump"),
        ("heeft Trump", [Pos.VERB, Pos.PROPN], "Trump"),
        ("dat Trump", [Pos.SCONJ, Pos.PROPN], "Trump"),
        ("Trump zei", [Pos.PROPN, Pos.VERB], "Trump"),
        ("” Kim Jong-un", [Pos.PUNCT, Pos.PROPN, Pos.PROPN], "Kim Jong-un"),
        # Without a part of speech: lower case and the function-word list decide.
        ("zei Trump", None, "Trump"),
        ("aldus Trump", None, "Trump"),
        ("Volgens Trump", None, "Trump"),
        ("Trump ,", None, "Trump"),
        # Name particles and mixed-case names stay.
        ("Vincent van Gogh", None, "Vincent van Gogh"),
        ("iPhone", None, "iPhone"),
        ("Kim Jong-un", None, "Kim Jong-un"),
        # A lower-case word the tagger calls a proper noun is kept.
        ("van Gogh", [Pos.PROPN, Pos.PROPN], "van Gogh"),
        ("Witte Huis", [Pos.ADJ, Pos.PROPN], "Witte Huis"),
    ],
)
def test_trim_edges(text: str, pos: list[Pos | None] | None, expected: str) -> None:
    assert words(trim_edges(mention(text, PER, pos))) == expected


@pytest.mark.parametrize(
    ("body", "name", "expected"),
    [
        # Mid-sentence, a capitalised function word is the name's own: German and Dutch titles.
        ("Dat schreef Die Zeit gisteren.", "Die Zeit", "Die Zeit"),
        ("Ze werkt bij De Morgen in Brussel.", "De Morgen", "De Morgen"),
        # At a sentence's start (also after a quote mark or a colon) it is only capitalised.
        ("Volgens Trump is het klaar.", "Volgens Trump", "Trump"),
        ("Hij zei: „Volgens Trump is het klaar.”", "Volgens Trump", "Trump"),
        ("Het was laat. Aldus Kim in Hanoi.", "Aldus Kim", "Kim"),
    ],
)
def test_trim_edges_keeps_capitalised_words_inside_a_sentence(
    body: str, name: str, expected: str
) -> None:
    start = body.index(name)
    tokens = [t for t in tokenize(body) if start <= t.start < start + len(name)]
    assert words(trim_edges(Mention(tuple(tokens), ORG), body)) == expected


def test_e5_canonical_keeps_a_title_mid_sentence() -> None:
    body = "Het Duitse weekblad Die Zeit meldt dat de Volkskrant het ook schreef."
    tokens = tokenize(body)
    tags = ["O", "B-MISC", "O", "B-ORG", "I-ORG", "O", "O", "B-ORG", "I-ORG", "O", "O", "O"]
    entities = mentions_to_entities(mentions_from_bio(tokens, tags, LABELS), body, E5_REPAIRS)
    assert [(e.text, e.canonical) for e in entities] == [
        ("Duitse", "Duitse"),
        ("Die Zeit", "Die Zeit"),
        ("de Volkskrant", "Volkskrant"),
    ]


def test_trim_edges_drops_a_mention_of_noise_only() -> None:
    assert trim_edges(mention("zei dat", PER)) is None
    assert trim_edges(mention("( )", ORG)) is None


# --- splitting -----------------------------------------------------------------------------------


def test_persons_split_at_en() -> None:
    parts = split_at_separators(mention("Kim en Trump", PER, [Pos.PROPN, Pos.CCONJ, Pos.PROPN]))
    assert [(words(p), p.label) for p in parts] == [("Kim", PER), ("Trump", PER)]
    assert [words(p) for p in split_at_separators(mention("Simon & Garfunkel", PER))] == [
        "Simon",
        "Garfunkel",
    ]


def test_places_and_organisations_keep_en_and_ampersand() -> None:
    assert [words(p) for p in split_at_separators(mention("Bosnië en Herzegovina", LOC))] == [
        "Bosnië en Herzegovina"
    ]
    assert [words(p) for p in split_at_separators(mention("Procter & Gamble", ORG))] == [
        "Procter & Gamble"
    ]


def test_every_label_splits_at_punctuation() -> None:
    parts = split_at_separators(mention("Hanoi , Vietnam", LOC))
    assert [words(p) for p in parts] == ["Hanoi", "Vietnam"]
    assert [words(p) for p in split_at_separators(mention("Ja !", ORG))] == ["Ja"]


def test_split_at_line_breaks() -> None:
    body = "Trump\nKim Jong-un"
    parts = split_at_line_breaks(Mention(tuple(tokenize(body)), PER), body)
    assert [(words(p), p.start, p.end) for p in parts] == [
        ("Trump", 0, 5),
        ("Kim Jong-un", 6, 17),
    ]


# --- relabelling ---------------------------------------------------------------------------------


def test_adjective_only_spans_become_misc() -> None:
    assert relabel(mention("Amerikaanse", LOC, [Pos.ADJ])).label is MISC
    assert relabel(mention("Noord-Koreaanse", LOC, [Pos.ADJ])).label is MISC
    # Without POS the demonym pattern decides, for spans tagged as places only.
    assert relabel(mention("Noord-Koreaanse", LOC)).label is MISC
    assert relabel(mention("Amerikaans", LOC)).label is MISC
    assert relabel(mention("Rose", PER)).label is PER
    assert relabel(mention("Hanoi", LOC)).label is LOC
    assert relabel(mention("Hanoi", LOC, [Pos.PROPN])).label is LOC


def test_known_mistypes_are_fixed() -> None:
    assert relabel(mention("Witte Huis", LOC, [Pos.ADJ, Pos.PROPN])).label is ORG
    assert relabel(mention("Witte  Huis", LOC)).label is ORG
    assert relabel(mention("Buitenlandse Zaken", MISC, [Pos.ADJ, Pos.NOUN])).label is ORG


def test_clean_mentions_applies_all_rules_in_body_order() -> None:
    body = "Volgens Trump en Kim , zei Trump , heeft het Witte Huis Amerikaanse"
    pos = [
        Pos.ADP,
        Pos.PROPN,
        Pos.CCONJ,
        Pos.PROPN,
        Pos.PUNCT,
        Pos.VERB,
        Pos.PROPN,
        Pos.PUNCT,
        Pos.VERB,
        Pos.DET,
        Pos.ADJ,
        Pos.PROPN,
        Pos.ADJ,
    ]
    tokens = tokenize(body, pos)
    raw = [
        Mention(tuple(tokens[0:5]), PER),  # "Volgens Trump en Kim ,"
        Mention(tuple(tokens[5:7]), PER),  # "zei Trump"
        Mention(tuple(tokens[10:12]), LOC),  # "Witte Huis"
        Mention(tuple(tokens[12:13]), LOC),  # "Amerikaanse"
    ]
    got = clean_mentions(reversed(raw), body)
    assert [(m.text(body), m.label) for m in got] == [
        ("Trump", PER),
        ("Kim", PER),
        ("Trump", PER),
        ("Witte Huis", ORG),
        ("Amerikaanse", MISC),
    ]
    for m in got:
        assert m.text(body) == " ".join(t.text for t in m.tokens)


# --- canonical names -----------------------------------------------------------------------------


def test_short_mentions_resolve_to_the_full_name_before_or_after() -> None:
    mentions = [
        ("Trump", PER),
        ("Donald Trump", PER),
        ("Kim", PER),
        ("Kim Jong-un", PER),
        ("Pompeo", PER),
        ("Mike Pompeo", PER),
        ("Trump", PER),
        ("Hanoi", LOC),
    ]
    assert canonical_names(mentions) == [
        "Donald Trump",
        "Donald Trump",
        "Kim Jong-un",
        "Kim Jong-un",
        "Mike Pompeo",
        "Mike Pompeo",
        "Donald Trump",
        "Hanoi",
    ]


def test_resolution_needs_the_same_label_and_whole_words() -> None:
    mentions = [("Trump", ORG), ("Donald Trump", PER), ("Rump", PER), ("Korea", LOC)]
    mentions.append(("Noord-Korea", LOC))
    assert canonical_names(mentions) == ["Trump", "Donald Trump", "Rump", "Korea", "Noord-Korea"]


def test_only_persons_resolve() -> None:
    assert canonical_names([("Korea", LOC), ("Noord Korea", LOC)]) == ["Korea", "Noord Korea"]
    assert canonical_names([("Europese Unie", ORG), ("Raad van de Europese Unie", ORG)]) == [
        "Europese Unie",
        "Raad van de Europese Unie",
    ]
    assert canonical_names([("Europese", MISC), ("Europese Unie", MISC)]) == [
        "Europese",
        "Europese Unie",
    ]


def test_chains_end_at_the_longest_name_and_ties_go_to_the_nearest() -> None:
    mentions = [("Gogh", PER), ("van Gogh", PER), ("Vincent van Gogh", PER)]
    assert canonical_names(mentions) == ["Vincent van Gogh"] * 3
    # "Donald Trump" is no part of "Donald J. Trump": "Trump" has two different candidates.
    mentions = [("Trump", PER), ("Donald Trump", PER), ("Donald J. Trump", PER)]
    assert canonical_names(mentions) == ["Donald Trump", "Donald Trump", "Donald J. Trump"]
    mentions = [("Ivanka Trump", PER), ("Trump", PER), ("Donald Trump", PER), ("Trump", PER)]
    # The first "Trump" is as near to both full names: the earlier one wins.
    expected = ["Ivanka Trump", "Ivanka Trump", "Donald Trump", "Donald Trump"]
    assert canonical_names(mentions) == expected


def test_names_are_normalised() -> None:
    assert normalise_name(" Donald\u00a0 \nTrump ") == "Donald Trump"
    assert normalise_name("Ha\u00adnoi") == "Hanoi"
    assert normalise_name("Kim Jong\u2011un") == "Kim Jong-un"
    assert normalise_name("d\u2019Hondt") == "d'Hondt"
    assert normalise_name("Rene\u0301") == "Ren\u00e9"
    assert canonical_names([("trump", PER), ("Donald  TRUMP", PER)]) == [
        "Donald TRUMP",
        "Donald TRUMP",
    ]


# --- the e5 repairs: labels agree per document, spans stay the tagger's ---------------------------


def _mentions_in(body: str, spans: Sequence[tuple[str, EntityLabel]]) -> list[Mention]:
    found = []
    at = 0
    for text, label in spans:
        start = body.index(text, at)
        at = start + len(text)
        tokens = [Token(t.text, t.start + start, t.end + start) for t in tokenize(text)]
        found.append(Mention(tuple(tokens), label))
    return found


def test_one_label_per_name_in_a_document() -> None:
    body = "Feyenoord won. Bij Feyenoord was het feest. Feyenoord speelt zondag in Rotterdam."
    mentions = _mentions_in(
        body, [("Feyenoord", ORG), ("Feyenoord", LOC), ("Feyenoord", ORG), ("Rotterdam", LOC)]
    )
    entities = mentions_to_entities(mentions, body, E5_REPAIRS)
    assert [(e.text, e.label) for e in entities] == [
        ("Feyenoord", ORG),
        ("Feyenoord", ORG),
        ("Feyenoord", ORG),
        ("Rotterdam", LOC),
    ]
    # A tie keeps each mention's own label.
    tie = _mentions_in(body, [("Feyenoord", ORG), ("Feyenoord", LOC)])
    assert [e.label for e in mentions_to_entities(tie, body, E5_REPAIRS)] == [ORG, LOC]


def test_e5_mentions_keep_the_taggers_span_and_normalise_only_the_canonical_name() -> None:
    body = "De Baai van Heist ligt stil, zei Trump dat de Volkskrant en Donald Trump wisten."
    mentions = _mentions_in(
        body,
        [
            ("De Baai van Heist", LOC),
            ("zei Trump", PER),
            ("de Volkskrant", ORG),
            ("Donald Trump", PER),
        ],
    )
    entities = mentions_to_entities(mentions, body, E5_REPAIRS)
    assert [(e.text, e.canonical) for e in entities] == [
        ("De Baai van Heist", "De Baai van Heist"),
        ("zei Trump", "Donald Trump"),
        ("de Volkskrant", "Volkskrant"),
        ("Donald Trump", "Donald Trump"),
    ]
    assert all(body[e.start : e.end] == e.text for e in entities)
    # Frog's repairs cut the spans themselves.
    frog = mentions_to_entities(mentions, body, FROG_REPAIRS)
    assert [e.text for e in frog] == ["De Baai van Heist", "Trump", "Volkskrant", "Donald Trump"]
