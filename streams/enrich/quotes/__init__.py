"""Quote attribution (the ``quotes-rules`` enricher): direct quotes and who said them, in Dutch
and English news. ``marks`` finds the quoted spans, ``speakers`` prepares the mentions that
can speak, ``cues`` holds the words of reporting frames, ``frames`` attributes the quotes,
``enricher`` is the pipeline step.

Runs after the sentence splitter and the entity recogniser. Three steps:

1. Quoted spans: „…”, “…”, "…", ‘…’, ’…’, '…', ,,…'' (the old Dutch newspaper style) and «…»,
   paired within a paragraph, across sentences. A single quote counts only at a word edge, so
   the apostrophes of "zo'n", "Trump's" or "’s avonds" never open or close a quote, and a
   closing '' is consumed whole, so the text between two closing '' is never a quote.
2. The reporting frame of the quote's own sentence, tried in this order:
   - after the quote, when nothing but marks comes before it: ", zegt X", ", aldus X",
     "”, lacht ze", ", said X", "” X said": the first speaker named in that clause;
   - before it, with a speech cue ("zei", "noemde", "liet weten", "said", "called") or a
     colon: "volgens X" / "according to X" names X; otherwise the subject, the first person
     or organisation of the clause, where text in parentheses ("Y (GroenLinks) zei") and
     relative clauses (", die de familie bijstaat,") are skipped. So the speaker is the one
     the verb belongs to, not the nearest name, and partial quotes inside reported speech
     ("X zei dat ze het plan 'onuitvoerbaar' vindt") are X's.
   A pronoun is the most recent speaker (or else the most recent person named); a title
   ("de minister", "zijn woordvoerder") is the person the article introduced with it.
3. A quote that is its own sentence continues: the previous sentence's quote speaker, else
   that sentence's first person, else the most recent speaker of the paragraph.

Round three (rules 3) adds: a lone quote whose next sentence points back at it ("Met die
woorden opende X…", "Zo reageerde X") is X's, and a lone quote that opens the article with no
such sentence is a motto, not emitted; a partial quote with no speech verb ("X is 'een beetje
flabbergasted'") is the subject's when it starts lower-case, has three words or more and does
not follow an article; a pronoun is the subject of the sentence before, nobody when that
subject is unnamed ("De moeder van Sarah", "een bewoner"); a quote after an unnamed speaker
("zegt een vrijwilliger", "A resident was less sure.") gets no speaker; a first name alone
becomes the article's full name for that person.

Round four (rules 4) adds: a quote over several paragraphs, re-opened at each and closed only
at the end, is one quote a paragraph with one speaker, also where the corpus flattened the
breaks; a straight " may close with ''; "de (beduusde) Spanjaard", "de Sloveen", "the
Spaniard" is the person named last within about two sentences; ", zegt Duitsland" / "Germany
said" makes the place the speaker; "politiewoordvoerder" speaks for "politie"; a name cut at a
particle is completed ("Frie" + "van Rijsbergen"); a title is the person it introduced before
it, not after; two quoted words after a copula ("is 'diep teleurgesteld'") and a short quote
whose speech verb follows at once ("'historisch onrecht', zegt X") are speech.

Round five (rules 5) adds: "het bedrijf", "de bond", "the union" is the organisation named
before (the latest whose name holds the noun, else the latest); an acronym the text defines
("Openbaar Ministerie (OM)") speaks under the long name; "de woordvoerder van X" and, after
"een woordvoerder van X", "zegt hij" are X; a title with "van <place>" that no name introduced
("de burgemeester van Cairo") is someone unnamed; an organisation right before a person
("minister van Volksgezondheid Agnes Buzyn") qualifies the person, who speaks; the article's
first quote, alone after an unquoted question, is an interview's answer by the person the
lead names first.

Round six (rules 6) adds: a short quote sharing a word with another quoted term of the article
is a term, not speech, even inside a speech frame ("een 'voorwaardelijk sepot'", later
"'voorwaardelijk' geseponeerd"); a lower-case role noun after "de" / "the" right at a speech
verb (", zegt de kunstenaar", "zei de stafchef", "the artist said") is the person a "<role>
<name>" introduced, else whom a pronoun there would be; a sentence opened by an indefinite
subject ("Een van de ambtenaren … richt zich tot X") has an unnamed speaker; "aldus een
trotse Pereira" names Pereira ("een Amerikaanse diplomaat" still names nobody).

Round seven (rules 7) adds: a bare surname before a colon frame ("Verschuur: '…'"), left
untagged, is the person the article named in full before; an indefinite subject right before a
colon ("hoe een demonstrant scandeert:") is someone unnamed; "de gemeente" / "de politie" is
the body the text named with its place ("de gemeente Eindhoven"), and the police speak as
themselves; "volgens hem / haar / hen" is whom the subject pronoun would be ("volgens haar
moeder" is not); a clause opened by a prepositional phrase has its subject after the verb ("In
De Telegraaf zei hij:"); a quote of three words or more in a reportive "zou" sentence right
after a quoted speaker goes on with that speaker's claim.

Round eight (rules 8) adds: a one-word name after an age or adjective ("de 20-jarige Stanley")
that the article also uses without the article, or after an article in another phrase ("de
sociologie. Blom"), is a name and not a demonym noun; a possessive before a title that is no
spokesperson ("legt zijn advocaat uit") is someone other than the possessor; a quote mark glued
to a full stop ("ontzetting."Ik …") starts its own sentence, so the sentence before is no frame.

Round nine (rules 9) adds: a sentence opened by "een" is someone unnamed only when a person's
noun follows ("een bewoner", "een ooggetuige", "een van de …"); "Een confrontatie waar hij …"
and "Een shock pad moet …" name a thing, so the person before stays the speaker.

A quoted term with no frame inside a sentence ("de 'Brusselse elite'", "a "poll tax"") is a
scare quote or a title, not speech: it is not emitted. Neither is a quote of one or two words
whose frame names no speaker ("Critics call it a 'poll tax'").

Speakers are canonical names from the entity recogniser ("Trump" -> "Donald Trump"), with
their entity id when the ``entity-links`` enricher ran before.
"""

from __future__ import annotations

from streams.enrich.quotes.enricher import RULES_VERSION, QuoteExtractor
from streams.enrich.quotes.marks import MAX_QUOTE_CHARS, find_quotes

__all__ = ["MAX_QUOTE_CHARS", "RULES_VERSION", "QuoteExtractor", "find_quotes"]
