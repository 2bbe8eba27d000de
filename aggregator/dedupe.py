"""Identity and sameness, pure: canonical URLs, item keys, content hashes, story matching by headline.

- A *source URL* is normalised lightly (scheme and host case, default port, fragment), because two
  feeds that differ by `www.` or query may really be different feeds.
- An *article URL* is canonicalised hard (https, no `www.`/`m.`, no tracking parameters, sorted
  query, no trailing slash), because wires hand out the same article under many spellings.
- An item's key inside its source: its id/guid; else its canonical link; else a hash of title,
  date and summary.
- A headline is normalised (case, accents, punctuation and wire decorations such as "UPDATE 2-"
  and " | Outlet" removed); two reports are compared by their words, names and figures, in
  headline and summary; see "Story matching" below.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import struct
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aggregator import romanise
from aggregator.exceptions import InvalidURLError
from aggregator.types import Entry

DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that only track the reader; removing them never changes the article.
TRACKING_PARAMETERS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "ocid",
        "cmpid",
        "ref",
        "ref_src",
        "rss",
        "cmp",
        "ito",
        "smid",
        "partner",
        "src",
        "feature",
        "igshid",
        "_ga",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "at_medium",
        "at_campaign",
        "wt.mc_id",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "guccounter",
        "amp",
    }
)
TRACKING_PREFIXES = ("utm_",)

_WIRE_PREFIX = re.compile(
    r"^\s*(?:(?:UPDATE|REFILE|CORRECTED|EXCLUSIVE|RPT|WRAPUP|ANALYSIS|FACTBOX|INSTANT VIEW)"
    r"(?:\s*\d+)?\s*[-:]\s*|(?:BREAKING|Breaking|Roundup|ROUNDUP|Update|Live)\s*:\s*|\((?:LEAD|URGENT|2ND LEAD)\)\s*)+"
)
_WIRE_TAG = re.compile(r"\s*\((?:LEAD|URGENT|UPDATE\s*\d*)\)\s*")
# " - Meridian Wire": a capitalised tail without digits (" - Magnitude 6" is news, not an outlet).
_OUTLET_SUFFIX = re.compile(r"\s+[|\u2013\u2014-]\s+[A-Z][^|\u2013\u2014\d]{0,40}$")
_PIPE_SUFFIX = re.compile(r"\s+\|\s+[^|]{1,60}$")
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_POSSESSIVE = re.compile(r"(?<=\w)['\u2019]s\b")
_HYPHENATED = re.compile(r"(?<=[^\W\d])-(?=[^\W\d])")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")

# A headline in Chinese or Japanese this short (in characters) names no particular event.
MIN_CJK_CHARS = 6


def normalise_source_url(url: str) -> str:
    """A feed URL in the form sources are compared by; raises InvalidURLError if not http(s)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidURLError(f"{url!r} has an invalid host or port.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise InvalidURLError(f"{url!r} is not an http or https URL with a host.")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = f"{parts.username or ''}{':' + parts.password if parts.password else ''}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


# Cached, like host_of: a poll asks both of every source's URL, and splitting it is most of the cost.
@functools.lru_cache(maxsize=4096)
def refused_target(url: str, block_private: bool) -> str | None:
    """Why a fetch (or a redirect) to `url` is refused, or None: only http(s), and with
    `block_private` no literal private, loopback, link-local or reserved address."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "only http and https URLs are fetched"
    if block_private:
        try:
            address = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return None  # a name: the resolver checks what it resolves to
        if not address.is_global:
            return f"{address} is a private address ([poll] block_private)"
    return None


@functools.lru_cache(maxsize=4096)
def host_of(url: str) -> str:
    """The lower-case host of a URL ("" when it has none)."""
    return (urlsplit(url).hostname or "").lower()


def canonical_url(url: str | None) -> str | None:
    """The article URL with every cosmetic or tracking difference removed; idempotent."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a malformed IPv6 host or port in a publisher's link
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().strip(".")
    if scheme not in DEFAULT_PORTS or not host:
        return None
    stripped = True
    while stripped:
        stripped = False
        for prefix in ("www.", "m.", "amp."):
            if host.startswith(prefix) and host.count(".") >= 2:
                host, stripped = host[len(prefix) :], True
    if ":" in host:
        host = f"[{host}]"
    # The result is https, so a port that is the default of either scheme says nothing.
    netloc = host if port in (None, DEFAULT_PORTS[scheme], DEFAULT_PORTS["https"]) else f"{host}:{port}"
    path = re.sub(r"/+", "/", parts.path)
    previous = None
    while previous != path:
        previous, path = path, re.sub(r"/amp/?$", "", path).rstrip("/")
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMETERS and not key.lower().startswith(TRACKING_PREFIXES)
    ]
    # http and https name the same article; https is what a reader should get.
    return urlunsplit(("https", netloc, path, urlencode(sorted(query)), ""))


def item_key(entry: Entry) -> str:
    """An entry's identity inside its source: id/guid, else canonical link, else a content hash."""
    if entry.guid and entry.guid.strip():
        return "id:" + entry.guid.strip()
    link = canonical_url(entry.link)
    if link:
        return "link:" + link
    published = entry.published.isoformat() if entry.published else ""
    return "hash:" + _sha1("\x00".join((entry.title, published, entry.summary)))


def content_hash(entry: Entry) -> str:
    """Changes exactly when what a reader sees of the entry changes."""
    return _sha1("\x00".join((entry.title, entry.link or "", entry.summary, entry.content, entry.author or "")))


def revision_moves_story(republish_updates: bool, revisions_today: int, max_revisions: int) -> bool:
    """Does an upstream rewrite of a report show as an update of its story in the feeds?

    Not when updates are not republished, nor when the report keeps changing: past `max_revisions`
    rewrites in a day its text flaps (a counter, a live blog), and readers are not pinged again."""
    return republish_updates and revisions_today <= max_revisions


def body_hash(body: bytes) -> str:
    """Identifies a fetched document, to skip parsing a body seen before."""
    return hashlib.sha256(body).hexdigest()


