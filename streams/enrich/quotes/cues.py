"""Words and patterns of reporting frames: speech verbs, titles, asides, clause breaks.

Pure functions of text, used by the attribution step (``frames``) for every quote it weighs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from schemas import EntityLabel
from streams.enrich.base import Span
from streams.enrich.quotes.marks import WORD, mark_start, word_count

# Cues of reported speech before a quote. Lower-case words; matched on whole words.
CUES: Final = frozenset(
    {
        # Dutch
        "zei", "zegt", "zeggen", "zeiden", "zeggend", "aldus", "volgens", "noemde", "noemt",
        "noemen", "vond", "vindt", "vinden", "benadrukte", "benadrukt", "verklaarde",
        "verklaart", "vertelde", "vertelt", "stelde", "stelt", "stellen", "schreef", "schrijft",
        "schrijven", "meldde", "meldt", "melden", "antwoordde", "antwoordt", "reageerde",
        "reageert", "voegde", "weten", "waarschuwde", "waarschuwt", "beloofde",
        "belooft", "riep", "roept", "twitterde", "twittert", "tweette", "herhaalde", "erkende",
        "erkent", "ontkende", "bezwoer", "bezweert", "kondigde", "kondigt", "aangekondigd",
        "concludeert", "concludeerde", "oordeelde", "oordeelt", "pleiten", "pleit", "pleitte",
        "klaagt", "klaagde", "constateert", "constateerde", "sprak", "spreekt",
        "gezegd", "verklaard", "gemeld",
        # English
        "said", "says", "say", "told", "tells", "added", "adds", "according", "called",
        "calls", "call", "stated", "states", "wrote", "writes", "replied", "answered", "warned",
        "insisted", "argued", "explained", "tweeted", "asked", "declared", "noted", "spoke",
        "described", "announced",
    }
)  # fmt: skip
# Cues that introduce speech only with a preposition: "sprak van «…»", not "sprak over X".
NEEDS_VAN: Final = frozenset({"sprak", "spreekt", "spoke"})
ACCORDING: Final = frozenset({"volgens", "according"})
PRONOUNS: Final = frozenset({"hij", "zij", "ze", "he", "she", "they"})
# After "volgens" / "according to" a person is named by the object form; the subject form
# it stands for is what pronoun resolution knows.
_OBJECT_PRONOUNS: Final = {"hem": "hij", "haar": "ze", "hen": "ze", "him": "he", "her": "she"}
_ALSO_POSSESSIVE: Final = frozenset({"haar", "her"})
# People a possessive "haar" / "her" may introduce that no title or role ending covers.
_RELATIVES: Final = frozenset(
    {
        "man", "vrouw", "zus", "broer", "zoon", "dochter", "vriend", "vriendin", "partner",
        "ouders", "familie", "husband", "wife", "son", "daughter", "sister", "brother",
        "friend", "family", "parents",
    }
)  # fmt: skip
TITLES: Final = frozenset(
    {
        "president", "premier", "minister", "leider", "dictator", "kanselier", "koning",
        "koningin", "woordvoerder", "woordvoerster", "burgemeester", "ceo", "topman",
        "voorzitter", "secretaris-generaal", "paus", "wethouder", "advocaat", "directeur",
        "trainer", "coach", "bondscoach", "staatssecretaris", "kamerlid", "officier",
        "prime", "chancellor", "leader", "spokesman", "spokeswoman", "spokesperson", "mayor",
        "chairman", "secretary", "senator", "governor",
    }
)  # fmt: skip
SPEAKER_LABELS: Final = frozenset({EntityLabel.PER, EntityLabel.ORG})
# Text the subject of a clause never stands in: parentheses ("Y (GroenLinks)") and relative
# or appositive clauses between commas (", die de familie bijstaat,", ", who met X,"). The
# relative "waar-" words are listed: a prefix would also take verbs (", waarschuwde X").
ASIDE: Final = re.compile(
    r"\([^()]*\)|,\s*(?:die|dat|wiens|wier|waar|waar(?:in|op|mee|bij|door|van|aan|over|na"
    r"|uit|voor|toe|naar|tegen|om)|who|whose|which|where)\b[^,:;]*(?:,|$)"
)
DEFINITE: Final = frozenset({"de", "het", "the"})
INDEFINITE: Final = frozenset({"een", "a", "an"})
PLURAL_OR_FEMININE: Final = frozenset({"ze", "zij", "they"})
BY: Final = re.compile(r"\W*(?:by|door)\s", re.I)
CLAUSE_BREAK: Final = re.compile(r";|,\s*(?:maar|but|terwijl|while|whereas)\b", re.I)
DETERMINERS: Final = (
    DEFINITE
    | INDEFINITE
    | frozenset(
        {"zijn", "haar", "hun", "ons", "onze", "his", "her", "their", "its", "our", "deze", "die"}
    )
)
TITLE_REACH: Final = 40
# Copulas and auxiliaries: a quote right after one is the predicate of the sentence's
# subject, so it is the subject's words even at two words ("X is 'diep teleurgesteld'").
PREDICATE_VERBS: Final = frozenset(
    {
        "is", "was", "zijn", "waren", "wordt", "werd", "worden", "werden", "blijft", "bleef",
        "lijkt", "leek", "voelt", "voelde", "raakt", "raakte", "gaat", "ging", "wil", "wilde",
        "moet", "moest", "kan", "kon", "zal", "zou", "are", "were", "be", "been", "feels",
        "felt", "seems", "seemed", "remains", "remained", "became", "becomes", "will", "would",
    }
)  # fmt: skip
# Words before a name that make it no subject: "praat met X", "de moeder van X", "about X".
PREPOSITIONS: Final = frozenset(
    {
        "van", "met", "over", "tegen", "aan", "voor", "door", "bij", "naar", "om", "op", "in",
        "tot", "of", "with", "about", "to", "for", "by", "at", "from", "on",
    }
)  # fmt: skip
# A sentence after a lone quote that points back at it names its speaker: "Met die woorden
# opende X…", "Zo reageerde X", "Dat zei X", "With those words, X…", "Words of X".
BACK_REFERENCE: Final = re.compile(
    r"\s*(?:(?:met|with)\s+(?:die|deze|those|these)\s+(?:woorden|words)"
    r"|(?:\w+\s+)?woorden\s+van"
    r"|(?:zo|dat|aldus|that|this)\b(?=.{0,40}?\b(?:" + "|".join(sorted(CUES)) + r")\b))",
    re.I,
)
# Common nouns by which a text names an organisation it named before: "liet het bedrijf
# weten" (Decathlon), "schrijft de bond" (the Boa Bond). Not "het rapport": a document, whose
# author the recogniser seldom tags ("de rekenkamercommissie"), so the latest organisation
# named would be a guess.
ORG_NOUNS: Final = frozenset(
    {
        "bedrijf", "onderneming", "universiteit", "bond", "vakbond", "gemeente",
        "organisatie", "stichting", "club", "ministerie", "fonds", "pensioenfonds", "omroep",
        "ziekenhuis", "school", "vereniging", "company", "firm", "union",
        "university", "council", "organisation", "organization", "foundation",
    }
)  # fmt: skip
# Public bodies a text names by a noun and, once, by the noun and their place ("de gemeente
# Eindhoven", "de politie Drenthe"), where the recogniser tags only the place. The police and
# the fire service speak as themselves where no place is given ("aldus de politie"); a
# "gemeente" without one is left to the organisation rules above.
PUBLIC_BODIES: Final = frozenset({"gemeente", "provincie", "politie", "brandweer", "police"})
SPEAKS_AS_ITSELF: Final = frozenset({"politie", "brandweer", "police"})
# Endings of Dutch and English nouns for a person's role or trade ("kunstenaar", "stafchef",
# "socioloog", "oppositievoorman", "gastheer", "the artist"): such a noun right at a speech
# verb refers to a person the text named, as a title does, but no list of titles can hold
# them all. Organisations a text names by a noun ("de gemeente") end otherwise.
ROLE_ENDINGS: Final = (
    "aar", "er", "ist", "eur", "or", "chef", "man", "vrouw", "heer", "loog", "ster", "arts",
    "baas", "lid", "coach", "ent",
)  # fmt: skip
# People a text names by what they are, not by a trade: no ending marks them as persons.
PERSON_NOUNS: Final = (
    "man", "vrouw", "meisje", "jongen", "kind", "moeder", "vader", "zoon", "dochter", "broer",
    "zus", "vriend", "vriendin", "buurman", "buurvrouw", "mens", "persoon", "dame", "meneer",
    "agent", "klant", "gast", "student", "scholier", "collega", "woman", "girl", "boy",
    "child", "mother", "father", "friend", "person", "neighbour", "neighbor", "official",
    "spokesman", "spokeswoman", "woordvoerder", "woordvoerster", "getuige", "witness",
)  # fmt: skip
_ROLE_MIN: Final = 5
"""Shorter words with those endings are no role nouns ("meer", "weer", "over", "voor")."""


def is_role_noun(word: str) -> bool:
    """``word`` reads as a lower-case noun for a person's role: "kunstenaar", "politiechef"."""
    return (
        len(word) >= _ROLE_MIN
        and word.islower()
        and word not in CUES
        and word not in PREPOSITIONS
        and word.endswith(ROLE_ENDINGS)
    )


