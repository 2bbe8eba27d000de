"""Deterministic news copy for the benchmark farm: outlets, headlines, HTML summaries, syndication.

Everything here is a pure function of a seed and an index, so the same farm is generated on every
run and in every process. An entry is drawn from its own random stream (seed, feed, serial), so a
feed's entries do not depend on the order they are generated in. A share of entries are
syndicated copies of one agency story carried by several outlets: the headline edited a little,
the link either the agency's own URL with tracking parameters or the outlet's own URL.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

PLACES = (
    "Lisbon Fujian Oslo Kerala Sumatra Hokkaido Lagos Lima Quito Cairo Dakar Hanoi Perth Bergen Porto Nairobi "
    "Manila Tbilisi Valparaiso Gdansk Accra Busan Tromso Cebu Seville Halifax Darwin Kobe Mombasa Riga Geneva "
    "Osaka Leeds Lyon Turin Krakow Durban Recife Cordoba Tashkent Almaty Yerevan Baku Muscat Doha Amman Beirut "
    "Tunis Rabat Kigali Lusaka Harare Maputo Windhoek Colombo Dhaka Kathmandu Ulaanbaatar Vientiane Suva Apia "
    "Reykjavik Tallinn Vilnius Ljubljana Zagreb Sarajevo Skopje Tirana Chisinau Minsk Helsinki Aarhus Malmo Graz "
    "Antwerp Utrecht Bilbao Galway Cardiff Quebec Winnipeg Tijuana Oaxaca Medellin Asuncion Montevideo"
).split()
SUBJECTS = (
    "minister;central bank;port workers;airline;chipmaker;regulators;court;parliament;police;rescuers;farmers;"
    "league;coach;striker;researchers;health officials;exporters;unions;voters;senate;utility;startup;carmaker;"
    "shipping group;refinery;museum;university;festival;mayor;teachers;doctors;miners;pilots;bankers;insurer;"
    "pension fund;telecom operator;railway;water board;election commission;prosecutors;customs;navy;coastguard;"
    "zoo;orchestra;publisher;brewer;steelmaker;grid operator;space agency;weather service;tax office;"
    "competition watchdog;data regulator;city council;governor;opposition;coalition;retailer;supermarket chain;"
    "drugmaker;hospital trust;school board;fishing fleet;wine growers;dockers;taxi drivers"
).split(";")
VERBS = (
    "weighs;rejects;approves;delays;expands;cuts;probes;backs;warns on;plans;halts;defends;unveils;extends;"
    "scraps;reviews;doubles;targets;settles;faces;revives;blocks;speeds up;tightens;eases;freezes;bans;"
    "restores;shelves;launches;loses;wins;sues over;rules on;votes on;pledges;denies;confirms;questions;"
    "reopens;closes;sells;buys;slashes;raises;trims;challenges;resumes;postpones;signs"
).split(";")
NOUNS = (
    "border trade deal rates fuel subsidies jet order chip factory oil exports solar tariff flood defences "
    "drought relief rice harvest budget strike talks vaccine rollout rail link coal title race transfer window "
    "satellite data rules wage housing bill water prices fishing quotas merger tax credits bond port steel "
    "duties pension reform ferry route bridge tunnel metro line airport runway toll road grid upgrade battery "
    "plant wind farm nuclear plant gas pipeline copper mine lithium project cobalt gold reserves grain corridor "
    "fertiliser imports coffee crop cocoa prices sugar quota dairy herd salmon farms timber logging licence "
    "mobile network spectrum auction broadband plan cyber attack outage recall safety probe emissions target "
    "carbon levy plastic ban recycling scheme heatwave wildfire landslide earthquake cyclone monsoon snowfall "
    "avalanche drought ceasefire peace talks sanctions embargo treaty summit visa rules asylum policy census "
    "referendum recount coalition deal leadership contest impeachment corruption case bribery trial appeal "
    "verdict extradition amnesty curfew protest march strike ballot pay offer bonus cap layoffs hiring freeze "
    "shutdown takeover bid stake sale listing dividend buyback profit warning earnings rebound slump inflation "
    "deflation currency peg yen euro dollar rupee peso lira shares index futures yields mortgage rent cap "
    "tourism season cruise ships hotel tax museum loan art theft stadium plan final semifinal derby record "
    "doping ban marathon regatta tournament draw squad captain manager contract injury comeback debut "
    "vaccine trial cancer drug malaria outbreak measles cases hospital beds nurse shortage waiting lists "
    "school meals exam results university fees research grant telescope rover launch window orbit probe "
    "fossil find glacier melt coral bleaching species count bird migration forest cover river levels"
).split()
CLAUSES = (
    "after late-night talks;as prices climb;despite protests;amid record heat;ahead of vote;in surprise move;"
    "as deadline nears;after court ruling;as talks stall;for second year;amid supply worries;as costs mount;"
    "after weekend storms;in first since 2019;under pressure from lenders;after months of delays;"
    "as investors fret;in boost for exporters;in blow to government;after audit;as demand slows;"
    "before election;after fatal crash;in landmark case;as rivals merge;amid staff shortages;"
    "as tourists return;after data leak;as rates rise;amid border tensions"
).split(";")
SYLLABLES = (
    ("ka", "lo", "mer", "san", "vel", "tor", "bri", "dun", "fa", "gal", "hal", "ish", "jor", "kes", "lun", "mor",
     "nes", "ost", "pra", "rav"),
    ("ri", "va", "den", "qu", "ste", "ma", "lo", "ne", "tra", "bel", "co", "di"),
    ("n", "x", "ra", "lia", "ton", "do", "mo", "sen", "vik", "ard", "is", "ek"),
)  # fmt: skip
WORDS = (
    "the officials said on monday that talks would continue through week while analysts expected decision before "
    "markets opened prices rose sharply in early trading after announcement and several groups called for an "
    "independent review of figures released by ministry residents described long queues at fuel stations "
    "spokesperson declined to comment further timetable agency reported output fell third month row government "
    "plans budget deficit narrowed faster than forecast economists warned growth could slow next year exports "
    "factory orders recovered slowly coalition partners disagreed over spending cuts opposition leader demanded "
    "inquiry into contract awarded without tender local council approved new housing estate near river despite "
    "objections from environmental campaigners farmers reported smaller harvest because of dry spring heavy rain "
    "later flooded low-lying fields insurers estimate damage will exceed last record set decade ago scientists "
    "published study showing glacier retreat accelerated since measurements began researchers tracked thousands "
    "seabirds across northern coast using tiny satellite tags club confirmed striker signed three-year contract "
    "undisclosed fee coach praised young squad after narrow victory away from home fans celebrated late winner "
    "hospital waiting lists grew again nurses union threatened strike unless pay offer improved health minister "
    "promised extra funding winter clinics vaccine uptake among older people remained high startup raised fresh "
    "capital investors led expansion into european markets chipmaker shares jumped quarterly revenue beat "
    "estimates regulators opened investigation into pricing practices airline cancelled flights staff shortages "
    "airport operator apologised passengers stranded overnight rail operator announced timetable changes from "
    "december museum reopened renovated gallery exhibition drew record crowds festival organisers unveiled lineup "
    "court ruled company must compensate workers judges rejected appeal lawyers said they would consider options "
    "police arrested suspects following raids across city prosecutors charged former executive with fraud "
    "storm knocked out power thousands homes engineers worked through night restore supply mayor declared "
    "emergency schools closed roads blocked fallen trees forecasters expect calmer weather weekend"
).split()
FIRST = "Ana Bruno Chen Dara Emeka Farah Goran Hana Ines Jonas Kenji Lena Mateo Nia Omar Priya Rui Sofia Tomas Yara"
LAST = "Silva Okafor Tanaka Berg Nguyen Haddad Novak Costa Mensah Park Larsen Moreau Ito Santos Kowalski Reyes"
OUTLET_FIRST = "Harbour Meridian Pacific Continental Northern Coastal Capital Evening Morning Atlantic Union Valley"
OUTLET_LAST = "Daily Post Ledger Observer Courier Herald Dispatch Tribune Gazette Monitor Wire Times"
DESKS = ("world", "business", "tech", "science", "sports", "politics", "health", "culture")
AGENCIES = ("globalwire", "newsagency", "presswire")
# How often a new entry is a copy of an agency story, and how far apart copies may be (pool slots).
SYNDICATED_SHARE = 0.15
POOL_MINUTES = 3
POOL_SPREAD = 2


@dataclass(frozen=True)
class Outlet:
    """One feed's publisher and desk, and how it writes its feed."""

    index: int
    name: str
    host: str
    desk: str
    atom: bool
    size: int
    gap_minutes: float
    full_content: bool
    permalink_guids: bool
    tracking_links: bool
    ttl: int | None