def story_key(source_url: str, key: str) -> str:
    """A story's permanent identity: a UUID derived from its first report, used as its Atom id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{source_url}\n{key}"))


def normalise_headline(title: str) -> str:
    """Case, accents, punctuation and wire decorations removed; words separated by one space."""
    text = _strip_decorations(unicodedata.normalize("NFKC", title).strip())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    no_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    joined = _HYPHENATED.sub("", _POSSESSIVE.sub("", no_marks))
    return _NON_WORD.sub(" ", joined).strip()


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


# Story matching -------------------------------------------------------------------------------
#
# A report becomes a `Headline`: the words of its headline and of its summary (stop words dropped,
# light stemming, one spelling for units, figures and a few headline words; character pairs for
# Chinese and Japanese, split at hiragana and function characters; Arabic letter variants, articles
# and suffixes folded), its figures, and its names (runs of capitalised words). `compare` first
# looks for what makes two reports different events, then for what makes them one story:
#
# Different events (vetoes):
# - Chinese or Japanese headlines whose opening place or actor neither mentions ("北京…" / "天津…");
# - each headline names someone the other report (headline or summary) never mentions, unless
#   they share two names or figures ("Kerala floods kill 12" / "Floods in Sri Lanka kill 9");
# - each headline has a figure the other report never gives, unless they share a place and most
#   words (a rising toll: "kill 12" / "kill 31");
# - headlines sharing fewer than two names and figures over summaries that give different facts,
#   or different figures ("Asian markets open lower" on two mornings).
# One story, if no veto:
# - headlines near-identical (Jaccard 0.6), or one a shortened copy of the other (containment);
# - headlines alike (0.3) and summaries alike (0.4): a syndicated lede;
# - a shared name or telling figure, and headlines sharing half their words, or summaries alike
#   (0.4), or the whole reports sharing 0.4 of their words;
# - two shared names or figures, and one headline told (0.7 of its words) by the other report.
#
# Names and figures count in both directions: "Okafor" in one headline is mentioned when the other
# report's summary has it, "NZ" stands for "New Zealand", "Sweden" and "Swedish" are alike.
# Candidates come from an index of keys (`lsh_keys`): MinHash LSH bands of the headline's words,
# plus one key per pair of its names and figures, so a lookup costs the same at ten thousand or
# ten million stored items.

STOP_WORDS = frozenset(
    """a an the of in on at to for from by with as and or but is are was were be been has have had
    it its this that these those after before over under into out up down about amid than then
    says said say tells told report reports reported new latest will would could can may more not no
    el la los las de del y en un una por para con al le les des du et une pour dans sur au aux lo su
    sus se que l d qu il est son sa ses leur o os as do da dos das na em ao e
    der die das und im ein eine mit von zu auf für dem den bei nach am um vom zum zur ist
    في من علي الي عن مع""".split()
)
# One spelling for what wires spell many ways: units and figures ...
UNITS = {
    "bln": "bn", "billion": "bn", "billions": "bn", "mln": "mn", "million": "mn", "millions": "mn",
    "trln": "tn", "trillion": "tn", "pct": "percent", "prozent": "percent", "%": "percent",
    "nanometre": "nm", "nanometer": "nm", "kilometre": "km", "kilometer": "km", "kilometres": "km",
    "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10",
    "jan": "january", "feb": "february", "apr": "april", "aug": "august", "sep": "september",
    "sept": "september", "oct": "october", "nov": "november", "dec": "december",
}  # fmt: skip
# ... and words headlines use for one thing.
HEADLINE_WORDS = {
    "quake": "earthquake", "quakes": "earthquake", "tremor": "earthquake",
    "axe": "cut", "axes": "cut", "slash": "cut", "slashes": "cut", "shed": "cut", "sheds": "cut",
    "hike": "raise", "hikes": "raise", "accord": "deal", "pact": "deal", "agreement": "deal",
    "jobless": "unemployment",
}  # fmt: skip
SYNONYMS = UNITS | HEADLINE_WORDS | {"usa": "us", "uk": "britain", "britains": "britain"}
# Capitalised in English, yet they name no one: a month or a weekday is not an actor of the story.
# So is a unit or a word of HEADLINE_WORDS, capitalised as every German noun is ("2,6 Prozent").
CALENDAR = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday""".split()
)
NOT_NAMES = CALENDAR | frozenset(UNITS.values()) | frozenset(HEADLINE_WORDS.values())
# After a figure, a single letter is a scale: "$480m", "3m years".
SCALE_LETTERS = {"m": "mn", "b": "bn", "k": "thousand"}
MIN_MATCH_TOKENS = 3
SAME_STORY_JACCARD = 0.6
SAME_STORY_CONTAINMENT = 0.85
SUMMARY_SUPPORT_JACCARD = 0.3
SUMMARY_AGREEMENT = 0.4
# Summaries sharing under this much, with different figures or names, are about different events.
SUMMARY_CONFLICT = 0.3
# Headlines this alike are one story even if their capitalised words differ ("Thai" / "Thailand").
NAMES_OVERRULED = 0.8
# Names are alike when equal or when they share this many first letters ("Sweden" / "Swedish").
NAME_PREFIX = 4
# Headlines sharing this many names and figures, one of them largely told by the other report
# (headline and summary), are one story.
SAME_STORY_FACTS = 2
SAME_STORY_TOLD = 0.7
# Headlines sharing half their words, a name or telling figure among them, are one story.
SAME_STORY_NAMED_JACCARD = 0.5
# Reports (headline and summary together) sharing this much of their words, a name or telling
# figure among them, are one story.
SAME_STORY_TEXT_JACCARD = 0.4
# Reports this close in time that share a name and a word of what happened, or two names, neither
# naming anyone the other does not mention, are one story developing ("Kerala floods kill 12" /
# "Kerala floods: death toll climbs to 22"). Further apart, they may be a recurring story ("Wall
# Street opens higher" / "Wall Street: stocks close higher", 7 hours on), a scoop and its
# announcement ("Harbourline Bank nears deal for Crestmoor" / "Harbourline Bank agrees to buy
# Crestmoor", 10 hours on) or a follow-up ("Fujian begins rebuilding after Typhoon Senbai").
DEVELOPING_HOURS = 6.0
# Chinese reports of one story developing share this many character pairs, and this share of the
# shorter headline's ("山西吕梁煤矿透水事故：已有4人获救" / "吕梁煤矿透水事故救援持续 4人升井").
CJK_DEVELOPING_PAIRS = 4
CJK_DEVELOPING_SHARE = 0.4
# What happened is told by a word of this many letters or more ("flood", "outage", "rocket").
EVENT_WORD_LETTERS = 4
# A headline with this many commas lists several stories.
DIGEST_COMMAS = 2
LSH_BANDS = 16
LSH_ROWS = 2  # a band key holds its two values side by side (see lsh_keys)
# At most this many names and figures of a headline make pair keys (at most 10 keys).
MAX_KEY_FACTS = 5
# A Chinese headline's character pairs, read in Latin letters, that make name keys: which of them
# is a name is not known, so more than MAX_KEY_FACTS (a headline of 14 characters has 13 pairs).
MAX_READING_KEYS = 12
_Runs = tuple[tuple[str, ...], ...]
_MINHASH_VALUES = struct.Struct(f"<{LSH_BANDS * LSH_ROWS}I")
_MINHASH_BYTES = _MINHASH_VALUES.size
_WORD_SEPARATOR, _PART_SEPARATOR = " ", "\t"  # matching tokens never hold white space
# Figures with thousands separators or decimal commas ("2,000", "2.000", "6,4"), a per cent sign,
# words (letters, with inner hyphens and apostrophes), and runs of other digits.
_PIECE = re.compile(r"[A-Za-z]+-?\d[A-Za-z\d]*(?:\.\d+)?|\d+(?:[.,]\d+)*|%|[^\W\d_]+(?:['’-][^\W\d_]+)*")
_DIGIT = re.compile(r"\d")
_ACRONYM = re.compile(r"(?<![\w.])((?:[^\W\d_]\.){2,})(?!\w)")
_WORD_START = re.compile(r"(?<![\w'’-])[^\W\d_][\w'’-]*")
_SENTENCE_START = re.compile(r"(?:^\s*|[.!?;:]\s+)([\w'’-]+)")
_CJK_RUN = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+)")
_HIRAGANA = re.compile(r"[\u3040-\u309f]+")
# Chinese function characters: a character pair across one of them says nothing about the event.
_CJK_STOP = re.compile(r"[的了在和与及是将已]+")
_CJK_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"两": 2, "〇": 0}
_CJK_UNITS = {"十": 10, "百": 100, "千": 1000}
_CJK_NUMERAL = re.compile(r"[零〇一二两三四五六七八九]*[十百千][零〇一二两三四五六七八九十百千]*")
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ـ": None})
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_ARABIC_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LETTERS = re.compile(r"[^\W\d_]+")
# A French elided article or pronoun: "l'Assemblée" names the Assemblée, "d'Abidjan" Abidjan.
_ELISION = re.compile(r"(?<![\w'’])(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’](?=[^\W\d_])", re.IGNORECASE)
_FIGURE = re.compile(r"\d+(?:\.\d+)?")
_NOT_LATIN = re.compile(r"[^a-z]+")
# Words and letters that tell which language a text in Latin letters is in: function words of one
# language only (a headline keeps a few: "tras", "après", "bei"), and letters only it uses.
LANGUAGE_WORDS = {
    "en": frozenset("the of to for on as after with and at from by over is are was amid into its".split()),
    "es": frozenset("el los las del y por con tras una al su sus se que ya son".split()),
    "fr": frozenset("le les des du une et sur pour dans au aux après avec est l d qu".split()),
    "de": frozenset("der die das und im mit von bei nach für auf den dem ein eine zum zur ist nicht ab".split()),
    "pt": frozenset("o os da do das dos em com após na uma".split()),
}
LANGUAGE_LETTERS = {"es": "ñ¿¡", "fr": "çœèêë", "de": "ßäöü", "pt": "ãõ"}