def object_pronoun(text: str, after: int) -> str | None:
    """The subject pronoun for an object pronoun right after offset ``after`` ("volgens hem"
    -> "hij", "volgens hen" -> "ze"), else None. "haar" / "her" before a noun for a person
    is a possessive: "volgens haar moeder" is the mother's, whom the text does not name."""
    words = WORD.findall(text[after:])
    if not words or words[0].lower() not in _OBJECT_PRONOUNS:
        return None
    pronoun = words[0].lower()
    if pronoun in _ALSO_POSSESSIVE and len(words) > 1:
        noun = words[1].lower()
        if noun in _RELATIVES or noun.rsplit("-", 1)[-1] in TITLES or is_role_noun(noun):
            return None
    return _OBJECT_PRONOUNS[pronoun]


# The Dutch reportive conditional: "De doelen zouden 'onhaalbaar' zijn" states what someone
# claims, not what the writer holds.
_REPORTIVE: Final = frozenset({"zou", "zouden"})


def is_reported(text: str) -> bool:
    """``text`` (a sentence without its quote) is a claim in the reportive "zou" / "zouden"."""
    return any(w.lower() in _REPORTIVE for w in WORD.findall(text))


SCARE_LEAD: Final = re.compile(r"(?:zogenoemde|zogeheten|so-called|het woord|the word)\W*$", re.I)
GLOSS_LEAD: Final = re.compile(
    r"(?:betekent|betekende|betekenen|betekenis|vertaald|vertaling|"
    r"(?:gelezen|uitgesproken) (?:worden )?als|staat voor|stands? for|means|meaning|"
    r"translated as|translates as)(?:\W+\w+){0,3}\W*$",
    re.I,
)
"""What the writer says a word means or how it reads ("Het betekent niet alleen '…'", "kan
gelezen worden als: '…'", "which means '…'"): the quote that follows is a gloss, a sentence
long or not, and nobody's speech."""


