"""The story-clustering evaluation set: synthetic Dutch and English news reports + the two seeds.

Every text below except the seeds was written for these tests (SYNTHETIC: not copied from any
outlet; outlet names are invented). They retell public events of February/March 2019 and June
2018 in plain words, several times per event, from "different outlets" and in both languages,
so that the expected clustering is known:

* ``hanoi``     the Trump-Kim summit in Hanoi (the two seed articles, which are real Dutch
                reports shipped in ``streams/samples/articles``, plus four synthetic ones)
* ``cohen``     Michael Cohen's testimony to Congress, the same days: another Trump story
* ``emergency`` the House vote against Trump's border emergency, the same week: a third one
* ``kashmir``   India and Pakistan clash over Kashmir, the same days
* ``brexit``    Theresa May offers a vote on delaying Brexit, the same days
* ``klm``       the Dutch state buys into Air France-KLM, the same days
* ``singapore`` the first Trump-Kim summit, in Singapore, eight months earlier: a different
                summit of the same two leaders, outside the 72 h window
* ``ajax``      Ajax beats Real Madrid, a week later

Near-duplicates: ``hanoi-en-wire-2`` and ``klm-nl-anp-2`` repeat a wire text with another
outlet's header line (``DUPLICATES`` maps each to its original).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from schemas import ArticleIngested
from streams.sources.parse import ParsedArticle, parse_article

SAMPLES = Path(__file__).parents[2] / "streams" / "samples" / "articles"


@dataclass(frozen=True, slots=True)
class Fixture:
    key: str
    event: str
    at: str
    """When it is ingested (ISO 8601, UTC): the clustering's time."""
    body: str
    title: str | None = None


SEEDS = {
    "000_7b201681f24eebfa.txt": ("hanoi-nl-seed-1", "2019-02-28T09:10:00"),
    "002_5e518ff5de4b58f3.txt": ("hanoi-nl-seed-2", "2019-02-28T10:05:00"),
}

HANOI_WIRE = (
    "HANOI - The second summit between U.S. President Donald Trump and North Korean leader "
    "Kim Jong-un ended abruptly on Thursday without an agreement. Trump told reporters in "
    "Hanoi that North Korea had demanded that all sanctions be lifted in exchange for closing "
    'only part of its nuclear programme. "Sometimes you have to walk," Trump said. A planned '
    "working lunch and a signing ceremony were cancelled. Secretary of State Mike Pompeo said "
    "the two sides had made real progress but could not get all the way. Trump said Kim had "
    "promised not to resume nuclear and missile tests. The leaders did not set a date for a "
    "third meeting."
)

KLM_WIRE = (
    "Den Haag - De Nederlandse staat heeft een belang van 12,68 procent genomen in Air "
    "France-KLM. Minister Wopke Hoekstra van Financiën maakte dinsdagavond bekend dat het kabinet "
    "voor ongeveer 680 miljoen euro aandelen van het luchtvaartconcern heeft gekocht. Volgens "
    "Hoekstra wil Nederland zo meer invloed krijgen op de toekomst van KLM en van Schiphol. De "
    "Franse regering, die ruim 14 procent van de aandelen bezit, werd pas vlak voor de "
    "aankondiging ingelicht. Het Franse ministerie van Financiën reageerde verbaasd. Het "
    "aandeel Air France-KLM daalde woensdag op de beurs van Parijs met meer dan tien procent."
)

