"""Bytes and response headers to a ParsedFeed; pure (no network, no clock).

Two paths give the same result: `fastparse` reads well-formed RSS 2.0 and Atom 1.0 documents with
lxml, and feedparser reads everything else (`parse_with_feedparser`); both feed `normalise`.
feedparser is only ever given bytes, never a URL or a path. Its own sanitiser is off: HTML is
cleaned with nh3 (an allow-list sanitiser) so that no script, style, event handler or
`javascript:`/`data:` URL survives, and titles become plain text.

Bozo policy: a document feedparser could not make into a feed (no version and no entries) is a
ParseError; a feed with entries despite a problem (bad encoding declaration, a stray character)
is kept and the problem returned as a warning.
"""

from __future__ import annotations

import calendar
import email.utils
import html
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import nh3

from aggregator.exceptions import ParseError
from aggregator.types import Entry, FeedHints, FeedMeta, ParsedFeed

ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "dd",
        "del",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "time",
        "tr",
        "u",
        "ul",
    }
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "time": {"datetime"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
MAX_TITLE_CHARS = 500
MAX_HTML_CHARS = 200_000  # a summary or content longer than this is cut before sanitising
MAX_ENTRIES = 1000  # the default of [poll] max_entries
# Dates before this are unset defaults (.NET's 0001-01-01, Unix's 1970-01-01) or typing errors, not
# publication times; like dates in the future they give way to the first-seen time. Every date an
# entry keeps is between this and `now`, so arithmetic on it (windows, retention) cannot overflow.
EARLIEST_DATE = datetime(1970, 1, 2, tzinfo=UTC)
# A date later than `now` by more than this is worth a warning; a few minutes of clock skew is not.
FUTURE_WARNING = timedelta(days=1)
UNTITLED = "(untitled)"
MAX_UNESCAPES = 20

# C0/C1 controls (but tab, newline) and bidi overrides: they garble or spoof a headline.
_UNSAFE_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_WHITESPACE = re.compile(r"\s+")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
# What may come before a DOCTYPE: whitespace, comments and processing instructions (the XML
# declaration is one). The first start tag ends the prolog; other stray bytes are skipped.
_PROLOG_MARKUP = re.compile(rb"<(?:!--|\?|!doctype|[A-Za-z_:\x80-\xff])", re.IGNORECASE)
# Inside a DOCTYPE, a ">" or "]" in a quoted literal, a comment or a processing instruction ends nothing.
_DOCTYPE_TOKEN = re.compile(rb"\"[^\"]*\"|'[^']*'|<!--.*?-->|<\?.*?\?>|[\[\]>]", re.DOTALL)
# Markup a type="text" title may show as text: bare tags ("the <dialog> element") of elements that
# do nothing much when a reader renders the title as HTML, as many do.
_TEXT_TAG_LIKE = re.compile(r"<[A-Za-z/!?]")  # what an HTML parser reads as markup
_TEXT_BARE_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)\s*/?>")
# Elements that run, load or embed something, or change how the rest of a page is read.
_ACTIVE_ELEMENTS = frozenset(
    {
        "applet",
        "audio",
        "base",
        "basefont",
        "bgsound",
        "body",
        "button",
        "embed",
        "form",
        "frame",
        "frameset",
        "head",
        "html",
        "iframe",
        "image",
        "img",
        "input",
        "isindex",
        "keygen",
        "link",
        "listing",
        "math",
        "meta",
        "noembed",
        "noframes",
        "noscript",
        "object",
        "param",
        "picture",
        "plaintext",
        "portal",
        "script",
        "select",
        "source",
        "style",
        "svg",
        "template",
        "textarea",
        "title",
        "track",
        "video",
        "xmp",
    }
)
# An e-mail address, with "mailto:" and the brackets it is often written in. A handle is no
# address: "@newsdesk" has no local part, and a fediverse handle ("@jane@social.example", public
# by design) starts with "@"; a domain needs a dot.
_ADDRESS = r"(?<![\w.@+-])(?:mailto:)?[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+"
_ADDRESS_WITH_NAME = re.compile(_ADDRESS + r"\s*\(([^()]*)\)", re.IGNORECASE)  # RSS: "email (Name)"
_WRAPPED_ADDRESS = re.compile(r"(?:[(<\[]\s*)?" + _ADDRESS + r"(?:\s*[)>\]])?", re.IGNORECASE)
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|<\s*>|\[\s*\]")
_PARENTHESISED = re.compile(r"\(([^()]*)\)")
_NAME_EDGES = " ,;:|/-\u2013\u2014"
_SKIP_HOURS = re.compile(rb"<skipHours>(.*?)</skipHours>", re.DOTALL)
_SKIP_DAYS = re.compile(rb"<skipDays>(.*?)</skipDays>", re.DOTALL)
_HOUR = re.compile(rb"<hour>\s*(\d{1,2})\s*</hour>")
_DAY = re.compile(rb"<day>\s*([A-Za-z]+)\s*</day>")
_SY_PERIOD_MINUTES = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _cleaner(**options: Any) -> Callable[[str], str]:
    """nh3's sanitiser with these options, built once (nh3.clean builds one per call, most of its cost)."""
    reusable = getattr(nh3, "Cleaner", None)  # nh3 0.3 and later
    if reusable is None:
        return lambda value: nh3.clean(value, **options)
    clean: Callable[[str], str] = reusable(**options).clean
    return clean