WRITERS_IDIOM_TAIL: Final = re.compile(
    r"\W*(?:om het (?:\w+\s+){0,3}te (?:zeggen|noemen|stellen)|"
    r"zoals (?:dat|het|men dat) (?:\w+\s+){0,2}(?:heet|noemt|zegt)|"
    r"as (?:they|people) say|so to speak|as the saying goes)\b",
    re.I,
)
"""The writer flags the quoted words as a figure of speech of their own ("'je borst zwol', om
het maar eens dichterlijk te zeggen", "zoals dat heet", "as they say"): a phrase, not a
source's speech."""


def is_named_thing(head: str, quoted: str) -> bool:
    """One quoted word right after a preposition names a thing ("geld uitgegeven aan
    'regeringsinformatie'", "zorgen over 'achterdeurtjes'", "routepijlen naar 'Jeruzalem'"),
    and so do capitalised words that end no sentence, a title ("de trilogie van 'Kinderen
    van Moeder Aarde'"); unless a speech verb governs the preposition ("spreekt van
    'schande'")."""
    text = quoted.strip()
    title = text[:1].isupper() and text[-1:] not in {".", "!", "?", ","}
    if len(WORD.findall(quoted)) != 1 and not title:
        return False
    if not head.rstrip()[-1:].isalnum():
        return False  # "merkt op: '…'": a colon (or comma) opens speech, whatever word precedes it
    words = [w.lower() for w in WORD.findall(head[-60:])]
    return bool(words) and words[-1] in PREPOSITIONS and not (len(words) > 1 and words[-2] in CUES)