@dataclass(frozen=True)
class Story:
    """One entry's copy, before it is written as RSS or Atom."""

    guid: str
    title: str
    link: str
    published: datetime
    author: str
    categories: tuple[str, ...]
    summary_html: str
    content_html: str
    syndicated: bool


def outlet(seed: int, index: int) -> Outlet:
    """The publisher, desk and feed habits of feed `index`."""
    rng = random.Random(f"{seed}:outlet:{index}")
    name = f"{rng.choice(OUTLET_FIRST.split())} {rng.choice(OUTLET_LAST.split())}"
    host = f"www.{name.lower().replace(' ', '')}{index}.example"
    kind = rng.random()
    # A fifth of feeds are busy wires, half are regular desks, the rest publish a few items a day.
    gap = rng.uniform(2, 10) if kind < 0.2 else rng.uniform(20, 90) if kind < 0.7 else rng.uniform(180, 1440)
    return Outlet(
        index=index,
        name=name,
        host=host,
        desk=rng.choice(DESKS),
        atom=rng.random() < 0.4,
        size=rng.randint(50, 70),
        gap_minutes=gap,
        full_content=rng.random() < 0.1,
        permalink_guids=rng.random() < 0.7,
        tracking_links=rng.random() < 0.3,
        ttl=rng.choice((None, None, 15, 30, 60)),
    )


