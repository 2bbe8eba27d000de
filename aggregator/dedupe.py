"""Identity and sameness, pure: canonical URLs, item keys, content hashes, story matching by headline.

- A *source URL* is normalised lightly (scheme and host case, default port, fragment), because two
  feeds that differ by `www.` or query may really be different feeds.
- An *article URL* is canonicalised hard (https, no `www.`/`m.`, no tracking parameters, sorted
  query, no trailing slash), because wires hand out the same article under many spellings.
- An item's key inside its source: its id/guid; else its canonical link; else a hash of title,
  date and summary.
- A headline is normalised (case, accents, punctuation and wire decorations such as "UPDATE 2-"
  and " | Outlet" removed) and compared as a set of words; see "Story matching" below.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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


# Story matching by headline -------------------------------------------------------------------
#
# A headline becomes a set of tokens: words (stop words dropped) and, for scripts written without
# spaces, character pairs. Two reports are one story when their token sets are near-identical
# (Jaccard), or one headline is nearly contained in the other (a shortened copy), unless numbers
# or names say they are different events. Candidates are found through MinHash LSH band keys kept
# in an index, so a lookup costs the same at ten thousand or ten million stored items.

STOP_WORDS = frozenset(
    """a an the of in on at to for from by with as and or but is are was were be been has have had
    it its this that these those after before over under into out up down about amid than then
    says said say tells told report reports reported new latest
    el la los las de del y en un una por para con al le les des du et une pour dans sur au aux
    der die das und im ein eine mit von zu auf für""".split()
)
UNIT_SYNONYMS = {
    "bln": "bn", "billion": "bn", "mln": "mn", "million": "mn", "trln": "tn", "trillion": "tn",
    "pct": "percent", "per": "percent", "cent": "percent", "pc": "percent",
    "u": "us", "usa": "us", "uk": "britain", "britains": "britain",
}  # fmt: skip
MIN_MATCH_TOKENS = 3
SAME_STORY_JACCARD = 0.6
SAME_STORY_CONTAINMENT = 0.85
SUMMARY_SUPPORT_JACCARD = 0.3
SUMMARY_AGREEMENT = 0.4
# Summaries sharing under this much, with different figures or names, are about different events.
SUMMARY_CONFLICT = 0.3
# Headlines this alike are one story even if their capitalised words differ ("Thai" / "Thailand").
NAMES_OVERRULED = 0.8
LSH_BANDS = 16
LSH_ROWS = 2
_PRIME = (1 << 61) - 1
_LSH_SEEDS = tuple(
    (int.from_bytes(hashlib.blake2b(f"a{i}".encode(), digest_size=8).digest(), "big") % _PRIME | 1,
     int.from_bytes(hashlib.blake2b(f"b{i}".encode(), digest_size=8).digest(), "big") % _PRIME)
    for i in range(LSH_BANDS * LSH_ROWS)
)  # fmt: skip
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# The first word of a sentence is capitalised whatever it is; in a summary it names nothing.
_FIRST_WORD = re.compile(r"^\s*[\w'’-]+")
_SENTENCE_START = re.compile(r"(?:^|[.!?;:]\s+)[\w'’-]+")
_CAPITALISED = re.compile(r"(?<![\w'’])([A-Z][\w'’-]+)")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")


@dataclass(frozen=True)
class Headline:
    """What story matching knows of a report: its words, numbers and names."""

    text: str
    tokens: frozenset[str]
    numbers: frozenset[str]
    names: frozenset[str]
    places: frozenset[str] = frozenset()
    summary_tokens: frozenset[str] = frozenset()
    summary_numbers: frozenset[str] = frozenset()
    summary_names: frozenset[str] = frozenset()

    @property
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
    stripped = _strip_decorations(unicodedata.normalize("NFKC", title).strip())
    text = normalise_headline(title)
    summary = unicodedata.normalize("NFKC", summary)
    return Headline(
        text=text,
        tokens=_tokens(text),
        numbers=_numbers(stripped),
        names=_names(stripped),
        places=_names(_FIRST_WORD.sub(" ", stripped, count=1)),
        summary_tokens=_tokens(normalise_headline(summary)) if summary else frozenset(),
        summary_numbers=_numbers(summary),
        summary_names=_names(_SENTENCE_START.sub(" ", summary)),
    )


def _numbers(text: str) -> frozenset[str]:
    return frozenset(n.replace(",", "") for n in _NUMBER.findall(text))


def _names(text: str) -> frozenset[str]:
    """Capitalised words: places, people, organisations (and, in Title Case, every word)."""
    words = (_fold(_POSSESSIVE.sub("", word)) for word in _CAPITALISED.findall(text))
    return frozenset(word for word in words if word and word not in STOP_WORDS)


def compare(a: Headline, b: Headline) -> Match:
    """Are two reports one story? Pure and symmetric."""
    if not a.specific or not b.specific:
        return Match(False, 0.0, "a headline is too short to name one event")
    shared = a.tokens & b.tokens
    jaccard = len(shared) / len(a.tokens | b.tokens)
    containment = len(shared) / min(len(a.tokens), len(b.tokens))
    score = max(jaccard, containment * SAME_STORY_JACCARD / SAME_STORY_CONTAINMENT)
    # Each headline names someone or somewhere the other never mentions: different actors.
    only_a, only_b = a.names - b.tokens - b.names, b.names - a.tokens - a.names
    if (not a.names & b.names or (only_a and only_b)) and a.names and b.names and jaccard < NAMES_OVERRULED:
        return Match(False, score, f"different names ({_listed(only_a or a.names)} / {_listed(only_b or b.names)})")
    # A rising toll in the same place is the same story; other numbers in other places are not.
    if a.numbers and b.numbers and a.numbers != b.numbers and (not a.places & b.places or jaccard < SAME_STORY_JACCARD):
        return Match(False, score, f"different numbers ({_listed(a.numbers)} / {_listed(b.numbers)})")
    summary = _jaccard(a.summary_tokens, b.summary_tokens) if a.summary_tokens and b.summary_tokens else None
    # The same headline over different facts: a recurring "Asian markets open lower", another country's bank.
    if summary is not None and summary < SUMMARY_CONFLICT and _facts_differ(a, b):
        return Match(False, score, f"the summaries give different facts ({summary:.2f} of their words shared)")
    if jaccard >= SAME_STORY_JACCARD:
        return Match(True, score, f"headlines share {len(shared)} of {len(a.tokens | b.tokens)} words")
    if containment >= SAME_STORY_CONTAINMENT and min(len(a.tokens), len(b.tokens)) >= MIN_MATCH_TOKENS + 1:
        return Match(True, score, "one headline is a shortened copy of the other")
    if summary is not None and jaccard >= SUMMARY_SUPPORT_JACCARD and summary >= SUMMARY_AGREEMENT:
        return Match(True, score, f"similar headlines and summaries ({summary:.2f} of summary words shared)")
    return Match(False, score, f"headlines share only {len(shared)} of {len(a.tokens | b.tokens)} words")


def _facts_differ(a: Headline, b: Headline) -> bool:
    """Summaries with numbers or names, none of them shared."""
    numbers = a.summary_numbers and b.summary_numbers and not a.summary_numbers & b.summary_numbers
    names = a.summary_names and b.summary_names and not a.summary_names & b.summary_names
    return bool(numbers or names)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b)


def choose_story(head: Headline, candidates: Sequence[tuple[int, Headline]]) -> int | None:
    """The story whose report matches `head` best, or None when none is the same story."""
    best: tuple[float, int] | None = None
    for story_id, other in candidates:
        match = compare(head, other)
        if match.same and (best is None or match.score > best[0]):
            best = (match.score, story_id)
    return best[1] if best else None


def lsh_keys(head: Headline) -> list[str]:
    """Index keys: two headlines with Jaccard similarity 0.5 share one with 99% probability."""
    if not head.specific:
        return []
    hashed = [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "big") for t in head.tokens]
    signature = [min((a * h + b) % _PRIME for h in hashed) for a, b in _LSH_SEEDS]
    return [
        f"{band}:"
        + hashlib.blake2b(repr(signature[band * LSH_ROWS : (band + 1) * LSH_ROWS]).encode(), digest_size=8).hexdigest()
        for band in range(LSH_BANDS)
    ]


def _tokens(text: str) -> frozenset[str]:
    tokens: set[str] = set()
    for word in text.split():
        runs = _CJK_RUN.findall(word)
        if runs:
            for run in runs:
                tokens.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
            rest = _CJK_RUN.sub(" ", word).split()
            tokens.update(_stem(w) for w in rest if w not in STOP_WORDS)
        elif word not in STOP_WORDS:
            tokens.add(_stem(word))
    return frozenset(tokens)


def _stem(word: str) -> str:
    """Spelling variants wires use for one thing: "bln"/"billion", "pct"/"percent", plurals."""
    word = UNIT_SYNONYMS.get(word, word)
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss") and not word.isdigit():
        return word[:-1]
    return word


def _strip_decorations(text: str) -> str:
    text = _WIRE_PREFIX.sub("", text)
    text = _WIRE_TAG.sub(" ", text)
    text = _PIPE_SUFFIX.sub("", text)
    return _OUTLET_SUFFIX.sub("", text)


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip("'’-")


def _listed(values: frozenset[str]) -> str:
    return ", ".join(sorted(values)[:4])