def blank_asides(text: str) -> str:
    """``text`` with asides blanked out (same length, so offsets still hold)."""
    return ASIDE.sub(lambda m: " " * len(m.group()), text)


def has_cue(text: str) -> bool:
    words = [w.lower() for w in WORD.findall(text)]
    for i, word in enumerate(words):
        if word in NEEDS_VAN:
            if i + 1 < len(words) and words[i + 1] in {"van", "of"}:
                return True
        elif word in CUES:
            return True
    return False


def is_partial(body: str, start: int, end: int) -> bool:
    """The quoted text reads as part of the writer's sentence: it starts lower-case, holds a
    clause-sized phrase (three words or more, or two right after a verb that takes a predicate:
    "is 'behoorlijk teleurgesteld'", "gaat 'volledig meedraaien'") and is no noun phrase's
    head: after "de", "een", "zijn" or "the" a quote is an epithet or a name ("de 'koning van
    de weide'"). Two words anywhere else are most often a term ("het thema 'nieuw begin'",
    "see 'red tape'")."""
    before = WORD.findall(body[max(0, start - 20) : mark_start(body, start)])
    if before and before[-1].lower() in DETERMINERS:
        return False
    words = word_count(body, start, end)
    if words == 2:
        return body[start].islower() and bool(before) and before[-1].lower() in PREDICATE_VERBS
    return body[start].islower() and words >= 3


def framed_right_after(body: str, start: int, close_at: int) -> bool:
    """A short quote inside a sentence whose speech verb follows it at once: "het gaat om
    'historisch onrecht', zegt X" / "it was 'deeply unfair', said X". The quote starts
    lower-case and follows no article, so a term a sentence merely mentions ("de 'huiskamer'
    van links-radicaal Nijmegen") does not qualify."""
    verb = WORD.match(body[close_at : close_at + 40].lstrip(", "))
    before = WORD.findall(body[max(0, start - 20) : mark_start(body, start)])
    return (
        body[close_at : close_at + 1] == ","
        and verb is not None
        and verb.group().lower() in CUES
        and body[start].islower()
        and not (before and before[-1].lower() in DETERMINERS)
    )


def clause(head: str) -> str:
    """The clause of ``head`` that holds the quote: after the last ", maar" / ", but" or
    semicolon, so "X was called '…', but farmers see 'red tape'" gives 'red tape' no cue."""
    cut = max((m.end() for m in CLAUSE_BREAK.finditer(head)), default=0)
    return head[cut:]


def after_preposition(text: str) -> bool:
    """``text`` (what precedes a name) ends in a preposition: the name is no subject."""
    words = WORD.findall(text)
    return bool(words) and words[-1].lower() in PREPOSITIONS


def unnamed_after_cue(tail: str) -> bool:
    """The frame after a quote names an unnamed person: ", zegt een vrijwilliger …", ", said a
    resident" (not "een woordvoerder van X", whose X speaks)."""
    cased = WORD.findall(tail)
    words = [w.lower() for w in cased]
    for i, word in enumerate(words[:-1]):
        if word in CUES:
            # "aldus een trotse Pereira": an adjective before a name is no unnamed person.
            # "een Amerikaanse diplomaat", "an American official": a capitalised adjective of
            # a country is.
            named = any(
                w[:1].isupper() and not w.lower().endswith(_COUNTRY_ADJECTIVE)
                for w in cased[i + 2 : i + 4]
            )
            return (
                words[i + 1] in INDEFINITE
                and i + 2 < len(words)
                and words[i + 2].rsplit("-", 1)[-1] not in TITLES
                and spokesperson_for(words[i + 2]) is None
                and not named
            )
    return False