@dataclass(frozen=True)
class Headline:
    """What story matching knows of a report: its words, figures and names, in headline and summary.

    Built by `headline`. Words and figures are worked out at once; names, which only a report
    that shares words with another needs, when first asked for:

    - `names`: the headline's capitalised words; `places`: the same without the first word
      (capitalised whatever it is); `entities`: the headline's runs of capitalised words
      ("Castlegate Rovers"); `first`: its first word, if capitalised;
    - `capitalised`: the words capitalised anywhere but at the start of the headline or of a
      sentence; `summary_names`: the summary's capitalised words but the first of each sentence;
    - `mentions`: every word of headline and summary, and `has_initials` whether a word is the
      initials of a run of them ("New Zealand": "nz"), for telling whether a name of another
      report is mentioned here;
    - `subject`: the first character pair of a Chinese or Japanese headline, its place or actor."""

    text: str
    tokens: frozenset[str]
    numbers: frozenset[str]
    summary_tokens: frozenset[str] = frozenset()
    summary_numbers: frozenset[str] = frozenset()
    subject: str = ""
    title: str = ""
    summary: str = ""
    words: tuple[str, ...] = ()

    @functools.cached_property
    def all_tokens(self) -> frozenset[str]:
        """Headline and summary tokens together."""
        return self.tokens | self.summary_tokens

    @functools.cached_property
    def cased(self) -> bool:
        """False for a headline in capitals or Title Case, where case tells no name from a word."""
        return not _caseless(self.title)

    # Headline and summary runs apart: candidate keys need only the headline's, and most reports
    # are never compared closely enough to need the summary's.
    @functools.cached_property
    def _title_runs(self) -> tuple[_Runs, _Runs]:
        entities, later = _entities(self.title)
        return entities, later if self.cased else ()

    @functools.cached_property
    def _summary_runs(self) -> tuple[_Runs, _Runs]:
        return _entities(self.summary)

    @property
    def entities(self) -> _Runs:
        return self._title_runs[0]

    @functools.cached_property
    def names(self) -> frozenset[str]:
        return frozenset(word for entity in self.entities for word in entity)

    @functools.cached_property
    def places(self) -> frozenset[str]:
        return frozenset(word for entity in self._title_runs[1] for word in entity)

    @functools.cached_property
    def summary_names(self) -> frozenset[str]:
        return frozenset(word for entity in self._summary_runs[1] for word in entity)

    @functools.cached_property
    def first(self) -> str:
        found = _WORD_START.search(self.title)
        return _name_form(found.group(0)) if self.cased and found and found.group(0)[0].isupper() else ""

    @functools.cached_property
    def capitalised(self) -> frozenset[str]:
        later, summary_entities = self._title_runs[1], self._summary_runs[0]
        found = _WORD_START.search(self.title)
        name_like = {_name_form(found.group(0))} if self.cased and found and _name_like(found.group(0)) else set()
        return frozenset(word for entity in later + summary_entities for word in entity) | name_like

    @functools.cached_property
    def mentions(self) -> frozenset[str]:
        raw = (_name_form(word) for word in _WORD_START.findall(f"{self.title} {self.summary}"))
        return frozenset(self.words).union(raw)

    @functools.cached_property
    def initials(self) -> tuple[str, str]:
        return _initials(f"{self.title} {self.summary}")

    @functools.cached_property
    def name_prefixes(self) -> frozenset[str]:
        """The first letters of the headline's names, as `_alike` compares them."""
        return frozenset(name[:NAME_PREFIX] for name in self.names)

    @functools.cached_property
    def language(self) -> str:
        """The language the report is in, as far as its script and words tell ("" when they do not)."""
        return _language(self.title, self.summary)

    @functools.cached_property
    def figures(self) -> frozenset[str]:
        """The headline's telling figures (two digits or more), those inside a name too ("M6.1",
        "Yaogan-45"): what a report of the same story in another language gives alike."""
        inside = (figure for token in self.tokens if not token.isdigit() for figure in _FIGURE.findall(token))
        return frozenset(number for number in self.numbers.union(inside) if _telling(number))

    @functools.cached_property
    def latin_names(self) -> frozenset[str]:
        """The headline's capitalised words in plain Latin letters ("aerolux", "mercosur", "vegax"):
        what a report in another language can share. The first word counts too: in two languages,
        one first word is rarely a word of both ("Aerolux streicht 2.000 Stellen" / "Aerolux to cut
        2,000 jobs")."""
        words = (word for entity in self.entities for word in entity)
        return _plain_latin(words)

    @functools.cached_property
    def readings(self) -> tuple[str, ...]:
        """A Chinese headline's character pairs read in Latin letters ("senbai", "fujian"), in order."""
        return _readings(self.title) if self.language == "zh" else ()

    @functools.cached_property
    def latin_mentions(self) -> tuple[frozenset[str], frozenset[str]]:
        """Every word of headline and summary in plain Latin letters, and a Chinese report's
        character pairs read so: where a name of a report in another language is looked for."""
        readings = frozenset(self.readings + _readings(self.summary)) if self.readings else frozenset()
        return _plain_latin(self.mentions), readings

    @functools.cached_property
    def digest(self) -> bool:
        """A headline listing several stories: "Daily briefing: Kerala floods, Harbourline deal, Vega-X failure"."""
        return self.title.count(", ") >= DIGEST_COMMAS

    def work_out_names(self) -> Headline:
        """Work out now what is otherwise worked out when first compared: the parser processes do
        it for every new report, so that the one thread that matches stories does not."""
        for name in (
            "all_tokens",
            "names",
            "places",
            "summary_names",
            "first",
            "capitalised",
            "mentions",
            "initials",
            "digest",
            "name_prefixes",
            "language",
            "figures",
            "latin_names",
            "readings",
            "latin_mentions",
        ):
            getattr(self, name)
        return self

    def has_initials(self, word: str) -> bool:
        """Whether `word` (2 to 5 letters) is the initials of a run of this report's words."""
        return 2 <= len(word) <= 5 and any(word in letters for letters in self.initials)

    @functools.cached_property
    def specific(self) -> bool:
        """False for "Live updates", "In pictures", "台风登陆": too few words to name one event."""
        if _CJK.search(self.text):
            return len(self.text.replace(" ", "")) >= MIN_CJK_CHARS
        return len(self.tokens) >= MIN_MATCH_TOKENS