FIXTURES: tuple[Fixture, ...] = (
    # -- singapore: June 2018, far outside the window of the Hanoi summit -----------------
    Fixture(
        "singapore-en-1",
        "singapore",
        "2018-06-12T08:00:00",
        "SINGAPORE - Donald Trump and Kim Jong-un shook hands on the resort island of Sentosa on "
        "Tuesday, the first meeting ever between a sitting American president and a North Korean "
        "leader. The two signed a short document in which North Korea commits to work towards "
        "the complete denuclearisation of the Korean peninsula, while the United States offers "
        "security guarantees. Trump said he would stop the joint military exercises with South "
        "Korea. Critics said the statement was vague and contained no timetable.",
        "Trump and Kim shake hands in Singapore",
    ),
    Fixture(
        "singapore-nl-1",
        "singapore",
        "2018-06-12T11:30:00",
        "Singapore - President Donald Trump en de Noord-Koreaanse leider Kim Jong-un hebben "
        "dinsdag in Singapore een gezamenlijke verklaring ondertekend. Noord-Korea belooft te "
        "werken aan een kernwapenvrij Koreaans schiereiland, de Verenigde Staten geven "
        "veiligheidsgaranties. De ontmoeting in een hotel op het eiland Sentosa was de eerste "
        "tussen een Amerikaanse president en een Noord-Koreaanse leider. Trump noemde Kim "
        "'zeer getalenteerd'. Zuid-Korea reageerde verrast op het nieuws dat de militaire "
        "oefeningen worden stopgezet.",
    ),
    # -- emergency: Tuesday 26 February 2019 ------------------------------------------------
    Fixture(
        "emergency-en-1",
        "emergency",
        "2019-02-26T22:10:00",
        "WASHINGTON - The House of Representatives voted on Tuesday to overturn the national "
        "emergency that President Donald Trump declared to pay for a wall on the border with "
        "Mexico. The resolution passed 245 to 182, with thirteen Republicans joining the "
        "Democrats. Speaker Nancy Pelosi said the president was trying to get around Congress, "
        "which had refused to fund the wall. The measure now goes to the Senate. Trump has said "
        "he will veto it, and the House lacks the votes to override a veto.",
        "House votes to block Trump's border emergency",
    ),
    Fixture(
        "emergency-nl-1",
        "emergency",
        "2019-02-27T06:40:00",
        "Washington - Het Amerikaanse Huis van Afgevaardigden heeft de noodtoestand verworpen "
        "die president Donald Trump afkondigde om een muur aan de grens met Mexico te kunnen "
        "betalen. Met 245 tegen 182 stemmen nam het Huis een resolutie aan; ook dertien "
        "Republikeinen stemden voor. Voorzitter Nancy Pelosi verwijt Trump dat hij het Congres "
        "passeert, dat geen geld voor de grensmuur wilde geven. De Senaat stemt later. Trump "
        "heeft al gezegd dat hij zijn veto zal uitspreken.",
    ),
    Fixture(
        "emergency-en-2",
        "emergency",
        "2019-02-27T13:00:00",
        "Senate Republicans are under growing pressure after the House rejected President "
        "Trump's emergency declaration for the border wall. Several Republican senators, "
        "including Susan Collins and Thom Tillis, said they could support the resolution, "
        "which needs only a simple majority in the Senate. Nancy Pelosi urged the Senate to act "
        "quickly. The White House argues that the situation at the border with Mexico is a "
        "crisis and that the law allows the president to move money from military projects.",
    ),
    # -- cohen: Wednesday 27 February 2019 --------------------------------------------------
    Fixture(
        "cohen-en-1",
        "cohen",
        "2019-02-27T16:30:00",
        "WASHINGTON - Michael Cohen, Donald Trump's former personal lawyer, told the House "
        'Oversight Committee on Wednesday that the president is "a racist, a con man and a '
        'cheat". Cohen testified that Trump knew in advance about the release of hacked '
        "Democratic emails and that he had reimbursed Cohen for hush money paid to Stormy "
        "Daniels. He showed the committee a cheque signed by Trump. Republicans on the "
        "committee called Cohen a convicted liar who is about to go to prison.",
        "Cohen calls Trump a racist and a con man",
    ),
    Fixture(
        "cohen-nl-1",
        "cohen",
        "2019-02-27T19:45:00",
        "Michael Cohen, de voormalige advocaat van Donald Trump, heeft de president in het "
        "Amerikaanse Congres een racist en een oplichter genoemd. Tijdens een verhoor door de "
        "commissie van toezicht van het Huis van Afgevaardigden zei Cohen dat Trump hem het "
        "zwijggeld voor pornoactrice Stormy Daniels heeft terugbetaald. Hij liet een cheque zien "
        "met de handtekening van de president. Republikeinen noemden Cohen een leugenaar; hij "
        "moet in mei de gevangenis in.",
    ),
    Fixture(
        "cohen-en-2",
        "cohen",
        "2019-02-28T07:15:00",
        "Speaking in Hanoi, President Trump dismissed the testimony of his former lawyer "
        "Michael Cohen as lies and said it was a disgrace that the hearing was held during his "
        "summit. Elijah Cummings, who chairs the House Oversight Committee, said Cohen's "
        "evidence about hush money payments to Stormy Daniels and a cheque signed by Trump "
        "would be examined, and that more witnesses from the Trump Organization would be "
        "called.",
    ),
    # -- kashmir: Wednesday 27 February 2019 ------------------------------------------------
    Fixture(
        "kashmir-en-1",
        "kashmir",
        "2019-02-27T10:00:00",
        "ISLAMABAD - Pakistan said on Wednesday it had shot down two Indian military jets over "
        "Kashmir and captured a pilot, a day after Indian warplanes struck what New Delhi "
        "called a militant camp at Balakot. India confirmed that one MiG-21 was lost and its "
        "pilot was missing. Prime Minister Imran Khan called for talks and warned that neither "
        "country could afford a miscalculation. Airports in northern India and Pakistan were "
        "closed.",
        "Pakistan shoots down Indian jets over Kashmir",
    ),
    Fixture(
        "kashmir-nl-1",
        "kashmir",
        "2019-02-27T14:20:00",
        "Islamabad - Pakistan heeft boven Kasjmir twee Indiase gevechtsvliegtuigen "
        "neergeschoten en een piloot gevangengenomen. Een dag eerder voerde India een "
        "luchtaanval uit bij Balakot op wat New Delhi een kamp van militanten noemt. India "
        "bevestigt dat een MiG-21 is neergestort. De Pakistaanse premier Imran Khan roept op "
        "tot gesprekken. Vliegvelden in het noorden van India en in Pakistan zijn gesloten.",
    ),
    Fixture(
        "kashmir-en-2",
        "kashmir",
        "2019-02-28T12:30:00",
        "Imran Khan told parliament in Islamabad that Pakistan would release the captured "
        "Indian pilot, Wing Commander Abhinandan Varthaman, on Friday as a gesture of peace. "
        "The pilot was shot down over Kashmir on Wednesday. India's prime minister Narendra "
        "Modi did not comment directly. The United States and China had urged both countries "
        "to show restraint after the air strikes at Balakot.",
    ),
    # -- klm: Tuesday 26 / Wednesday 27 February 2019 ---------------------------------------
    Fixture("klm-nl-anp-1", "klm", "2019-02-26T20:30:00", "Bron: ANP. " + KLM_WIRE),
    Fixture(
        "klm-nl-anp-2", "klm", "2019-02-26T20:45:00", "Door onze redactie economie. " + KLM_WIRE
    ),
    Fixture(
        "klm-en-1",
        "klm",
        "2019-02-27T09:00:00",
        "PARIS - The Dutch government has bought a 12.7 percent stake in Air France-KLM, "
        "catching the French government by surprise. Dutch finance minister Wopke Hoekstra "
        "said the Netherlands wanted a say in the future of KLM and of Schiphol airport. France "
        "holds just over 14 percent of the airline group. French finance minister Bruno Le "
        "Maire said the move was unfriendly and that the company had to be run in its own "
        "interest. Air France-KLM shares fell by more than ten percent in Paris.",
    ),
    Fixture(
        "klm-nl-2",
        "klm",
        "2019-02-27T17:00:00",
        "Minister Hoekstra verdedigde woensdag in de Tweede Kamer de aankoop van aandelen Air "
        "France-KLM. Volgens de minister moest de operatie geheim blijven om de koers niet te "
        "laten stijgen. De Franse minister Bruno Le Maire noemde de Nederlandse actie "
        "onbegrijpelijk. Oppositiepartijen willen weten wat de 680 miljoen euro moet opleveren "
        "voor KLM en Schiphol.",
    ),
    # -- brexit: Tuesday 26 / Wednesday 27 February 2019 ------------------------------------
    Fixture(
        "brexit-en-1",
        "brexit",
        "2019-02-26T15:00:00",
        "LONDON - Theresa May told the House of Commons on Tuesday that MPs would get a vote on "
        "delaying Brexit if her withdrawal deal is rejected again in March. The prime minister "
        "said any extension of Article 50 should be short and should not go beyond the end of "
        "June. Jeremy Corbyn said Labour would back a second referendum. Several ministers had "
        "threatened to resign if a no-deal Brexit was not ruled out.",
        "May offers MPs a vote on delaying Brexit",
    ),
    Fixture(
        "brexit-nl-1",
        "brexit",
        "2019-02-26T18:30:00",
        "Londen - De Britse premier Theresa May laat het Lagerhuis stemmen over uitstel van de "
        "brexit als haar akkoord met de Europese Unie in maart opnieuw wordt weggestemd. Een "
        "verlenging van artikel 50 moet volgens May kort zijn, hooguit tot eind juni. "
        "Labour-leider Jeremy Corbyn zegt nu een tweede referendum te steunen. Meerdere "
        "ministers dreigden op te stappen als een brexit zonder akkoord niet werd uitgesloten.",
    ),
    Fixture(
        "brexit-nl-2",
        "brexit",
        "2019-02-27T12:00:00",
        "In Brussel wordt voorzichtig gereageerd op het voorstel van Theresa May om de brexit "
        "mogelijk uit te stellen. Een woordvoerder van de Europese Commissie zei dat de Britten "
        "eerst moeten zeggen wat ze willen. Jeremy Corbyn en Labour willen een nieuw referendum. "
        "Het Lagerhuis stemt in maart opnieuw over het akkoord.",
    ),
    # -- hanoi: Wednesday 27 / Thursday 28 February 2019 (+ the two seeds) ----------------
    Fixture(
        "hanoi-en-1",
        "hanoi",
        "2019-02-27T13:30:00",
        "HANOI - Donald Trump and Kim Jong-un greeted each other with a handshake at the "
        "Metropole hotel in Hanoi on Wednesday evening at the start of their second summit. "
        "Over dinner, Trump said the meeting would be very successful and praised the economic "
        "potential of North Korea. Vietnam has closed roads in the centre of the capital. The "
        "talks on the North Korean nuclear programme continue on Thursday.",
        "Trump and Kim meet again, in Hanoi",
    ),
    Fixture(
        "hanoi-en-wire-1", "hanoi", "2019-02-28T08:30:00", "By our correspondent. " + HANOI_WIRE
    ),
    Fixture(
        "hanoi-en-wire-2",
        "hanoi",
        "2019-02-28T08:50:00",
        "From the wires, updated 09:50. " + HANOI_WIRE,
        "Trump-Kim summit collapses",
    ),
    Fixture(
        "hanoi-nl-1",
        "hanoi",
        "2019-02-28T12:00:00",
        "Noord-Korea spreekt Donald Trump tegen. Volgens minister van Buitenlandse Zaken Ri "
        "Yong-ho vroeg Pyongyang in Hanoi alleen om een deel van de sancties op te heffen, en "
        "niet om alle sancties, zoals Trump zei. In ruil daarvoor zou Kim Jong-un het "
        "nucleaire complex Yongbyon sluiten. Trump was toen al vertrokken uit Vietnam.",
    ),
    # -- ajax: Tuesday 5 March 2019 ---------------------------------------------------------
    Fixture(
        "ajax-nl-1",
        "ajax",
        "2019-03-05T22:45:00",
        "Madrid - Ajax heeft Real Madrid in de achtste finales van de Champions League met 1-4 "
        "verslagen in het Santiago Bernabéu. Hakim Ziyech, David Neres, Dusan Tadic en Lasse "
        "Schöne scoorden. Na de 1-2 nederlaag in Amsterdam gaat Ajax door naar de kwartfinales. "
        "Trainer Erik ten Hag sprak van een historische avond.",
    ),
    Fixture(
        "ajax-en-1",
        "ajax",
        "2019-03-06T07:30:00",
        "Ajax knocked holders Real Madrid out of the Champions League with a 4-1 win at the "
        "Santiago Bernabeu. Goals from Hakim Ziyech, David Neres, Dusan Tadic and Lasse Schone "
        "sent the Dutch side into the quarter-finals. Coach Erik ten Hag praised his young "
        "team.",
    ),
)