def unnamed_before_colon(head: str) -> bool:
    """A colon frame whose subject is someone unnamed: "…, hoe een (vrouwelijke) demonstrant
    scandeert:", "Een bewoner:", "a protester shouted:". The indefinite article, at most one
    adjective, the noun and at most one verb stand right before the colon, so a name earlier
    in the sentence ("Op beelden van X is te zien hoe …") is not the speaker. Not "een
    woordvoerder van X:" (X speaks) nor "Rutte tegen een verslaggever:" (after a preposition
    the noun is the one spoken to)."""
    if not head.rstrip().endswith(":"):
        return False
    words = WORD.findall(head)[-5:]
    for i, word in enumerate(words[:-1]):
        if word.lower() not in INDEFINITE:
            continue
        rest = words[i + 1 :]
        if len(rest) > 3 or not all(w.islower() for w in rest):
            continue
        if i > 0 and words[i - 1].lower() in PREPOSITIONS:
            return False
        return not any(
            w.rsplit("-", 1)[-1] in TITLES or spokesperson_for(w) is not None for w in rest
        )
    return False


_COUNTRY_ADJECTIVE: Final = ("se", "sche", "an", "ish", "ch", "ese", "i")
"""Endings of Dutch and English adjectives of countries and peoples ("Amerikaanse", "Franse",
"Belgische", "American", "British", "Dutch", "Chinese", "Israeli")."""
_SPOKESPERSON: Final = ("woordvoerder", "woordvoerster")
SPOKESPEOPLE: Final = frozenset({*_SPOKESPERSON, "spokesman", "spokeswoman", "spokesperson"})
OF: Final = re.compile(r"\s+(?:van|of)\b", re.I)


def spokesperson_for(word: str) -> str | None:
    """The organisation a Dutch compound spokesperson speaks for: "politiewoordvoerder" ->
    "politie", "OM-woordvoerder" -> "OM"; None for any other word. A spokesperson speaks for
    the one named, so the organisation is the speaker."""
    lowered = word.lower()
    for suffix in _SPOKESPERSON:
        if lowered.endswith(suffix) and len(word) > len(suffix) + 1:
            return word[: -len(suffix)].rstrip("-")
    return None


def is_attribution_tail(body: str, end: int, tail: str) -> bool:
    """``tail`` (after the closing mark) attributes the quote: ", zegt X", "”, lacht ze",
    or, after a comma, '?' or '!' inside the marks, '" zegt X' and '” X said'."""
    text = tail.lstrip()
    first = WORD.match(text.lstrip(", "))
    if first is None:
        return False
    if text.startswith(",") or body[end : end + 1] == "," or body[end - 1 : end] in {"?", "!"}:
        return True
    return first.group().lower() in CUES


def sentence_of(sentences: Sequence[Span], offset: int) -> int:
    for index, span in enumerate(sentences):
        if span.start <= offset < span.end:
            return index
    # Between sentences (a mark the splitter left out): the next sentence, or the last one.
    for index, span in enumerate(sentences):
        if offset < span.start:
            return index
    return len(sentences) - 1


_TERM_WORD_MIN: Final = 4
"""Shorter words ("de", "van", "het") are shared by any two phrases and prove nothing."""
_TERM_MAX_WORDS: Final = 3


def repeated_terms(body: str, spans: Sequence[tuple[int, int]]) -> set[tuple[int, int]]:
    """The quoted spans of one or two words that share a word with another short quoted span
    of the same article: "een 'voorwaardelijk sepot'" and later "'voorwaardelijk'
    geseponeerd", "de 'gele hesjes'" four times. A writer who quotes the same word again is
    discussing a term, not repeating a source's phrase; a source's evaluative phrase ("een
    'geweldige melodie'") is quoted once. A span that ends a sentence inside its marks
    ("Dag, meneer.") is an utterance, however short, and is never a term."""
    words: list[set[str]] = []
    for start, end in spans:
        found = WORD.findall(body[start:end])
        short = len(found) <= _TERM_MAX_WORDS
        words.append({w.casefold() for w in found if len(w) >= _TERM_WORD_MIN} if short else set())
    terms: set[tuple[int, int]] = set()
    for index, (start, end) in enumerate(spans):
        if word_count(body, start, end) > 2 or body[start:end].rstrip()[-1:] in {".", "!", "?"}:
            continue
        if any(words[index] & other for at, other in enumerate(words) if at != index):
            terms.add((start, end))
    return terms