@dataclass(frozen=True)
class Match:
    """Whether two reports are one story, how close they are, and why."""

    same: bool
    score: float
    reason: str


def headline(title: str, summary: str = "") -> Headline:
    """A report's headline (and summary text) prepared for matching."""
    stripped = _prepared(_strip_decorations(unicodedata.normalize("NFKC", title).strip()))
    summary = _prepared(unicodedata.normalize("NFKC", summary).strip())
    words, numbers = _words(stripped)
    summary_words, summary_numbers = _words(summary)
    return Headline(
        text=normalise_headline(title),
        tokens=_tokens(words),
        numbers=numbers,
        summary_tokens=_tokens(summary_words),
        summary_numbers=summary_numbers,
        subject=_subject(words),
        title=stripped,
        summary=summary,
        words=tuple(words + summary_words),
    )


def compare(
    a: Headline, b: Headline, hours_apart: float | None = None, common_names: frozenset[str] = frozenset()
) -> Match:
    """Are two reports one story? Pure and symmetric. With `hours_apart`, the hours between the
    reports, reports of a story developing within DEVELOPING_HOURS are joined too, through names
    other than `common_names` (names cut to NAME_PREFIX letters that many stories carry in those
    hours: "Paris" tells no story apart)."""
    if not a.specific or not b.specific:
        return Match(False, 0.0, "a headline is too short to name one event")
    overlap = _Overlap.of(a, b)
    shared, jaccard, containment = a.tokens & b.tokens, overlap.jaccard, overlap.containment
    summary, whole, told = overlap.summary, overlap.whole, overlap.told
    score = max(jaccard, containment * SAME_STORY_JACCARD / SAME_STORY_CONTAINMENT)
    developing = hours_apart is not None and hours_apart <= DEVELOPING_HOURS
    if overlap.too_little and not developing:
        return Match(False, score, f"headlines share only {len(shared)} of {len(a.tokens | b.tokens)} words")
    # Chinese and Japanese headlines open with their place or actor: neither mentions the other's.
    if a.subject and b.subject and not _has_subject(a, b) and not _has_subject(b, a):
        return Match(False, score, f"different subjects ({a.subject} / {b.subject})")
    if developing and (both_give := _told_in_two_languages(a, b, common_names)):
        return Match(
            True, score, f"one story in {a.language} and {b.language}: both give {both_give}, {hours_apart:.0f} h apart"
        )
    only_a, only_b = _unexplained(a, b), _unexplained(b, a)
    # Each naming someone the other does not is a different actor, unless a telling figure is in
    # both too ("EU fines Veltrix €480m" / "Brussels hits Veltrix with €480m fine").
    others = only_a and only_b and not a.figures & b.figures
    if developing and not others and (shared_facts := _developing(a, b, common_names)):
        return Match(True, score, f"a story developing: both name {shared_facts}, {hours_apart:.0f} h apart")
    if developing and (shared_pairs := _developing_in_characters(a, b)):
        return Match(True, score, f"a story developing: both write {shared_pairs}, {hours_apart:.0f} h apart")
    if overlap.too_little:
        return Match(False, score, f"headlines share only {len(shared)} of {len(a.tokens | b.tokens)} words")
    facts = _shared_facts(a, b)
    # Each headline names someone or somewhere the other never mentions: different actors (unless
    # they share two names or figures: "EU fines Veltrix €480m" / "Brussels hits Veltrix with €480m fine").
    if only_a and only_b and jaccard < NAMES_OVERRULED and facts < SAME_STORY_FACTS:
        return Match(False, score, f"different names ({_listed(only_a)} / {_listed(only_b)})")
    # A rising toll in the same place is the same story; other figures in other places are not.
    figures_a, figures_b = _figures_only_in(a, b), _figures_only_in(b, a)
    if figures_a and figures_b and (not _alike_sets(a.places, b.places) or jaccard < SAME_STORY_JACCARD):
        return Match(False, score, f"different numbers ({_listed(figures_a)} / {_listed(figures_b)})")
    # The same plain headline over different facts: a recurring "Asian markets open lower", another
    # country's central bank. Headlines that share names and figures are not plain.
    if summary is not None and summary < SUMMARY_CONFLICT and facts < SAME_STORY_FACTS and _facts_differ(a, b):
        return Match(False, score, f"the summaries give different facts ({summary:.2f} of their words shared)")
    # However alike the summaries, when each gives figures and none is in the other report ("up 420
    # yen" / "up 215 yen"), they report different days of a recurring story.
    if facts < SAME_STORY_FACTS and _summary_figures_differ(a, b):
        return Match(
            False,
            score,
            f"the summaries give different figures ({_listed(a.summary_numbers)} / {_listed(b.summary_numbers)})",
        )
    if jaccard >= SAME_STORY_JACCARD:
        return Match(True, score, f"headlines share {len(shared)} of {len(a.tokens | b.tokens)} words")
    if containment >= SAME_STORY_CONTAINMENT and min(len(a.tokens), len(b.tokens)) >= MIN_MATCH_TOKENS + 1:
        return Match(True, score, "one headline is a shortened copy of the other")
    if summary is not None and jaccard >= SUMMARY_SUPPORT_JACCARD and summary >= SUMMARY_AGREEMENT:
        return Match(True, score, f"similar headlines and summaries ({summary:.2f} of summary words shared)")
    if facts and jaccard >= SAME_STORY_NAMED_JACCARD:
        return Match(
            True,
            score,
            f"headlines share {len(shared)} of {len(a.tokens | b.tokens)} words, names or figures among them",
        )
    if facts and summary is not None and summary >= SUMMARY_AGREEMENT:
        return Match(True, score, f"headlines share names or figures, summaries {summary:.2f} of their words")
    if facts and whole >= SAME_STORY_TEXT_JACCARD:
        return Match(True, score, f"the reports share {whole:.2f} of their words, names or figures among them")
    if facts >= SAME_STORY_FACTS and told >= SAME_STORY_TOLD:
        return Match(
            True,
            max(score, SAME_STORY_JACCARD * told),
            f"{facts} names and figures shared; {told:.2f} of one headline is in the other report",
        )
    return Match(False, score, f"headlines share only {len(shared)} of {len(a.tokens | b.tokens)} words")