# Everything removed but text (and script and style with their content): plain text.
_TEXT_CLEANER = _cleaner(tags=set(), clean_content_tags={"script", "style"})
_HTML_CLEANER = _cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
    url_schemes=set(URL_SCHEMES),
    link_rel="noopener noreferrer",
)


def parse_feed(
    body: bytes, headers: dict[str, str], url: str, now: datetime, max_entries: int = MAX_ENTRIES
) -> ParsedFeed:
    """Parse a fetched document; `url` resolves relative links, `now` is the first-seen time, and
    only the newest `max_entries` entries are kept.

    A well-formed RSS 2.0 or Atom 1.0 document takes the fast path (`fastparse`), whose result is
    the one the feedparser path gives; every other document goes through feedparser.
    """
    from aggregator.fastparse import fast_parse  # here: the fast path imports this module's helpers

    parsed = fast_parse(body, headers, url, now, max_entries)
    return parsed if parsed is not None else parse_with_feedparser(body, headers, url, now, max_entries)


def parse_with_feedparser(
    body: bytes, headers: dict[str, str], url: str, now: datetime, max_entries: int = MAX_ENTRIES
) -> ParsedFeed:
    """The feedparser path of `parse_feed`, for any document (the fast path's reference)."""
    import feedparser  # here, not at the top: topic rules use plain_text without needing the parser

    try:
        result = feedparser.parse(
            without_doctype(body),
            response_headers=response_headers_for(headers, url),
            sanitize_html=False,
            resolve_relative_uris=True,
        )
    except Exception as exc:  # feedparser's own bugs must not take the poll down
        raise ParseError(f"{url} could not be parsed: {type(exc).__name__}: {exc}.") from exc

    version = result.get("version", "")
    raw_entries = result.get("entries", [])
    problem = result.get("bozo_exception") if result.get("bozo") else None
    if not version and not raw_entries:
        reason = f": {problem}" if problem else ""
        kind = "an HTML page" if _looks_like_html(body) else "not an RSS or Atom feed"
        raise ParseError(f"{url} is {kind}{reason}.")
    return normalise(body, url, now, version, result.get("feed", {}), raw_entries, problem, max_entries)


def response_headers_for(headers: dict[str, str], url: str) -> dict[str, str]:
    """The response headers as feedparser is given them: lower-case names, and the document's URL
    as its Content-Location (the base of relative links) unless the server sent one."""
    response_headers = {key.lower(): value for key, value in headers.items()}
    response_headers.setdefault("content-location", url)
    return response_headers