DUPLICATES = {"hanoi-en-wire-2": "hanoi-en-wire-1", "klm-nl-anp-2": "klm-nl-anp-1"}


def _event(name: str, data: bytes, at: str) -> ArticleIngested:
    parsed = parse_article(name, data)
    assert isinstance(parsed, ParsedArticle), parsed
    event = parsed.to_event(name, hashlib.sha256(data).hexdigest())
    when = datetime.fromisoformat(at).replace(tzinfo=UTC)
    return event.model_copy(update={"ingested_at": when})


def evaluation_set() -> list[tuple[str, str, ArticleIngested]]:
    """(key, expected event, article) for every text, in ingestion order."""
    items: list[tuple[str, str, str, bytes, str]] = []
    for name, (key, at) in SEEDS.items():
        items.append((at, key, "hanoi", (SAMPLES / name).read_bytes(), name))
    for f in FIXTURES:
        data = f.body.encode() if f.title is None else f"# {f.title}\n\n{f.body}\n".encode()
        items.append((f.at, f.key, f.event, data, f.key + (".txt" if f.title is None else ".md")))
    items.sort()
    return [(key, event, _event(name, data, at)) for at, key, event, data, name in items]


@dataclass(frozen=True, slots=True)
class Scores:
    """Clustering quality against the expected events."""

    articles: int
    events: int
    stories: int
    pairwise_precision: float
    pairwise_recall: float
    bcubed_precision: float
    bcubed_recall: float
    purity: float