def _developing_in_characters(a: Headline, b: Headline) -> str | None:
    """What two Chinese reports of a story developing share: CJK_DEVELOPING_PAIRS character pairs
    or more, CJK_DEVELOPING_SHARE of the shorter headline's, and no figure each gives that the
    other does not ("遥感四十五号" / "遥感四十六号" are two satellites; "9人被困" / "已有4人获救"
    share no figure the other lacks: a toll told once). None when they do not."""
    if a.language != "zh" or b.language != "zh" or a.digest or b.digest:
        return None
    shared = sorted(token for token in a.tokens & b.tokens if token not in a.numbers)
    if len(shared) < CJK_DEVELOPING_PAIRS or len(shared) < CJK_DEVELOPING_SHARE * min(len(a.tokens), len(b.tokens)):
        return None
    if _figures_only_in(a, b) and _figures_only_in(b, a):
        return None
    return "、".join(shared)


def _developing(a: Headline, b: Headline, common_names: frozenset[str]) -> str | None:
    """What two reports of a story developing share: a name one headline gives whole and the other
    has too ("Kerala", "Orbica Cloud") and a word of what happened that both use ("flood",
    "outage"), or two such names ("Northbridge", "Castlegate"); None when they do not. Headlines
    whose case tells no names, and digests listing several stories ("Daily briefing: Kerala floods,
    Harbourline deal, Vega-X failure"), share none."""
    if not a.cased or not b.cased or a.digest or b.digest:
        return None
    names = max(
        [entity for entity in a.entities if _given_whole(entity, a, b) and not _common(entity, common_names)],
        [entity for entity in b.entities if _given_whole(entity, b, a) and not _common(entity, common_names)],
        key=len,
    )
    if not names:
        return None
    if len(names) >= 2:
        return f"{' '.join(names[0])} and {' '.join(names[1])}"
    if figures := sorted(a.figures & b.figures):
        return f"{' '.join(names[0])} and {figures[0]}"
    name_words = frozenset(names[0])
    events = sorted(
        word
        for word in a.tokens & b.tokens
        if len(word) >= EVENT_WORD_LETTERS
        and word not in a.numbers
        and word not in _NOT_EVENTS
        and not _alike(word, name_words)
    )
    return f"{' '.join(names[0])} and tell of {events[0]}" if events else None


def _told_in_two_languages(a: Headline, b: Headline, common_names: frozenset[str]) -> str | None:
    """What two reports in different languages both give, when it is at least two names and
    telling figures: "Mercosur" and "25" ("EU and Mercosur sign trade accord after 25 years of
    talks" / "UE y Mercosur firman el acuerdo comercial tras 25 años"), "senbai" and "fujian" read
    from 台风“森白”登陆福建. Names that many stories carry in those hours do not count."""
    if not a.language or not b.language or a.language == b.language or a.digest or b.digest:
        return None
    names = max(_names_in_other_language(a, b, common_names), _names_in_other_language(b, a, common_names), key=len)
    facts = [*names, *sorted(a.figures & b.figures)]
    return " and ".join(facts) if len(facts) >= SAME_STORY_FACTS else None


def _names_in_other_language(a: Headline, b: Headline, common_names: frozenset[str]) -> list[str]:
    """Names of `a`'s headline that `b` mentions too: alike in Latin letters, or read so from Chinese."""
    words, readings = b.latin_mentions
    return sorted(
        name
        for name in a.latin_names
        if name[:NAME_PREFIX] not in common_names and (name in readings or _alike(name, words))
    )


def _common(entity: tuple[str, ...], common_names: frozenset[str]) -> bool:
    return all(word[:NAME_PREFIX] in common_names for word in entity)


def _given_whole(entity: tuple[str, ...], a: Headline, b: Headline) -> bool:
    """Is every word of a name of headline `a` among the names of headline `b`? A first word
    counts only when it looks like a name or either report capitalises it elsewhere."""
    if entity == (a.first,) and not _name_like(a.first) and not _alike(a.first, a.capitalised | b.capitalised):
        return False
    return all(_alike(word, b.names) for word in entity)


def _shared_facts(a: Headline, b: Headline) -> int:
    """Names (runs of capitalised words), telling figures and, in Chinese or Japanese, the opening
    place or actor, in both headlines. A capitalised first word counts when it looks like a name
    ("COP31", "EU") or either report capitalises it elsewhere ("Central bank holds rates" names no
    one); a figure counts when it has two digits or more ("2-1" could be any match)."""
    subject = (a.subject and a.subject in b.tokens) or (b.subject and b.subject in a.tokens)
    return max(_facts_of(a, b), _facts_of(b, a)) + (1 if subject else 0)


def _facts_of(a: Headline, b: Headline) -> int:
    names = sum(
        1
        for entity in a.entities
        if (entity != (a.first,) or _alike(a.first, a.capitalised | b.capitalised)) and _meets(entity, b.names, b)
    )
    figures = sum(1 for number in a.numbers & b.numbers if _telling(number))
    return names + figures


def _meets(entity: tuple[str, ...], words: frozenset[str], b: Headline) -> bool:
    """Is a name of one report among `words` of report `b`, or an acronym of it ("NZ" / "New Zealand")?"""
    if len(entity) > 1 and "".join(word[0] for word in entity) in words:
        return True
    return any(_alike(word, words) or b.has_initials(word) for word in entity)


class _Overlap(NamedTuple):  # a tuple: made for every candidate report, as cheaply as can be
    """How much two reports' words overlap: the first test of `compare`, which needs words only."""

    jaccard: float  # of the headlines' words
    containment: float  # of the shorter headline's words in the other
    summary: float | None  # Jaccard of the summaries' words, when both have a summary
    whole: float  # Jaccard of headline and summary words together
    told: float  # of either headline's words in the other report

    @classmethod
    def of(cls, a: Headline, b: Headline) -> _Overlap:
        return cls.between(a.tokens, a.summary_tokens, a.all_tokens, b.tokens, b.summary_tokens, b.all_tokens)

    @classmethod
    def between(
        cls,
        a: frozenset[str],
        a_summary: frozenset[str],
        a_all: frozenset[str],
        b: frozenset[str],
        b_summary: frozenset[str],
        b_all: frozenset[str],
    ) -> _Overlap:
        """The overlap of headline words `a` and `b`, given with their summaries' words and both together."""
        shared = len(a & b)
        told_a = len(a & b_all) / len(a) if len(a) > MIN_MATCH_TOKENS else 0.0
        told_b = len(b & a_all) / len(b) if len(b) > MIN_MATCH_TOKENS else 0.0
        return cls(
            jaccard=shared / (len(a) + len(b) - shared),  # unions counted, not built
            containment=shared / min(len(a), len(b)),
            summary=_jaccard(a_summary, b_summary) if a_summary and b_summary else None,
            whole=_jaccard(a_all, b_all),
            told=max(told_a, told_b),
        )

    @property
    def too_little(self) -> bool:
        """Too little in common for any rule of `compare` to join the two reports."""
        return (
            self.jaccard < SUMMARY_SUPPORT_JACCARD
            and self.containment < SAME_STORY_CONTAINMENT
            and (self.summary is None or self.summary < SUMMARY_AGREEMENT)
            and self.whole < SAME_STORY_TEXT_JACCARD
            and self.told < SAME_STORY_TOLD
        )