def normalise(
    body: bytes,
    url: str,
    now: datetime,
    version: str,
    feed: Mapping[str, Any],
    raw_entries: Sequence[Mapping[str, Any]],
    problem: object | None,
    max_entries: int = MAX_ENTRIES,
) -> ParsedFeed:
    """The ParsedFeed of a parsed document, from feed-level and entry-level dicts shaped like
    feedparser's (title, title_detail, link, id, summary, content, author, tags, published_parsed,
    updated_parsed, rights, language, ttl, sy_updateperiod, sy_updatefrequency); `problem` is the
    survivable problem to report, if any. What else is worth a warning (entries cut, impossible
    dates) joins it."""
    atom = version.startswith("atom")
    meta = FeedMeta(
        title=_text_field(feed, "title", atom) or None,
        link=_http_link(feed.get("link")),
        feed_id=clean_text(feed.get("id") or "") or None,
        version=version,
        hints=feed_hints(body, feed),
        rights=_text_field(feed, "rights", atom) or None,
        updated=plausible_date(_utc(_own(feed, "updated_parsed")), now),
    )
    language = (feed.get("language") or "").strip() or None
    impossible: list[str] = []
    entries = [_entry(raw, now, atom, language, impossible) for raw in raw_entries]
    # An entry with nothing of its own (a truncated document's last half, an empty <item/>) says nothing;
    # RSS allows an item with only a description, which is kept.
    entries = [e for e in entries if e.guid or e.link or e.title != UNTITLED or e.summary or e.content]
    warnings = [f"{url}: {problem}"] if problem else []
    if impossible:
        warnings.append(
            f"{len(impossible):,} entries dated before 1970 or in the future (such as {impossible[0]!r}) are "
            "dated by when they were first seen"
        )
    if len(entries) > max_entries:
        entries = sorted(entries, key=lambda e: e.published or now, reverse=True)[:max_entries]
        warnings.append(f"{len(raw_entries):,} entries; only the newest {max_entries:,} are kept ([poll] max_entries)")
    return ParsedFeed(meta=meta, entries=tuple(entries), warning="; ".join(warnings) or None)


def without_doctype(body: bytes) -> bytes:
    """The document without its DOCTYPE: feeds need none, and an internal subset's entities are how
    a document blows up when expanded (feedparser's lenient fallback expands what expat refused).
    Only the prolog's DOCTYPE goes: "<!DOCTYPE html>" in an item's CDATA is text."""
    span = doctype_span(body)
    if span is None:
        return body
    start, end = span
    return body[:start] + body[end:]


def doctype_span(body: bytes) -> tuple[int, int] | None:
    """Where the DOCTYPE declaration of the document's prolog starts and ends, when it has one.

    The prolog is what comes before the root element's start tag: a "<!DOCTYPE" after that is
    text (in CDATA, say), never a declaration. A declaration never closed ends with the body."""
    position = 0
    while (found := _PROLOG_MARKUP.search(body, position)) is not None:
        opening = found.group().lower()
        if opening == b"<!doctype":
            return found.start(), _doctype_end(body, found.end())
        if opening not in (b"<!--", b"<?"):
            return None  # the root element
        close = body.find(b"-->" if opening == b"<!--" else b"?>", found.end())
        if close < 0:
            return None
        position = close + (3 if opening == b"<!--" else 2)
    return None


def _doctype_end(body: bytes, position: int) -> int:
    """Just after the ">" that closes a DOCTYPE going on from `position`: not one inside the
    internal subset ("[...]"), a quoted literal, a comment or a processing instruction."""
    depth = 0
    for token in _DOCTYPE_TOKEN.finditer(body, position):
        mark = token.group()
        if mark == b"[":
            depth += 1
        elif mark == b"]":
            depth = max(depth - 1, 0)
        elif mark == b">" and depth == 0:
            return token.end()
    return len(body)


def feed_hints(body: bytes, feed: Any) -> FeedHints:
    """RSS <ttl>, sy:updatePeriod/updateFrequency, skipHours and skipDays.

    feedparser keeps only the last <hour> and <day> of skipHours/skipDays, so those two are read
    from the bytes: they are flat, namespace-free RSS 2.0 elements.
    """
    ttl = _positive_int(feed.get("ttl"))
    period = _SY_PERIOD_MINUTES.get(str(feed.get("sy_updateperiod", "")).strip().lower())
    frequency = _positive_int(feed.get("sy_updatefrequency")) or 1
    skip_hours = frozenset(
        int(hour) % 24 for block in _SKIP_HOURS.findall(body) for hour in _HOUR.findall(block) if int(hour) <= 24
    )
    skip_days = frozenset(
        WEEKDAYS.index(day.decode().capitalize())
        for block in _SKIP_DAYS.findall(body)
        for day in _DAY.findall(block)
        if day.decode().capitalize() in WEEKDAYS
    )
    return FeedHints(
        ttl_minutes=ttl,
        update_minutes=period / frequency if period else None,
        skip_hours=skip_hours,
        skip_days=skip_days,
    )


def _positive_int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