def name(rng: random.Random) -> str:
    """A person's or a company's name, one of about three thousand."""
    return "".join(rng.choice(part) for part in SYLLABLES).capitalize()


def figure(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"{rng.randint(1, 99)}.{rng.randint(0, 9)}%"
    if kind == 1:
        return f"${rng.randint(1, 900)}{rng.choice(('m', 'bn'))}"
    return f"{rng.randint(2, 9999):,}"


def headline(rng: random.Random) -> str:
    """A wire headline from one of a few shapes, over a vocabulary of some thousands of words and names."""
    place, subject, verb, clause = rng.choice(PLACES), rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(CLAUSES)
    first, second = rng.sample(NOUNS, 2)
    shape = rng.randrange(5)
    if shape == 0:
        return f"{place} {subject} {verb} {first} {second}"
    if shape == 1:
        return f"{name(rng)} {verb} {first} {second} {clause}"
    if shape == 2:
        return f"{subject.capitalize()} in {place} {verb} {figure(rng)} {first} {second}"
    if shape == 3:
        return f"{place}: {name(rng)} {verb} {first} {second} {clause}"
    return f"{name(rng)} and {name(rng)} {verb} {first} {second} in {place}"


def sentence(rng: random.Random, low: int = 8, high: int = 16) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high))).capitalize() + "."


def slug(title: str) -> str:
    return "-".join("".join(c for c in word if c.isalnum()) for word in title.lower().split()[:8])


def story(seed: int, source: Outlet, serial: int, published: datetime, epoch: datetime) -> Story:
    """Entry `serial` of `source`: its own copy, or (a share of the time) a syndicated agency story."""
    rng = random.Random(f"{seed}:entry:{source.index}:{serial}")
    if rng.random() < SYNDICATED_SHARE:
        return _syndicated(seed, source, serial, published, epoch, rng)
    title = headline(rng)
    link = f"https://{source.host}/{source.desk}/{published:%Y/%m/%d}/{slug(title)}-{serial}"
    if source.tracking_links:
        link += f"?utm_source=rss&utm_medium=feed&utm_campaign={source.desk}"
    return Story(
        guid=_guid(source, serial, link),
        title=title,
        link=link,
        published=published,
        author=_person(rng),
        categories=_categories(rng, source),
        summary_html=summary_html(rng, source, link),
        content_html=content_html(rng, source) if source.full_content else "",
        syndicated=False,
    )