def match_words(head: Headline) -> str:
    """A report's headline and summary words as one string, stored beside the report so that
    `may_match` can rule it out as a candidate without preparing its headline again."""
    return _PART_SEPARATOR.join(
        (_WORD_SEPARATOR.join(head.tokens), _WORD_SEPARATOR.join(head.summary_tokens), head.language)
    )


def may_match(
    a: Headline, stored_words: str, hours_apart: float | None = None, common_names: frozenset[str] = frozenset()
) -> bool:
    """Whether a stored report whose `match_words` are `stored_words` could be the same story as
    `a`: False when they share too little for any rule of `compare`. Almost every candidate that
    is not the same story fails this test (99.4% of such pairs in the labelled sets, taken as an
    hour apart), sparing the preparing of its headline, which was a quarter of storing a cold
    poll's items."""
    title, _, rest = stored_words.partition(_PART_SEPARATOR)
    summary, _, language = rest.partition(_PART_SEPARATOR)
    b = frozenset(title.split(_WORD_SEPARATOR)) if title else frozenset()
    if not a.specific or not a.tokens or not b:
        return False
    b_summary = frozenset(summary.split(_WORD_SEPARATOR)) if summary else frozenset()
    overlap = _Overlap.between(a.tokens, a.summary_tokens, a.all_tokens, b, b_summary, b | b_summary)
    if not overlap.too_little:
        return True
    developing = hours_apart is not None and hours_apart <= DEVELOPING_HOURS
    # The same story in another language shares names and figures, not words.
    if (
        developing
        and a.language
        and language
        and language != a.language
        and _may_share_facts(a, b | b_summary, language)
    ):
        return True
    if developing and a.language == "zh" and len(a.tokens & b) >= CJK_DEVELOPING_PAIRS:
        return True
    # A story developing shares a name with it and a word of what happened, and little else.
    if not developing or not a.cased or a.digest or a.tokens.isdisjoint(b):
        return False
    return not (a.name_prefixes - common_names).isdisjoint(word[:NAME_PREFIX] for word in b)


def _may_share_facts(a: Headline, words: frozenset[str], language: str) -> bool:
    """Whether a report in another language whose words are `words` shares a name or a figure
    with `a`, as `_told_in_two_languages` looks for them (it wants two)."""
    figures = {figure for word in words for figure in _FIGURE.findall(word)}
    if a.figures & figures:
        return True
    latin = _plain_latin(words)
    readings = {"".join(romanise.syllables(word)) for word in words if language == "zh" and _CJK.match(word)}
    return any(name in readings or _alike(name, latin) for name in a.latin_names) or any(
        _alike(word, frozenset(a.readings)) for word in latin if len(word) >= NAME_PREFIX
    )


def _has_subject(a: Headline, b: Headline) -> bool:
    return a.subject in b.tokens or a.subject in b.summary_tokens


def _unexplained(a: Headline, b: Headline) -> frozenset[str]:
    """Names of `a` (whole runs such as "Castlegate Rovers") of which `b` mentions no word."""
    return frozenset(" ".join(entity) for entity in a.entities if not _explained(entity, b))


def _explained(entity: tuple[str, ...], b: Headline) -> bool:
    return _meets(entity, b.mentions, b)


def _alike(word: str, words: frozenset[str]) -> bool:
    """Is `word` among `words`, or one sharing its first letters ("Sweden", "Swedish")?"""
    if word in words:
        return True
    if len(word) < NAME_PREFIX:
        return False
    prefix = word[:NAME_PREFIX]
    return any(other.startswith(prefix) for other in words)


def _alike_sets(a: frozenset[str], b: frozenset[str]) -> bool:
    return any(_alike(word, b) for word in a)


def _facts_differ(a: Headline, b: Headline) -> bool:
    """Summaries with figures or names, none of them anywhere in the other report."""
    return _summary_facts_unshared(a, b) or _summary_facts_unshared(b, a)


def _summary_figures_differ(a: Headline, b: Headline) -> bool:
    """Both summaries give figures, and none of them appears anywhere in the other report."""
    if not a.summary_numbers or not b.summary_numbers:
        return False
    return not a.summary_numbers & (b.numbers | b.summary_numbers) and not b.summary_numbers & a.numbers


def _summary_facts_unshared(a: Headline, b: Headline) -> bool:
    numbers = a.summary_numbers and b.summary_numbers and not a.summary_numbers & (b.numbers | b.summary_numbers)
    names = (
        a.summary_names
        and b.summary_names
        and not any(_alike(word, b.summary_names | b.names) for word in a.summary_names)
    )
    return bool(numbers or names)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    shared = len(a & b)  # the union counted, not built
    return shared / (len(a) + len(b) - shared)


# A page that names other actors a day or more after a report linked it has been reused for new
# news (a live page, a weather-warning page); within a day it is the same story developing
# ("Earthquake of magnitude 6.1 strikes off Hokkaido" -> "UPDATE 2-Strong quake off northern Japan").
REUSED_LINK_GAP = timedelta(hours=24)


def different_events(a: Headline, b: Headline) -> bool:
    """Whether two reports name different actors or places outright (the name veto of `compare`,
    whatever else they share): a page reused for new news ("Weather warning for Oslo as freezing
    rain expected" / "Weather warning for Bergen as storm nears") carries two stories."""
    if a.subject and b.subject and not _has_subject(a, b) and not _has_subject(b, a):
        return True
    jaccard = _jaccard(a.tokens, b.tokens) if a.tokens and b.tokens else 0.0
    only_a, only_b = _unexplained(a, b), _unexplained(b, a)
    return bool(only_a and only_b) and jaccard < NAMES_OVERRULED and _shared_facts(a, b) < SAME_STORY_FACTS


def choose_story(
    head: Headline,
    candidates: Sequence[tuple[int, Headline, float | None]],
    common_names: frozenset[str] = frozenset(),
) -> int | None:
    """The story whose report matches `head` best, or None when none is the same story. Each
    candidate is (story id, report, hours between the report and `head`, if known)."""
    best: tuple[float, int] | None = None
    for story_id, other, hours_apart in candidates:
        match = compare(head, other, hours_apart, common_names)
        if match.same and (best is None or match.score > best[0]):
            best = (match.score, story_id)
    return best[1] if best else None