def plain_text(value: str) -> str:
    """Text a person reads from HTML: tags removed, entities decoded, then `clean_text`. Repeated
    until nothing changes, so a double-escaped "&amp;lt;script&amp;gt;" cannot decode into a tag."""
    text = _without_unsafe(value[:MAX_HTML_CHARS])
    for _ in range(MAX_UNESCAPES):
        # Unsafe characters go inside the loop: removing one can join "<" to what follows it.
        decoded = _without_unsafe(html.unescape(_TEXT_CLEANER(text)))
        if decoded == text:
            break
        text = decoded
    else:
        # Escaped more times than any publisher would: whatever is still tag-like loses its "<".
        text = _TAG_START.sub("", text)
    return clean_text(text)


def clean_text(value: str) -> str:
    """Controls, bidi overrides and characters XML forbids dropped, whitespace collapsed, at most
    MAX_TITLE_CHARS."""
    text = _WHITESPACE.sub(" ", _UNSAFE_CHARACTERS.sub("", xml_safe(value))).strip()
    if len(text) > MAX_TITLE_CHARS:
        text = text[: MAX_TITLE_CHARS - 1].rstrip() + "\u2026"
    return text


def sanitise_html(value: str) -> str:
    """HTML safe to republish: allow-listed tags and attributes, http(s)/mailto links only."""
    if not value:
        return ""
    cleaned = _HTML_CLEANER(_UNSAFE_CHARACTERS.sub("", value[:MAX_HTML_CHARS]))
    # nh3 decodes character references ("&#1;"): what it decodes must still be allowed in XML.
    return _UNSAFE_CHARACTERS.sub("", xml_safe(cleaned)).strip()


def _without_unsafe(text: str) -> str:
    return _UNSAFE_CHARACTERS.sub("", xml_safe(text))


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (most C0 controls, lone surrogates, U+FFFE/F)."""
    return _XML_ILLEGAL.sub("", text)


def _entry(
    raw: Mapping[str, Any], now: datetime, atom: bool, feed_language: str | None, impossible: list[str]
) -> Entry:
    raw_summary = raw.get("summary", "")
    contents = raw.get("content") or []
    raw_content = contents[0].get("value", "") if contents else ""
    content_type = contents[0].get("type") if atom and contents else None
    summary_type = _summary_type(raw, raw_content, content_type) if atom else None
    summary = _as_html(raw_summary, summary_type)
    # feedparser copies a lone content into the summary: the same HTML is sanitised once.
    same = raw_content == raw_summary and content_type == summary_type
    content = "" if same else _as_html(raw_content, content_type)
    if content == summary:
        content = ""
    published, updated = _entry_dates(raw, now, impossible)
    return Entry(
        guid=xml_safe(raw.get("id") or "").strip() or None,
        title=_text_field(raw, "title", atom) or UNTITLED,
        link=_http_link(raw.get("link")),
        summary=summary,
        content=content,
        author=_author(raw),
        categories=tuple(
            dict.fromkeys(
                clean_text(tag.get("term") or tag.get("label") or "")
                for tag in raw.get("tags") or []
                if tag.get("term") or tag.get("label")
            )
        ),
        language=(raw.get("title_detail") or {}).get("language") or feed_language,
        published=published,
        updated=updated,
    )


def _entry_dates(
    raw: Mapping[str, Any], now: datetime, impossible: list[str]
) -> tuple[datetime | None, datetime | None]:
    """An entry's published and updated times, each None when absent or impossible; the text of
    an impossible one (far in the past or the future) goes to `impossible` for the feed's warning."""
    dates: list[datetime | None] = []
    for key in ("published", "updated"):
        text = _own(raw, key)
        moment = _utc(_own(raw, f"{key}_parsed")) or (_lenient_date(text) if isinstance(text, str) else None)
        kept = plausible_date(moment, now)
        if moment is not None and kept is None and not now < moment <= now + FUTURE_WARNING:
            impossible.append(text if isinstance(text, str) and text else moment.isoformat())
        dates.append(kept)
    published, updated = dates
    return published or updated, updated


def _lenient_date(text: str) -> datetime | None:
    """An RFC 822 date that feedparser refuses: one without a zone (read as UTC), or with a leap
    second (23:59:60, which rolls over into the next minute)."""
    parts = email.utils.parsedate_tz(text)
    if parts is None:
        return None
    try:
        seconds = calendar.timegm((*parts[:6], 0, 0, 0)) - (parts[9] or 0)
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        return None


def plausible_date(moment: datetime | None, now: datetime) -> datetime | None:
    """`moment` when a feed could mean it (from 1970 to `now`), else None: a date in the future is a
    publisher's mistake, and one before 1970 an unset default; the first-seen time is the honest one."""
    if moment is None or moment < EARLIEST_DATE or moment > now:
        return None
    return moment


