"""Sentences for the e5 model tests."""

from __future__ import annotations

# Sentences written for these tests (no corpus text), short and long, Dutch and English, as
# words (split at the spaces below).
SENTENCES = [
    sentence.split()
    for sentence in (
        "Premier Mark Rutte sprak dinsdag in Den Haag met de Europese Commissie .",
        "Angela Merkel visited Microsoft in Seattle on Monday .",
        "Ajax won zondag met 3-1 van PSV in de Johan Cruijff ArenA .",
        "De minister van Buitenlandse Zaken , Wopke Hoekstra , reist naar Washington .",
        "Volgens Reuters wil Shell zijn hoofdkantoor naar Londen verhuizen .",
        "Het kabinet , de Tweede Kamer en de Raad van State spraken in Brussel , Parijs en "
        "Berlijn met vertegenwoordigers van de Verenigde Naties over de Nederlandse plannen .",
        "Ja .",
    )
]


# Written for these tests (no corpus text): economic news in Dutch and English whose tone is
# plain. The model gets others wrong (see its MODEL_CARD.md): these are the obvious cases.
NEGATIVE = [
    "De werkloosheid is opnieuw fors gestegen en duizenden banen gaan verloren.",
    "Beurskoersen kelderen door angst voor een nieuwe crisis.",
    "Unemployment soared again as thousands of jobs were lost.",
]


POSITIVE = [
    "Het consumentenvertrouwen is gestegen naar het hoogste niveau in jaren.",
    "Bedrijven maken recordwinsten en nemen veel nieuw personeel aan.",
    "The economy is booming and companies are hiring at a record pace.",
]


NEUTRAL = ["Het rapport verschijnt volgende week.", "The meeting starts at nine o'clock."]
