"""Seeded, short, realistic Dutch news articles for the fault suite (no corpus needed).

Every article has a unique sentence with its number, so every file has its own article id;
the same seed always gives the same texts.
"""

from __future__ import annotations

import random
from pathlib import Path

from streams.sources.parse import article_id_for

_PEOPLE = [
    "Mark Rutte",
    "Sigrid Kaag",
    "Wopke Hoekstra",
    "Hugo de Jonge",
    "Femke Halsema",
    "Ahmed Aboutaleb",
    "Kim Jong-un",
    "Donald Trump",
    "Angela Merkel",
    "Emmanuel Macron",
]
_PLACES = [
    "Amsterdam",
    "Rotterdam",
    "Den Haag",
    "Utrecht",
    "Eindhoven",
    "Groningen",
    "Brussel",
    "Berlijn",
    "Hanoi",
    "Parijs",
]
_ORGS = ["Philips", "ING", "de Tweede Kamer", "de NS", "Ajax", "PSV", "de Europese Unie", "KLM"]
_OPENINGS = [
    "{person} heeft dinsdag in {place} gesproken over de plannen van {org}.",
    "In {place} is woensdag een overleg geweest tussen {person} en {org}.",
    "{org} maakte donderdag bekend dat {person} volgende week naar {place} reist.",
    "Volgens {person} moet {org} meer investeren in de regio rond {place}.",
]
_MIDDLES = [
    "De gesprekken verliepen volgens betrokkenen in een goede sfeer.",
    "Critici waarschuwen dat de kosten hoger kunnen uitvallen dan verwacht.",
    "De gemeenteraad wil nog voor de zomer een besluit nemen.",
    "Omwonenden reageren verdeeld op het nieuws.",
    "Het kabinet zegt de ontwikkelingen nauwlettend te volgen.",
    "Eerder dit jaar liep een vergelijkbaar plan vast op de financiering.",
    "De vakbonden eisen duidelijkheid over de gevolgen voor het personeel.",
    "Analisten verwachten dat de beurs positief zal reageren.",
]


def dutch_article(number: int, rng: random.Random) -> str:
    """One article body of about 60-90 words, unique through its number."""
    person, place, org = rng.choice(_PEOPLE), rng.choice(_PLACES), rng.choice(_ORGS)
    opening = rng.choice(_OPENINGS).format(person=person, place=place, org=org)
    middle = " ".join(rng.sample(_MIDDLES, 4))
    closing = f"Het gaat om dossier {number}, dat {person} eerder al een prioriteit noemde."
    return f"{opening} {middle} {closing}"


def write_articles(inbox: Path, count: int, seed: int, start: int = 0) -> dict[str, str]:
    """Write ``count`` articles as ``.txt`` files; returns file name -> article id."""
    rng = random.Random(seed)
    inbox.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for number in range(start, start + count):
        body = dutch_article(number, rng)
        name = f"artikel-{number:04d}.txt"
        (inbox / name).write_text(body + "\n", encoding="utf-8")
        written[name] = article_id_for(None, body)
    return written