def score_clustering(expected: dict[str, str], got: dict[str, str]) -> Scores:
    """Compare ``got`` (key -> story) with ``expected`` (key -> event).

    Pairwise: over all pairs of articles, precision = pairs put together that belong together /
    pairs put together; recall = pairs put together that belong together / pairs that belong
    together. B-cubed: per article, the share of its story that is its event (precision) and
    of its event that is in its story (recall), averaged. Purity: per story, its largest event,
    summed over stories, divided by the articles.
    """
    keys = sorted(expected)
    together = same = both = 0
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            g = got[a] == got[b]
            e = expected[a] == expected[b]
            together += g
            same += e
            both += g and e
    b_prec = b_rec = 0.0
    for a in keys:
        story = {k for k in keys if got[k] == got[a]}
        event = {k for k in keys if expected[k] == expected[a]}
        b_prec += len(story & event) / len(story)
        b_rec += len(story & event) / len(event)
    largest = 0
    for story_id in set(got.values()):
        members = [expected[k] for k in keys if got[k] == story_id]
        largest += max(members.count(e) for e in set(members))
    n = len(keys)
    return Scores(
        articles=n,
        events=len(set(expected.values())),
        stories=len(set(got.values())),
        pairwise_precision=both / together if together else 1.0,
        pairwise_recall=both / same if same else 1.0,
        bcubed_precision=b_prec / n,
        bcubed_recall=b_rec / n,
        purity=largest / n,
    )