def _own(record: Mapping[str, Any], key: str) -> Any:
    # dict.get, not record.get: FeedParserDict answers a missing updated_parsed with published_parsed
    # (and a DeprecationWarning); an absent date must stay absent.
    return dict.get(record, key) if isinstance(record, dict) else record.get(key)


def _summary_type(raw: Mapping[str, Any], raw_content: str, content_type: str | None) -> str | None:
    """The type an Atom entry declares for its summary: the summary's own, or its content's when
    feedparser copied a lone content into the summary (it then writes no summary_detail)."""
    detail = raw.get("summary_detail")
    if detail:
        declared: str | None = detail.get("type")
        return declared
    return content_type if raw_content == raw.get("summary", "") else None


def _as_html(value: str, kind: str | None) -> str:
    """A summary or content as HTML safe to republish: text (Atom's type="text", "text/plain")
    escaped, keeping every character; anything else is HTML and sanitised."""
    if kind == "text/plain":
        return html.escape(_without_unsafe(value[:MAX_HTML_CHARS]), quote=False).strip()
    return sanitise_html(value)


def _text_field(raw: Mapping[str, Any], name: str, atom: bool) -> str:
    """A title as plain text. Atom says its type: type="text" is text and keeps its characters
    ("The <dialog> element"; every output escapes them). RSS does not, and its titles are HTML in
    practice (feedparser's guess of "text/plain" is only a guess)."""
    value = raw.get(name, "")
    detail = raw.get(f"{name}_detail") or {}
    if atom and detail.get("type") == "text/plain":
        text = _without_unsafe(value[:MAX_HTML_CHARS])
        # Many readers render titles as HTML (RSS gives them no type): text that would be active
        # markup there ("<script>", a tag with attributes, a comment) is an attack, stripped as HTML.
        if _inert_text(text):
            return clean_text(text)
    return plain_text(value)


def _inert_text(text: str) -> bool:
    """Whether text, however often a reader decodes its character references, holds no markup but
    bare tags of elements outside _ACTIVE_ELEMENTS ("<blink>", "</p>")."""
    for _ in range(MAX_UNESCAPES):
        for match in _TEXT_TAG_LIKE.finditer(text):
            bare = _TEXT_BARE_TAG.match(text, match.start())
            if bare is None or bare.group(1).lower() in _ACTIVE_ELEMENTS:
                return False
        decoded = _without_unsafe(html.unescape(text))
        if decoded == text:
            return True
        text = decoded
    return False


def _author(raw: Mapping[str, Any]) -> str | None:
    return author_name(raw.get("author") or "")


def author_name(value: str) -> str | None:
    """An author as offthewire republishes them: the name alone, as plain text; None when there is
    no name (an author given only as an e-mail address). A republisher does not spread addresses:
    Atom's <email> (feedparser writes "Name (email)"), RSS <author> ("email (Name)", "Name (email)"),
    dc:creator ("Name <email>", "email") all lose theirs. A handle ("@newsdesk") is a name."""
    # Addresses go before and after plain_text: "&lt;j@x.example&gt;" is only an address once decoded.
    return _without_addresses(plain_text(_without_addresses(value))) or None


def _without_addresses(text: str) -> str:
    """`text` without e-mail addresses and the brackets or separators left empty by them. Each goes
    for a space, so that no "<" is joined to what followed the address."""
    text = _ADDRESS_WITH_NAME.sub(r" \1 ", text)
    text = _EMPTY_BRACKETS.sub(" ", _WRAPPED_ADDRESS.sub(" ", text))
    text = _WHITESPACE.sub(" ", text).strip(_NAME_EDGES)
    parenthesised = _PARENTHESISED.fullmatch(text)
    return parenthesised.group(1).strip(_NAME_EDGES) if parenthesised else text


def _utc(parsed: time.struct_time | None) -> datetime | None:
    if not parsed:
        return None
    try:  # timegm, not fromtimestamp alone: a leap second (23:59:60) rolls over into the next minute
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=calendar.timegm(parsed))
    except (OverflowError, ValueError, TypeError):
        return None


def _http_link(value: Any) -> str | None:
    if isinstance(value, str):
        link = _UNSAFE_CHARACTERS.sub("", xml_safe(value)).strip()
        if link.lower().startswith(("http://", "https://")) and not _WHITESPACE.search(link):
            return link
    return None


def _looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head