def _syndicated(
    seed: int, source: Outlet, serial: int, published: datetime, epoch: datetime, rng: random.Random
) -> Story:
    # The agency story nearest this entry's time, give or take a few slots: copies cluster in time.
    slot = int((epoch - published) / timedelta(minutes=POOL_MINUTES)) + rng.randint(-POOL_SPREAD, POOL_SPREAD)
    agency = random.Random(f"{seed}:pool:{slot}")
    original = headline(agency)
    wire = AGENCIES[slot % len(AGENCIES)]
    lead = sentence(agency, 18, 30)
    filed = epoch - timedelta(minutes=POOL_MINUTES * slot)
    canonical = f"https://www.{wire}.example/article/{filed:%Y%m%d}/{slug(original)}-{slot}"
    if rng.random() < 0.5:
        link = f"{canonical}?utm_source={source.host}&utm_medium=rss&utm_campaign=syndication"
    else:
        link = f"https://{source.host}/{wire}/{slug(original)}-{slot}"
    summary = f"<p>{rng.choice(PLACES).upper()} ({wire.upper()}) &#8212; {lead}</p><p>{sentence(rng)}</p>"
    return Story(
        guid=_guid(source, serial, link),
        title=_edited(original, rng, wire),
        link=link,
        published=filed + timedelta(minutes=rng.randint(0, 45)),
        author=f"{wire.title()} staff",
        categories=_categories(rng, source),
        summary_html=summary,
        content_html=content_html(rng, source) if source.full_content else "",
        syndicated=True,
    )


def _edited(title: str, rng: random.Random, wire: str) -> str:
    """An outlet's edit of an agency headline: a prefix, a suffix, a dropped clause or none."""
    choice = rng.randrange(5)
    if choice == 0:
        return f"UPDATE {rng.randint(1, 3)}-{title}"
    if choice == 1:
        return f"{title} - {wire.title()}"
    if choice == 2:
        return title.rsplit(" ", 2)[0]
    if choice == 3:
        return title.title()
    return title


def _guid(source: Outlet, serial: int, link: str) -> str:
    if source.atom:
        return f"tag:{source.host},2026:{source.desk}/{serial}"
    return link if source.permalink_guids else f"{source.host}-{source.desk}-{serial}"


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST.split())} {rng.choice(LAST.split())}"


def _categories(rng: random.Random, source: Outlet) -> tuple[str, ...]:
    extra = rng.sample(DESKS, rng.randint(0, 2))
    return tuple(dict.fromkeys([source.desk.title(), *(d.title() for d in extra)]))


def summary_html(rng: random.Random, source: Outlet, link: str) -> str:
    """Two or three paragraphs with links, emphasis and sometimes a picture, as newsrooms write them."""
    tag = rng.choice(WORDS)
    parts = [
        f"<p><strong>{rng.choice(PLACES)}</strong> &#8212; {sentence(rng)} "
        f'<a href="https://{source.host}/tag/{tag}">{tag}</a> {sentence(rng, 6, 14)}</p>'
    ]
    if rng.random() < 0.35:
        parts.append(f"<p>{sentence(rng)} <em>{sentence(rng, 4, 8)}</em></p>")
    if rng.random() < 0.25:
        parts.append(
            f'<figure><img src="https://img.{source.host}/{rng.randrange(10**9)}.jpg" alt="{sentence(rng, 3, 6)}" '
            'width="640" height="360"/></figure>'
        )
    if rng.random() < 0.4:
        parts.append(f'<p><a href="{link}" style="font-weight:bold">Read more</a></p>')
    return "".join(parts)


def content_html(rng: random.Random, source: Outlet) -> str:
    """A full article body (a few feeds carry one): several paragraphs and a pull quote."""
    paragraphs = [f"<p>{sentence(rng)} {sentence(rng)}</p>" for _ in range(rng.randint(3, 5))]
    paragraphs.insert(2, f"<blockquote><p>&#8220;{sentence(rng, 8, 14)}&#8221;</p></blockquote>")
    return "".join(paragraphs)