def lsh_keys(head: Headline) -> list[int]:
    """Index keys of a report: a stored report sharing one with a new one is a candidate story.

    - 16 MinHash LSH bands of 2 rows over the headline's tokens: two headlines with Jaccard
      similarity 0.5 share one with 99% probability, at 0.3 with 78%;
    - one key per pair of the headline's first five names and telling figures, so that rewordings
      sharing little but their actors ("Okafor strikes late as Northbridge edge Castlegate" /
      "Northbridge United beat Castlegate Rovers 2-1") meet too. Names are cut to their first
      letters, so "Sweden" and "Swedish" give one key. A headline in capitals or Title Case, whose
      names cannot be told from its other words, has band keys only.

    Each key is a 64-bit integer (a hash of the band's values or of the pair), so the index stays
    small. At most 26 keys, each looked up in an index: the cost of finding candidates does not
    grow with the number of stored reports."""
    if not head.specific:
        return []
    # One 128-byte SHAKE digest per token gives its 32 hash values at once: a column's minimum is
    # one MinHash value (as fast as C, where 32 seeded hashes per token in Python were 250 us).
    values = [_MINHASH_VALUES.unpack(hashlib.shake_128(token.encode()).digest(_MINHASH_BYTES)) for token in head.tokens]
    signature = [min(column) for column in zip(*values, strict=True)]
    # A band's key is its number and its two values (30 bits of each) side by side: exact, no hashing.
    bands = [
        _signed64(band << 60 | (signature[2 * band] >> 2) << 30 | signature[2 * band + 1] >> 2)
        for band in range(LSH_BANDS)
    ]
    facts = _key_facts(head)
    pairs = [_hash64(f"n:{x}\x00{y}") for i, x in enumerate(facts) for y in facts[i + 1 :]]
    return bands + pairs


def name_keys(head: Headline) -> list[tuple[str, int]]:
    """Index keys for a story developing: one per name of the headline (its first five, cut as
    in `lsh_keys`), as (name, key), so that reports sharing a name and little else ("Kerala floods
    kill 12" / "Kerala flood death toll rises to 31") meet. A name is in many more reports than a
    pair of names, so these keys are looked up only within DEVELOPING_HOURS, and a name that many
    stories carry there is common (`compare`'s `common_names`). A Chinese headline's keys are
    its first MAX_READING_KEYS character pairs read in Latin letters and cut alike ("senb" for
    森白 meets "Senbai"). A headline in capitals or Title Case, or a digest of several stories,
    has none."""
    if not head.specific or head.digest:
        return []
    if head.readings:
        names = list(dict.fromkeys(reading[:NAME_PREFIX] for reading in head.readings))[:MAX_READING_KEYS]
    elif head.cased:
        names = list(dict.fromkeys(word[:NAME_PREFIX] for entity in head.entities for word in entity))[:MAX_KEY_FACTS]
    else:
        return []
    return [(name, _hash64(f"n:{name}")) for name in names]


def _hash64(text: str) -> int:
    """A stable signed 64-bit hash (SQLite's INTEGER range)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def _signed64(value: int) -> int:
    """An unsigned 64-bit value as SQLite's signed INTEGER."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _key_facts(head: Headline) -> list[str]:
    """The names, telling figures and opening place of a headline, in a form that alike ones share."""
    found: list[str] = [head.subject] if head.subject else []
    for entity in head.entities if head.cased else ():
        found.extend(word[:NAME_PREFIX] for word in entity)
    found.extend(sorted(number for number in head.numbers if _telling(number)))
    return list(dict.fromkeys(found))[:MAX_KEY_FACTS]


# Words, figures and names ---------------------------------------------------------------------


def _prepared(text: str) -> str:
    """A text with "U.N." written "UN", Chinese numerals in digits and French elisions dropped."""
    return _ELISION.sub("", _cjk_numerals(_join_acronyms(text)))


def _cjk_numerals(text: str) -> str:
    """Chinese and Japanese numerals with a ten, hundred or thousand written in digits: "四十五号"
    is "45号", as "遥感四十五号" and "遥感四十六号" are different satellites."""

    def value(found: re.Match[str]) -> str:
        total = current = 0
        for ch in found.group(0):
            if ch in _CJK_UNITS:
                total += (current or 1) * _CJK_UNITS[ch]
                current = 0
            else:
                current = _CJK_DIGITS[ch]
        return str(total + current)

    return _CJK_NUMERAL.sub(value, text)


def _join_acronyms(text: str) -> str:
    """ "U.N." written "UN"."""
    return _ACRONYM.sub(lambda found: found.group(1).replace(".", ""), text)


@functools.lru_cache(maxsize=1 << 16)
def _fold_text(text: str) -> str:
    """Case, accents and Arabic letter variants folded; "U.N." written "UN"."""
    text = _join_acronyms(text)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", folded).translate(_ARABIC_FOLD)


def _words(text: str) -> tuple[list[str], frozenset[str]]:
    """The words of a text in matching form, and its figures. In a text with lower-case letters,
    an acronym is kept even when it spells a stop word ("UN", "US")."""
    words: list[str] = []
    numbers: set[str] = set()
    if not text:
        return words, frozenset()
    previous_number = False
    text = _POSSESSIVE.sub("", _join_acronyms(text))
    cased = text.upper() != text
    for piece in _PIECE.findall(text):
        if piece[0].isdigit():
            number = _number(piece)
            words.append(number)
            numbers.add(number)
            previous_number = True
        elif piece == "%":
            if previous_number:
                words.append("percent")
        else:
            scale = SCALE_LETTERS.get(piece.lower()) if previous_number else None
            word = scale or _word_form(piece, cased)
            previous_number = False
            if word.isdigit():
                words.append(word)
                numbers.add(word)
            elif word:
                words.append(word)
    return words, frozenset(numbers)


@functools.lru_cache(maxsize=1 << 16)
def _word_form(piece: str, cased: bool) -> str:
    """One word of a text in matching form ("" for a stop word). In a text with lower-case letters,
    an acronym is kept even when it spells a stop word ("UN", "US")."""
    acronym = cased and 2 <= len(piece) <= 5 and piece.isalpha() and piece.isupper()
    word = _HYPHENATED.sub("", _fold_text(piece)).replace("'", "").replace("’", "")
    if not word.isalpha() and _DIGIT.search(word):
        word = word.replace("-", "")
    word = SYNONYMS.get(word, word)
    if acronym or word.isdigit():
        return word
    return "" if word in STOP_WORDS else _stem(word)


def _number(piece: str) -> str:
    """A figure in one spelling: "2,000" and "2.000" are 2000, "6,4" and "6.40" are 6.4."""
    digits = "".join(str(unicodedata.decimal(ch, 0)) if ch.isdigit() else ch for ch in piece)
    groups = re.split(r"[.,]", digits)
    if len(groups) > 1 and all(len(group) == 3 for group in groups[1:]):
        return str(int("".join(groups)))
    whole, fraction = "".join(groups[:-1]) if len(groups) > 1 else groups[0], groups[-1] if len(groups) > 1 else ""
    fraction = fraction.rstrip("0")
    return f"{int(whole)}.{fraction}" if fraction else str(int(whole))


def _tokens(words: list[str]) -> frozenset[str]:
    """Matching tokens: words, and character pairs for scripts written without spaces."""
    tokens: set[str] = set()
    for word in words:
        if not _CJK.search(word):
            tokens.add(word)
            continue
        for chunk in _cjk_chunks(word):
            if _CJK.match(chunk):
                tokens.update(chunk[i : i + 2] for i in range(max(1, len(chunk) - 1)))
            else:
                tokens.add(chunk)
    return frozenset(tokens)


def _cjk_chunks(word: str) -> list[str]:
    """A word split where Chinese or Japanese text meets other letters, at Japanese hiragana
    (particles and endings) and at Chinese function characters."""
    chunks: list[str] = []
    for part in _CJK_RUN.split(word):
        if not part:
            continue
        if _CJK.match(part):
            chunks.extend(_CJK_STOP.sub(" ", _HIRAGANA.sub(" ", part)).split())
        else:
            chunks.append(part)
    return chunks


@functools.lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    """Light stemming for words in Latin letters ("restructures", "restructuring"); Arabic articles
    and suffixes; other scripts as they are."""
    if _ARABIC.match(word):
        return _arabic_stem(word)
    if not word.isascii() or not word.isalpha() or len(word) <= 3:
        return word
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith(("ed", "es")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


_NOT_NAME_FORMS = NOT_NAMES | frozenset(_stem(word) for word in NOT_NAMES)
# A date or a unit tells when or how much, not what happened.
_NOT_EVENTS = frozenset(_stem(word) for word in CALENDAR | frozenset(UNITS.values()))


def _arabic_stem(word: str) -> str:
    for prefix in _ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            word = word[len(prefix) :]
            break
    for suffix in _ARABIC_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _entities(text: str) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]:
    """Runs of consecutive capitalised words, each in matching form ("Castlegate Rovers"): all of
    them, and those left without the first word of each sentence (capitalised whatever it is). In a
    text written in capitals or Title Case, where case tells nothing, every word on its own."""
    if not text:
        return (), ()
    text = _join_acronyms(text)
    caseless = _caseless(text)
    starts = {found.start(1) for found in _SENTENCE_START.finditer(text)}
    everything: list[tuple[str, ...]] = []
    later: list[tuple[str, ...]] = []
    run: list[str] = []
    later_run: list[str] = []
    end = -1
    for found in _WORD_START.finditer(text):
        word = found.group(0)
        if run and (caseless or not word[0].isupper() or text[end : found.start()].strip()):
            everything.append(tuple(run))
            run = []
        if later_run and (caseless or not word[0].isupper() or text[end : found.start()].strip()):
            later.append(tuple(later_run))
            later_run = []
        if word[0].isupper():
            name = _name_form(word)
            acronym = not caseless and 2 <= len(word) <= 5 and word.isalpha() and word.isupper()
            if name and (acronym or name not in STOP_WORDS) and name not in _NOT_NAME_FORMS:
                run.append(name)
                if found.start() not in starts:
                    later_run.append(name)
        end = found.end()
    everything.extend([tuple(run)] if run else [])
    later.extend([tuple(later_run)] if later_run else [])
    return tuple(everything), tuple(later)


def _telling(number: str) -> bool:
    """A figure of two digits or more tells one event from another ("2-1" could be any match)."""
    return len(number.replace(".", "")) > 1


def _figures_only_in(a: Headline, b: Headline) -> frozenset[str]:
    """The figures of `a`'s headline that report `b` gives nowhere."""
    return a.numbers - b.numbers - b.summary_numbers


def _plain_latin(words: Iterable[str]) -> frozenset[str]:
    """Words in plain Latin letters ("vega-x" is "vegax"), those of two letters or more."""
    return frozenset(plain for word in words if len(plain := _NOT_LATIN.sub("", word)) >= 2)


def _readings(text: str) -> tuple[str, ...]:
    """The character pairs of a text's Chinese characters, read in Latin letters, in order."""
    chunks = (chunk for chunk in _cjk_chunks(text) if _CJK.match(chunk))
    return tuple(dict.fromkeys(reading for chunk in chunks for reading in romanise.name_readings(chunk)))


def _language(title: str, summary: str) -> str:
    """A report's language as its script tells (Japanese kana, Korean, Chinese characters, Arabic),
    else as its function words and letters do ("tras", "ñ": Spanish); "" when they do not."""
    for script, language in ((_KANA, "ja"), (_HANGUL, "ko"), (_CJK, "zh"), (_ARABIC, "ar")):
        if script.search(title):
            return language
    text = f"{title} {summary}"
    words = [word for word in _LETTERS.findall(text) if word.islower()]  # "Las Vegas" is not Spanish
    text = text.lower()
    scores = {
        language: sum(word in function_words for word in words)
        + sum(letter in text for letter in LANGUAGE_LETTERS.get(language, ""))
        for language, function_words in LANGUAGE_WORDS.items()
    }
    scores["en"] += len(_POSSESSIVE.findall(text))  # "China's"
    best = max(scores.values())
    leaders = [language for language, value in scores.items() if value == best]
    return leaders[0] if best and len(leaders) == 1 else ""


def _caseless(text: str) -> bool:
    """Is the text written in capitals, or in Title Case (every word of four letters or more capitalised)?"""
    if text.upper() == text:
        return text.lower() != text
    long_words = [word for word in _WORD_START.findall(text) if len(word) >= 4]
    return len(long_words) >= 3 and all(word[0].isupper() for word in long_words)


def _name_like(word: str) -> bool:
    """A name wherever it stands: a word with a digit or a second capital ("COP31", "EU", "McKinsey"),
    or a possessive ("Senegal's president")."""
    return any(ch.isdigit() or ch.isupper() for ch in word[1:]) or bool(_POSSESSIVE.search(word))


def _initials(text: str) -> tuple[str, str]:
    """The first letters of a text's words, with and without its stop words: the initials of a run
    of words are a slice of one of them (kept as two strings: the set of every slice of two to five
    letters took 17 KB a report)."""
    words = [_fold_text(word) for word in _WORD_START.findall(text)]
    letters = "".join(word[0] for word in words)
    return letters, "".join(word[0] for word in words if word not in STOP_WORDS)


def _subject(words: list[str]) -> str:
    """The first character pair of a Chinese or Japanese headline ("" for other scripts)."""
    for word in words:
        if _CJK.search(word):
            for chunk in _cjk_chunks(word):
                if len(chunk) >= 2 and _CJK.match(chunk):
                    return chunk[:2]
    return ""


@functools.lru_cache(maxsize=1 << 16)
def _name_form(word: str) -> str:
    """A capitalised word as it is compared with another report's words."""
    folded = _fold_text(_POSSESSIVE.sub("", word))
    folded = _HYPHENATED.sub("", folded).strip("'’-").replace("'", "").replace("’", "")
    folded = SYNONYMS.get(folded, folded)
    return _stem(folded) if folded.isalpha() else folded


def _strip_decorations(text: str) -> str:
    text = _WIRE_PREFIX.sub("", text)
    text = _WIRE_TAG.sub(" ", text)
    text = _PIPE_SUFFIX.sub("", text)
    return _OUTLET_SUFFIX.sub("", text)


def _listed(values: frozenset[str]) -> str:
    return ", ".join(sorted(values)[:4])
